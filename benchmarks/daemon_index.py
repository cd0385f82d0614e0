"""Indexing through the daemon against standalone, and queries while the daemon indexes (issue 16),
side by side in one run on one standard-library slice:

1. standalone `CIDX_NO_DAEMON=1 cidx index` from an empty index: wall time, chunks/s, peak RSS;
2. the same through a warm daemon (`cidx index` with the daemon on): wall time, chunks/s, the
   daemon's peak RSS (VmHWM);
3. `cidx query` (semantic, the CLI as a user runs it) against the warm daemon: idle, then while
   the daemon indexes more packages added to the slice (never embedded before, so the run does
   real work while the queries are answered from the slice's index): p50 / p99.

    .venv/bin/python benchmarks/daemon_index.py [--quick]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

SLICE = ("email", "http", "json", "logging", "xml/dom", "urllib", "argparse.py", "csv.py", "textwrap.py",
         "shlex.py")
QUICK_SLICE = ("json", "csv.py", "textwrap.py", "shlex.py")
EXTRA = ("asyncio", "multiprocessing")  # added for step 3: indexed while the queries run
QUICK_EXTRA = ("concurrent",)
QUERIES = ("parse a header into its parts", "send an email message over smtp", "decode a json document",
           "split a command line like a shell", "wrap text to a width", "read rows of a csv file")


def make_slice(source: Path, root: Path, parts) -> int:
    """A fresh `root` holding `parts` of `source`; returns its number of Python files."""
    if root.exists():
        shutil.rmtree(root)
    common.copy_parts(source, root, parts)
    return sum(1 for _ in root.rglob("*.py"))


def peak_rss_of_child(argv, *, cwd: Path, env: dict) -> tuple[float, int, str]:
    """Wall seconds, the child's peak RSS (ru_maxrss, bytes) and its stderr."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed: {err[-2000:]}")
    return seconds, usage.ru_maxrss * 1024, err


def vm_hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def query_latencies(ws, stop: threading.Event, limit: int) -> list[float]:
    out, i = [], 0
    while not stop.is_set() and len(out) < limit:
        t = time.perf_counter()
        common.run(common.query_argv("semantic", QUERIES[i % len(QUERIES)], "--limit", "10"), cwd=ws.root)
        out.append(time.perf_counter() - t)
        i += 1
    return out


def run(ctx: common.Context) -> dict:
    source = Path(ctx.args.repo) if getattr(ctx.args, "repo", None) else common.DEFAULT_REPO
    root = ctx.out_dir / "work" / "daemon-index-slice"
    parts = QUICK_SLICE if ctx.quick else SLICE
    files = make_slice(source, root, parts)
    ws = common.Workspace(root, source, (), ctx.quick, files, sum(p.stat().st_size for p in root.rglob("*") if p.is_file()))
    load = [common.loadavg()]

    # 1. standalone from empty
    common.cidx_init(ws, daemon=False)
    env = common.bench_env(CIDX_NO_DAEMON="1")
    alone_s, alone_rss, _ = peak_rss_of_child([*common.CIDX, "index"], cwd=root, env=env)
    _, chunks = common.index_counts(ws)
    common.log(f"daemon_index: standalone {chunks:,} chunks in {alone_s:.1f} s, peak RSS {alone_rss / 1e6:.0f} MB")

    # 2. through a warm daemon, from empty
    shutil.rmtree(ws.index_dir)
    common.cidx_init(ws, daemon=True)
    with common.Daemon(ws) as daemon:
        common.run([*common.CIDX, "status"], cwd=root)  # the daemon is up and serving
        daemon_s, _ = common.time_cmd([*common.CIDX, "index"], cwd=root, timeout=7200)
        pid = int(daemon.status()["pid"])
        daemon_rss = vm_hwm(pid)
        common.log(f"daemon_index: through the daemon {daemon_s:.1f} s, daemon peak RSS {daemon_rss / 1e6:.0f} MB")

        # 3. queries idle, then while the daemon indexes packages new to the slice
        idle = query_latencies(ws, threading.Event(), 60)
        common.copy_parts(source, root, QUICK_EXTRA if ctx.quick else EXTRA)
        during, stop = [], threading.Event()
        worker = threading.Thread(target=lambda: during.extend(query_latencies(ws, stop, 10_000)))
        worker.start()
        busy_s, _ = common.time_cmd([*common.CIDX, "index"], cwd=root, timeout=7200)
        stop.set()
        worker.join()
        _, chunks_after = common.index_counts(ws)
    load.append(common.loadavg())
    idle_st, during_st = common.stats(idle), common.stats(during)
    t1 = common.table(
        f"daemon_index: full index of {files} files ({chunks:,} chunks) of {source}",
        ["run", "wall s", "chunks/s", "peak RSS MB"],
        [["standalone (CIDX_NO_DAEMON=1 cidx index)", alone_s, chunks / alone_s, alone_rss / 1e6],
         ["through the daemon (cidx index)", daemon_s, chunks / daemon_s, daemon_rss / 1e6],
         ["daemon / standalone, time", f"{daemon_s / alone_s:.2f}x", "", ""]],
        note="both from an empty index (embedding cache included); peak RSS: the indexing process's "
             f"ru_maxrss, the daemon's VmHWM; load average {load[0]} -> {load[1]}")
    t2 = common.table(
        "daemon_index: warm semantic `cidx query` end to end, ms",
        ["when", "queries", "p50", "p99", "max"],
        [["daemon idle", idle_st["n"], idle_st["median"] * 1e3, idle_st["p99"] * 1e3, idle_st["max"] * 1e3],
         [f"daemon indexing {chunks_after - chunks:,} new chunks ({busy_s:.0f} s)", during_st["n"], during_st["median"] * 1e3,
          during_st["p99"] * 1e3, during_st["max"] * 1e3]],
        note="one client issuing queries back to back; each is a fresh `cidx query` process")
    return {"section": "daemon_index", "tables": [t1, t2],
            "raw": {"files": files, "chunks": chunks, "standalone_s": alone_s, "standalone_peak_rss": alone_rss,
                    "daemon_s": daemon_s, "daemon_peak_rss": daemon_rss, "idle_s": idle, "during_s": during,
                    "busy_index_s": busy_s, "busy_chunks": chunks_after - chunks, "loadavg": load}, "checks": []}


if __name__ == "__main__":
    sys.exit(common.standalone_main("daemon_index", run, __doc__))
