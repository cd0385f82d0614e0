"""Section `cli_e2e`: `cidx query` end to end as a subprocess with a warm daemon (semantic and FTS,
default output and --quiet) beside `python -c pass`, the standalone query
(CIDX_NO_DAEMON=1) and `rg` when installed, interleaved in shuffled rounds; then where the time goes
on the fast path: a probe timing each step in a fresh interpreter, `python -X importtime`, and which
heavy modules the client imported."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

PROBE = Path(__file__).resolve().parent / "probes" / "fast.py"
HEAVY = ("click", "rich", "numpy", "tantivy", "hnswlib", "tokenizers", "safetensors", "transitions", "rpyc")
FORBIDDEN = ("click", "rich", "numpy", "tantivy", "hnswlib")  # DESIGN.md §6 fast path imports
BUDGET_MS = 50.0
BUDGET_X_PASS = {"semantic": 3.0, "fts": 2.2}  # DESIGN.md §6, plain pip install
BUDGET_X_STANDALONE = 10.0
IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def _importtime_argv(args: list[str]) -> list[str]:
    if len(common.CIDX) == 1:
        return [common.PYTHON, "-X", "importtime", common.CIDX[0], *args]
    return [common.PYTHON, "-X", "importtime", "-m", "cidx", *args]


def _parse_importtime(stderr: str) -> dict[str, float]:
    """Top-level imports (nesting 0) -> cumulative ms."""
    top = {}
    for line in stderr.splitlines():
        m = IMPORTTIME.match(line)
        if m and len(m.group(3)) <= 1:
            top[m.group(4)] = top.get(m.group(4), 0.0) + int(m.group(2)) / 1e3
    return top


def run(ctx: common.Context) -> dict:
    ws = ctx.ws
    common.cidx_init(ws, daemon=True)
    files, chunks = common.ensure_indexed(ws)
    runs = ctx.pick(30, 10)
    standalone_runs = ctx.pick(30, 6)
    probe_runs = ctx.pick(10, 4)
    sem, fts = common.SEMANTIC_QUERIES[0], common.FTS_QUERIES[0]
    env = common.bench_env()
    env_standalone = common.bench_env(CIDX_NO_DAEMON="1")
    commands = {
        "python -c pass": ([common.PYTHON, "-c", "pass"], env),  # run outside the workspace (see below)
        "daemon: semantic": (common.query_argv("semantic", sem), env),
        "daemon: fts": (common.query_argv("fts", fts), env),
        "daemon: semantic --quiet": (common.query_argv("semantic", sem, "--quiet"), env),
        "daemon: fts --quiet": (common.query_argv("fts", fts, "--quiet"), env),
        "standalone: semantic": (common.query_argv("semantic", sem), env_standalone),
        "standalone: fts": (common.query_argv("fts", fts), env_standalone),
    }
    rg = shutil.which("rg")
    if rg:
        commands["rg (floor)"] = ([rg, "-n", "-i", "--no-heading", fts.split()[0], "."], env)
    load_before = common.loadavg()
    samples: dict[str, list[float]] = {k: [] for k in commands}
    fallbacks = 0
    probes: dict[str, list[dict]] = {"semantic": [], "fts": [], "fts --quiet": []}
    probe_wall: dict[str, list[float]] = {k: [] for k in probes}
    importtimes: dict[str, list[dict]] = {"default output": [], "--quiet": []}
    rng = random.Random(7)

    def _cwd(name: str) -> Path:
        # `python -c` puts its cwd on sys.path, and the workspace may be a copy of the standard library
        return ctx.out_dir if name.startswith("python") else ws.root

    with common.Daemon(ws) as daemon:
        for name, (argv, e) in commands.items():  # warm-up: daemon cache, page cache
            for _ in range(2):
                _, err = common.time_cmd(argv, cwd=_cwd(name), env=e)
                if name.startswith("daemon") and "daemon unavailable" in err:
                    raise RuntimeError(f"{name}: the fast path fell back: {err.strip()}")
        common.log(f"cli_e2e: {runs} interleaved rounds ({standalone_runs} with the standalone queries)")
        for r in range(runs):
            order = [k for k in commands if not k.startswith("standalone") or r < standalone_runs]
            rng.shuffle(order)
            for name in order:
                argv, e = commands[name]
                seconds, err = common.time_cmd(argv, cwd=_cwd(name), env=e)
                if name.startswith("daemon") and "daemon unavailable" in err:
                    fallbacks += 1
                samples[name].append(seconds)
        for r in range(len(samples["standalone: semantic"]), standalone_runs):  # if runs < standalone_runs
            for name in ("python -c pass", "standalone: semantic", "standalone: fts"):
                argv, e = commands[name]
                samples[name].append(common.time_cmd(argv, cwd=_cwd(name), env=e)[0])

        common.log(f"cli_e2e: fast-path probe x{probe_runs}, -X importtime x{probe_runs}")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "phases.json"
            probe_args = {"semantic": [sem], "fts": [fts, "--fts"], "fts --quiet": [fts, "--fts", "--quiet"]}
            for _ in range(probe_runs):
                for key, args in probe_args.items():
                    launched = time.perf_counter()
                    seconds, err = common.time_cmd([common.PYTHON, str(PROBE), str(out), *args], cwd=ws.root, env=env)
                    probe_wall[key].append(seconds)
                    phases = json.loads(out.read_text())
                    perf_end = float(re.search(r"perf_end (\S+)", err).group(1))
                    phases = {"interpreter start (to the probe's first line)": (phases.pop("_perf_start") - launched) * 1e3,
                              **phases, "interpreter exit (after its last line)": (launched + seconds - perf_end) * 1e3}
                    probes[key].append(phases)
        for _ in range(probe_runs):
            for key, extra in (("default output", []), ("--quiet", ["--quiet"])):
                proc = subprocess.run(_importtime_argv(["query", fts, "--fts", *extra]), cwd=ws.root, env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, check=True)
                importtimes[key].append(_parse_importtime(proc.stderr))
        status = daemon.status()

    st = {k: common.stats(v) for k, v in samples.items()}
    base = st["python -c pass"]["median"]
    d_sem, d_fts = st["daemon: semantic"]["median"], st["daemon: fts"]["median"]
    s_sem, s_fts = st["standalone: semantic"]["median"], st["standalone: fts"]["median"]
    rows = []
    for name, s in st.items():
        rows.append([name, s["n"], s["median"] * 1e3, s["p90"] * 1e3, s["min"] * 1e3,
                     f"{s['median'] / base:.1f}x"])
    if not rg:
        rows.append(["rg (floor)", "-", "-", "-", "-", "not installed"])
    t1 = common.table("cli_e2e: `cidx query` end to end, ms per process (interleaved, shuffled rounds)",
                      ["command", "runs", "median", "p90", "min", "/ pass"], rows,
                      note=f"index: {files:,} files, {chunks:,} chunks; stdout to a pipe (default output is then "
                           f"uncolored text); fast-path fallbacks seen: {fallbacks}")
    t2 = common.table("cli_e2e: ratios (medians, same run)", ["ratio", "semantic", "fts"], [
        ["daemon / python -c pass", f"{d_sem / base:.1f}x", f"{d_fts / base:.1f}x"],
        ["standalone / daemon", f"{s_sem / d_sem:.1f}x", f"{s_fts / d_fts:.1f}x"],
        ["daemon - python -c pass, ms", (d_sem - base) * 1e3, (d_fts - base) * 1e3],
    ])

    # where the time goes: probe phases
    names: list[str] = []
    for key in probes:
        for d in probes[key]:
            for k in d:
                if not k.startswith("_") and k not in names:
                    names.append(k)
    rows = []
    for k in names:
        rows.append([k, *[common.percentile([d[k] for d in probes[key] if k in d], 50)
                          if any(k in d for d in probes[key]) else "-" for key in probes]])
    inproc = {key: common.percentile([d["_in_process_total"] for d in probes[key]], 50) for key in probes}
    wall = {key: common.percentile(probe_wall[key], 50) * 1e3 for key in probes}
    rows.append(["(in-process total: the steps above)", *[inproc[k] for k in probes]])
    rows.append(["probe wall total", *[wall[k] for k in probes]])
    rows.append(["(python -c pass, same run)", *[base * 1e3] * len(probes)])
    server = {key: {ph: common.percentile([d["_server_timings"].get(ph, 0.0) for d in probes[key]], 50)
                    for ph in ("embed", "search")} for key in probes}
    rows.append(["  of which daemon embed (server)", *[server[k]["embed"] for k in probes]])
    rows.append(["  of which daemon search (server)", *[server[k]["search"] for k in probes]])
    t3 = common.table("cli_e2e: where the time goes on the fast path, ms (medians of fresh-process probes)",
                      ["step", *probes], rows,
                      note="the probe makes the calls of cidx/entry.py + cidx/fastpath/query.py in order; "
                           f"code pack used in {sum(d.get('_code_pack', False) for k in probes for d in probes[k])}"
                           f" of {sum(len(probes[k]) for k in probes)} probes (cidx/fastpath/code_pack.py)")

    # importtime: top-level imports by median cumulative time
    agg = {}
    for key, runs_ in importtimes.items():
        mods = {m for r in runs_ for m in r}
        agg[key] = {m: common.percentile([r.get(m, 0.0) for r in runs_], 50) for m in mods}
    top = sorted(agg["default output"].items(), key=lambda kv: -kv[1])[:14]
    rows = [[m, v, agg["--quiet"].get(m, 0.0)] for m, v in top]
    rows.append(["(sum of top-level imports)", sum(agg["default output"].values()), sum(agg["--quiet"].values())])
    t4 = common.table("cli_e2e: `python -X importtime cidx query --fts`, top-level imports, cumulative ms (median)",
                      ["module", "default output", "--quiet"], rows)

    modules = {key: set(probes[key][-1]["_modules"]) for key in probes}
    heavy_rows = [[key, ", ".join(h for h in HEAVY if h in modules[key]) or "none"] for key in probes]
    t5 = common.table("cli_e2e: heavy modules imported by the fast-path client", ["probe", "imported"], heavy_rows,
                      note=f"checked: {', '.join(HEAVY)}")
    quiet_bad = [h for h in FORBIDDEN if h in modules["fts --quiet"]]
    default_bad = [h for h in FORBIDDEN if h in modules["semantic"] or h in modules["fts"]]
    checks = [
        common.check("cli e2e semantic, daemon warm", f"<= {BUDGET_MS:.0f} ms median", f"{d_sem * 1e3:.1f} ms",
                     d_sem * 1e3 <= BUDGET_MS),
        common.check("cli e2e FTS, daemon warm", f"<= {BUDGET_MS:.0f} ms median", f"{d_fts * 1e3:.1f} ms",
                     d_fts * 1e3 <= BUDGET_MS),
        common.check("cli e2e semantic / python -c pass", f"<= {BUDGET_X_PASS['semantic']}x", f"{d_sem / base:.2f}x",
                     d_sem / base <= BUDGET_X_PASS["semantic"]),
        common.check("cli e2e FTS / python -c pass", f"<= {BUDGET_X_PASS['fts']}x", f"{d_fts / base:.2f}x",
                     d_fts / base <= BUDGET_X_PASS["fts"]),
        common.check("standalone / daemon, semantic", f">= {BUDGET_X_STANDALONE:.0f}x", f"{s_sem / d_sem:.1f}x",
                     s_sem / d_sem >= BUDGET_X_STANDALONE),
        common.check("standalone / daemon, FTS", f">= {BUDGET_X_STANDALONE:.0f}x", f"{s_fts / d_fts:.1f}x",
                     s_fts / d_fts >= BUDGET_X_STANDALONE),
        common.check("fast path imports (--quiet)", "no " + ", ".join(FORBIDDEN),
                     ", ".join(quiet_bad) or "none of them", not quiet_bad),
        common.check("fast path imports (default output)", "no " + ", ".join(FORBIDDEN),
                     ", ".join(default_bad) or "none of them", not default_bad),
    ]
    if fallbacks:
        checks.append(common.check("fast path used the daemon", "0 fallbacks", str(fallbacks), False))
    return {"section": "cli_e2e", "tables": [t1, t2, t3, t4, t5],
            "raw": {"seconds": samples, "stats": st, "probe_phases_ms": probes, "probe_wall_s": probe_wall,
                    "importtime_top_ms": agg, "modules": {k: sorted(v) for k, v in modules.items()},
                    "rg": rg, "fallbacks": fallbacks, "status_after": status,
                    "loadavg": [load_before, common.loadavg()]},
            "checks": checks}


if __name__ == "__main__":
    sys.exit(common.standalone_main("cli_e2e", run, __doc__))
