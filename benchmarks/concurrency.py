"""Section `concurrency`: 1, 2, 5, 10 and 20 clients at once against one warm daemon, each a thread
with its own wire connection (what `cidx query` uses), querying back to back for a fixed time with
semantic, FTS and hybrid queries in turn: queries/s, p50/p99 latency, errors (must be 0)."""

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
LEVELS = (1, 2, 5, 10, 20)
BUDGET_CLIENTS = 10
BUDGET_QPS = 100.0


def _level(daemon: common.Daemon, root: str, params: dict, clients: int, duration: float) -> dict:
    conns = [daemon.connect("wire") for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    results = [None] * clients
    stop_at = [0.0]

    def worker(idx: int) -> None:
        conn = conns[idx]
        lat = {m: [] for m in MODES}
        errors: list[str] = []
        i = idx  # clients start at different queries
        barrier.wait()
        while True:
            m = MODES[i % 3]
            p = params[m][(i // 3) % len(params[m])]
            t0 = time.perf_counter()
            if t0 >= stop_at[0]:
                break
            try:
                reply = conn.call("cli_query", root, p)
                if not isinstance(reply, tuple):
                    raise TypeError(f"reply of type {type(reply).__name__}")
                lat[m].append(time.perf_counter() - t0)
            except Exception as exc:  # counted, never fatal: the error count is the finding
                errors.append(f"{exc.__class__.__name__}: {exc}")
            i += 1
        results[idx] = (lat, errors)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 1e9
    barrier.wait()
    started = time.perf_counter()
    stop_at[0] = started + duration
    for t in threads:
        t.join(timeout=duration + 120)
    elapsed = time.perf_counter() - started  # includes the last in-flight queries
    for c in conns:
        c.close()
    lat_all, per_mode, errors = [], {m: [] for m in MODES}, []
    for r in results:
        if r is None:
            errors.append("a client thread did not finish")
            continue
        for m in MODES:
            per_mode[m].extend(r[0][m])
            lat_all.extend(r[0][m])
        errors.extend(r[1])
    return {"clients": clients, "elapsed_s": elapsed, "queries": len(lat_all), "qps": len(lat_all) / elapsed,
            "latency": common.stats(lat_all), "per_mode": {m: common.stats(v) for m, v in per_mode.items()},
            "errors": len(errors), "error_samples": errors[:5]}


def run(ctx: common.Context) -> dict:
    ws = ctx.ws
    common.cidx_init(ws, daemon=True)
    files, chunks = common.ensure_indexed(ws)
    duration = ctx.pick(10.0, 3.0)
    params = {m: [common.wire_params(m, common.query_text(m, i)) for i in range(10)] for m in MODES}
    root = str(ws.root)
    levels = []
    load_before = common.loadavg()
    with common.Daemon(ws) as daemon:
        warm = daemon.connect("wire")
        for m in MODES:
            for p in params[m][:3]:
                warm.call("cli_query", root, p)
        warm.close()
        for clients in LEVELS:
            common.log(f"concurrency: {clients} clients for {duration:.0f}s")
            levels.append(_level(daemon, root, params, clients, duration))
        status = daemon.status()
    rows = []
    for lv in levels:
        s = lv["latency"]
        rows.append([lv["clients"], lv["queries"], lv["qps"], s["median"] * 1e3, s["p90"] * 1e3, s["p99"] * 1e3,
                     *[lv["per_mode"][m]["median"] * 1e3 for m in MODES], lv["errors"]])
    t1 = common.table(
        f"concurrency: clients querying back to back for {duration:.0f}s each (semantic/FTS/hybrid in turn)",
        ["clients", "queries", "queries/s", "p50 ms", "p90 ms", "p99 ms", "semantic p50", "fts p50",
         "hybrid p50", "errors"], rows,
        note=f"index: {files:,} files, {chunks:,} chunks; one thread + one wire connection per client, in one "
             f"process; daemon served {status['queries']:,} queries, {status['query_errors']} errors")
    at_budget = [lv for lv in levels if lv["clients"] >= BUDGET_CLIENTS]
    total_errors = sum(lv["errors"] for lv in levels) + status["query_errors"]
    min_qps = min(lv["qps"] for lv in at_budget)
    checks = [
        common.check(f"concurrent clients ({BUDGET_CLIENTS}+ at once)", f">= {BUDGET_QPS:.0f} queries/s",
                     f"{min_qps:.0f} queries/s (worst of {', '.join(str(lv['clients']) for lv in at_budget)} "
                     "clients)", min_qps >= BUDGET_QPS),
        common.check("concurrent clients: errors", "0", str(total_errors), total_errors == 0),
    ]
    return {"section": "concurrency", "tables": [t1],
            "raw": {"duration_s": duration, "levels": levels, "status_after": status,
                    "loadavg": [load_before, common.loadavg()]},
            "checks": checks}


if __name__ == "__main__":
    sys.exit(common.standalone_main("concurrency", run, __doc__))
