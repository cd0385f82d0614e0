"""Daemon memory over many incremental re-index cycles (issue 16): a warm daemon on a small
standard-library slice; each cycle edits one file (a line appended), runs `cidx index` through the
daemon and one semantic query; the daemon's RSS (from its status) is sampled every cycle.
Prints RSS at cycles 1, 10, 50, 100, ... and the growth over the first 100 and over the last 20%.

    .venv/bin/python benchmarks/daemon_rss_cycles.py --cycles 500
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

SLICE = ("json", "csv.py", "textwrap.py", "shlex.py")
EDITED = ("json/decoder.py", "csv.py", "textwrap.py", "shlex.py")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cycles", type=int, default=500)
    p.add_argument("--out", type=Path, default=common.BENCH_DIR / "out")
    args = p.parse_args()
    common.install_cleanup()
    root = args.out.resolve() / "work" / "daemon-rss-cycles"
    if root.exists():
        shutil.rmtree(root)
    common.copy_parts(common.DEFAULT_REPO, root, SLICE)
    ws = common.Workspace(root, common.DEFAULT_REPO, (), True, 0, 0)
    common.cidx_init(ws, daemon=True)
    originals = {rel: (root / rel).read_text() for rel in EDITED}
    samples: list[tuple[int, int]] = []
    t0 = time.perf_counter()
    try:
        with common.Daemon(ws) as daemon:
            common.run([*common.CIDX, "index"], cwd=root, timeout=3600)
            for cycle in range(1, args.cycles + 1):
                rel = EDITED[cycle % len(EDITED)]
                (root / rel).write_text(originals[rel] + f"\n# edit {cycle}\n")
                common.run([*common.CIDX, "index"], cwd=root, timeout=600)
                common.run(common.query_argv("semantic", common.query_text("semantic", cycle)), cwd=root)
                samples.append((cycle, int(daemon.status()["rss_bytes"])))
                if cycle % 50 == 0:
                    common.log(f"cycle {cycle}: daemon RSS {samples[-1][1] / 1e6:.1f} MB")
            status = daemon.status()
    finally:
        common.stop_all_daemons()
    rss = dict(samples)
    marks = [c for c in (1, 10, 50, 100, 200, 300, 400, 500, args.cycles) if c in rss]
    tail = samples[int(len(samples) * 0.8):]
    rows = [[c, rss[c] / 1e6] for c in sorted(set(marks))]
    print(common.render_table(common.table(
        f"daemon RSS over {args.cycles} incremental re-index cycles through the daemon, MB",
        ["cycle", "RSS MB"], rows,
        note=f"each cycle: one file edited, `cidx index` through the daemon, one semantic query; "
             f"{time.perf_counter() - t0:.0f} s in all; load {common.loadavg()}; "
             f"segments held at the end {status.get('segments_held')}, disk loads {status.get('disk_loads')}")))
    first = [r for c, r in samples if c <= 100]
    print(f"growth over cycles 1-100: {(max(first) - first[0]) / 1e6:+.1f} MB; "
          f"over the last {len(tail)} cycles: {(tail[-1][1] - tail[0][1]) / 1e6:+.1f} MB "
          f"(min {min(r for _, r in tail) / 1e6:.1f}, max {max(r for _, r in tail) / 1e6:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
