"""Section `memory`: the daemon's RSS (get_status -> rss_bytes) right after start, after warm-up and
while it serves 10,000 mixed semantic/FTS/hybrid queries (--quick: 1,000) from two clients that
open a fresh connection every 100 queries (as many `cidx query` processes would); growth in MB."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

MODES = ("semantic", "fts", "hybrid")
BUDGET_MB = 20.0
CLIENTS = 2
PER_CONNECTION = 100


def run(ctx: common.Context) -> dict:
    ws = ctx.ws
    common.cidx_init(ws, daemon=True)
    files, chunks = common.ensure_indexed(ws)
    total = ctx.pick(10_000, 1_000)
    warmup = 300
    sample_every = max(total // 20, 50)
    params = {m: [common.wire_params(m, common.query_text(m, i)) for i in range(10)] for m in MODES}
    root = str(ws.root)
    load_before = common.loadavg()
    samples: list[tuple[int, float, int]] = []  # (queries done, seconds, rss bytes)
    errors: list[str] = []
    with common.Daemon(ws) as daemon:
        rss_start = daemon.status()["rss_bytes"]
        conn = daemon.connect("wire")
        for i in range(warmup):
            m = MODES[i % 3]
            conn.call("cli_query", root, params[m][(i // 3) % 10])
        conn.close()
        rss_warm = daemon.status()["rss_bytes"]
        common.log(f"memory: RSS {rss_start / 1e6:.0f} MB at start, {rss_warm / 1e6:.0f} MB after {warmup} "
                   f"warm-up queries; now {total:,} queries")
        done = [0]
        lock = threading.Lock()
        started = time.perf_counter()
        samples.append((0, 0.0, rss_warm))

        def worker(k: int) -> None:
            i = k
            conn = None
            while True:
                with lock:
                    if done[0] >= total:
                        break
                    done[0] += 1
                    n = done[0]
                if conn is None or n % PER_CONNECTION == 0:
                    if conn is not None:
                        conn.close()
                    conn = daemon.connect("wire")
                m = MODES[i % 3]
                try:
                    conn.call("cli_query", root, params[m][(i // 3) % 10])
                except Exception as exc:
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                    conn.close()
                    conn = None
                i += CLIENTS
                if k == 0 and n // sample_every != (n - 1) // sample_every:
                    samples.append((n, time.perf_counter() - started, daemon.status()["rss_bytes"]))
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        status = daemon.status()
        rss_end = status["rss_bytes"]
        samples.append((total, elapsed, rss_end))
    growth = (rss_end - rss_warm) / 1e6
    peak = max(s[2] for s in samples)
    t1 = common.table(
        f"memory: daemon RSS over {total:,} queries (mixed semantic/FTS/hybrid)",
        ["at start MB", f"after {warmup} warm-up MB", f"after {total:,} MB", "peak MB", "growth MB",
         "queries/s", "errors"],
        [[rss_start / 1e6, rss_warm / 1e6, rss_end / 1e6, peak / 1e6, growth, total / elapsed, len(errors)]],
        note=f"growth = end - after warm-up; {CLIENTS} clients, a new connection every {PER_CONNECTION} queries; "
             f"index: {files:,} files, {chunks:,} chunks; "
             f"RSS samples (MB): {', '.join(f'{s[2] / 1e6:.0f}' for s in samples[::max(len(samples) // 8, 1)])}")
    label = f"< {BUDGET_MB:.0f} MB over 10,000 queries"
    checks = [common.check("memory growth", label, f"{growth:+.1f} MB over {total:,} queries",
                           growth < BUDGET_MB and not errors,
                           "" if total >= 10_000 else "(quick: fewer queries than the budget's 10,000)")]
    return {"section": "memory", "tables": [t1],
            "raw": {"queries": total, "rss_start": rss_start, "rss_warm": rss_warm, "rss_end": rss_end,
                    "growth_mb": growth, "samples": samples, "errors": errors[:10], "elapsed_s": elapsed,
                    "status_after": status, "loadavg": [load_before, common.loadavg()]},
            "checks": checks}


if __name__ == "__main__":
    sys.exit(common.standalone_main("memory", run, __doc__))
