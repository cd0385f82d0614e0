"""Run the cidx benchmarks and print one table per section plus a budget summary (DESIGN.md §6).

    .venv/bin/python benchmarks/run_all.py [--repo PATH] [--exclude a,b] [--quick] [--out DIR]
                                           [--only index,cli_e2e,...]

Writes OUT/results.json (and a timestamped copy) with the raw figures, and OUT/benchmarks.png when
matplotlib is importable (`pip install '.[bench]'`). See benchmarks/README.md.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402


def _git_head() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.PROJECT_DIR, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=common.PROJECT_DIR,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> int:
    common.install_cleanup()
    args = common.build_parser(__doc__.split("\n\n")[0], with_only=True).parse_args()
    sections = list(common.SECTIONS)
    if args.only:
        sections = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in sections if s not in common.SECTIONS]
        if unknown:
            raise SystemExit(f"--only: unknown section(s) {', '.join(unknown)}; known: {', '.join(common.SECTIONS)}")
    started = time.time()
    common.compile_bytecode()
    ctx = common.make_context(args)
    import cidx

    meta = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "cidx_version": cidx.__version__, "git": _git_head(), "python": platform.python_version(),
        "executable": common.PYTHON, "platform": platform.platform(), "cpus": os.cpu_count(),
        "nice": os.nice(0), "loadavg_start": common.loadavg(), "quick": args.quick,
        "repo": str(ctx.ws.source), "excludes": list(ctx.ws.excludes), "workspace": str(ctx.ws.root),
        "files_copied": ctx.ws.files, "bytes_copied": ctx.ws.bytes, "sections": sections,
    }
    print(f"cidx {meta['cidx_version']} ({meta['git']}) · Python {meta['python']} · {meta['cpus']} CPUs · "
          f"nice {meta['nice']} · load {meta['loadavg_start']} · {'QUICK' if args.quick else 'full'} run")
    print(f"repository: {ctx.ws.describe()}\n", flush=True)

    results: dict[str, dict] = {}
    durations: dict[str, float] = {}
    try:
        for name in sections:
            common.log(f"=== section {name} ===")
            t0 = time.perf_counter()
            try:
                module = importlib.import_module(f"benchmarks.{name}")
                results[name] = module.run(ctx)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                traceback.print_exc()
                results[name] = {"section": name, "error": f"{exc.__class__.__name__}: {exc}", "tables": [],
                                 "checks": [common.check(f"section {name}", "runs", f"error: {exc}", False)]}
            finally:
                common.stop_all_daemons()
            durations[name] = time.perf_counter() - t0
            common.print_result(results[name])
    finally:
        common.stop_all_daemons()

    checks = [c for r in results.values() for c in r.get("checks", [])]
    summary = common.table("summary: budget checks (DESIGN.md §6)", ["check", "budget", "measured", "result"],
                           [[c["check"], c["budget"], (c["measured"] + (" " + c["note"] if c["note"] else "")),
                             c["status"]] for c in checks], left=True)
    timing = common.table("summary: section run times", ["section", "seconds"],
                          [[k, v] for k, v in durations.items()] + [["total", time.time() - started]])
    print(common.render_table(summary))
    print()
    print(common.render_table(timing))

    meta["loadavg_end"] = common.loadavg()
    meta["seconds"] = time.time() - started
    data = {"meta": meta, "sections": results, "checks": checks, "section_seconds": durations}
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    path = ctx.out_dir / "results.json"
    common.write_json(path, data)
    common.write_json(ctx.out_dir / f"results-{stamp}{'-quick' if args.quick else ''}.json", data)
    print(f"\nraw figures: {path}")
    try:
        from benchmarks import plot

        png = plot.plot(data, ctx.out_dir / "benchmarks.png")
        print(f"chart: {png}")
    except ImportError:
        print("chart: skipped (matplotlib not installed: `pip install '.[bench]'`, or run "
              f"`python benchmarks/plot.py {path}` with a Python that has it)")
    except Exception as exc:  # a chart problem must not lose the run
        print(f"chart: failed ({exc.__class__.__name__}: {exc})")
    failed = [c for c in checks if c["status"] == "FAIL"]
    errors = [r for r in results.values() if "error" in r]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} budget checks passed"
          + (f"; {len(errors)} section(s) failed to run" if errors else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
