"""Section `daemon_rpc`: in-process round trips to a real daemon. The first query after start (cold
cache) against the load time the daemon logs; then per query type the latency through the stdlib
wire client (cidx.fastpath.wire, what `cidx query` uses) and through the rpyc library
(cidx.client.connection), alternating query by query; ping and connect+hello for the fixed cost."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402
from cidx.fastpath.results import QueryResult  # noqa: E402

MODES = ("semantic", "fts", "hybrid")
KINDS = ("wire", "rpyc")
LOADED = re.compile(r"cache loaded in (\d+(?:\.\d+)?) ms")


def _first_query(daemon: common.Daemon, root: str, params: str) -> tuple[float, float | None, dict]:
    """The first query of a fresh daemon (cold cache): (seconds, load ms from the log, server timings)."""
    log_before = len(daemon.log_lines())
    conn = daemon.connect("wire")
    t0 = time.perf_counter()
    reply = QueryResult.from_wire(conn.call("cli_query", root, params))
    first_s = time.perf_counter() - t0
    conn.close()
    load_ms = None
    for line in daemon.log_lines()[log_before:]:
        m = LOADED.search(line)
        if m:
            load_ms = float(m.group(1))
    return first_s, load_ms, reply.timings_ms or {}


def run(ctx: common.Context) -> dict:
    ws = ctx.ws
    common.cidx_init(ws, daemon=True)
    files, chunks = common.ensure_indexed(ws)
    n = ctx.pick(300, 100)
    n_connect = ctx.pick(50, 20)
    load_before = common.loadavg()
    params = {m: [common.wire_params(m, common.query_text(m, i)) for i in range(10)] for m in MODES}
    root = str(ws.root)
    # -- the first query of a fresh daemon: cold cache (model + indexes load inside it) --
    with common.Daemon(ws) as daemon:
        fts_first_s, fts_load_ms, fts_first_server = _first_query(daemon, root, params["fts"][0])
    with common.Daemon(ws) as daemon:
        startup_s = daemon.ready_at - daemon.started_at
        first_s, load_ms, first_server = _first_query(daemon, root, params["semantic"][0])
        common.log(f"daemon_rpc: daemon up in {startup_s:.2f}s; first query {first_s * 1e3:.0f} ms "
                   f"(load {load_ms} ms)")

        # -- warm queries, wire and rpyc alternating --
        conns = {k: daemon.connect(k) for k in KINDS}
        for k in KINDS:  # warm-up: first calls of each connection and each mode
            for m in MODES:
                conns[k].call("cli_query", root, params[m][0])
        lat = {(k, m): [] for k in KINDS for m in MODES}
        rest = {(k, m): [] for k in KINDS for m in MODES}  # latency - (server embed + search), per query
        server = {m: {"embed": [], "search": []} for m in MODES}
        common.log(f"daemon_rpc: {n} queries per mode and connection kind")
        for i in range(n):
            for m in MODES:
                p = params[m][i % 10]
                for k in (KINDS if i % 2 == 0 else KINDS[::-1]):
                    t0 = time.perf_counter()
                    payload = conns[k].call("cli_query", root, p)
                    elapsed = time.perf_counter() - t0
                    lat[(k, m)].append(elapsed)
                    timings = QueryResult.from_wire(payload).timings_ms
                    work = (timings.get("embed", 0.0) + timings.get("search", 0.0)) / 1e3
                    rest[(k, m)].append(elapsed - work)
                    for phase in ("embed", "search"):
                        if phase in timings:
                            server[m][phase].append(timings[phase] / 1e3)
        ping = {k: [] for k in KINDS}
        for _ in range(n):
            for k in KINDS:
                t0 = time.perf_counter()
                conns[k].call("ping")
                ping[k].append(time.perf_counter() - t0)
        for c in conns.values():
            c.close()
        connect = {k: [] for k in KINDS}
        for _ in range(n_connect):
            for k in KINDS:
                t0 = time.perf_counter()
                c = daemon.connect(k)
                connect[k].append(time.perf_counter() - t0)
                c.close()
        status = daemon.status()

    lat_st = {f"{k}/{m}": common.stats(v) for (k, m), v in lat.items()}
    rows = []
    for m in MODES:
        for k in KINDS:
            s = lat_st[f"{k}/{m}"]
            emb = common.stats(server[m]["embed"])["median"] if server[m]["embed"] else None
            srch = common.stats(server[m]["search"])["median"]
            rows.append([m, k, s["n"], s["median"] * 1e3, s["p90"] * 1e3, s["p99"] * 1e3, s["max"] * 1e3,
                         "-" if emb is None else emb * 1e3, srch * 1e3,
                         common.percentile(rest[(k, m)], 50) * 1e3])
    for k in KINDS:
        s = common.stats(ping[k])
        rows.append(["ping", k, s["n"], s["median"] * 1e3, s["p90"] * 1e3, s["p99"] * 1e3, s["max"] * 1e3,
                     "-", "-", "-"])
    for k in KINDS:
        s = common.stats(connect[k])
        rows.append(["connect+hello", k, s["n"], s["median"] * 1e3, s["p90"] * 1e3, s["p99"] * 1e3,
                     s["max"] * 1e3, "-", "-", "-"])
    t1 = common.table(
        "daemon_rpc: round trip per call, ms (warm cache; wire and rpyc alternate query by query)",
        ["call", "client", "n", "median", "p90", "p99", "max", "server embed", "server search",
         "rest (rpc+json+cache)"], rows,
        note=f"index: {files:,} files, {chunks:,} chunks; server embed/search = medians of the daemon's "
             "timings_ms (both kinds); rest = median over queries of (round trip - embed - search)")
    cold = {"semantic": (first_s, load_ms, first_server), "fts": (fts_first_s, fts_load_ms, fts_first_server)}
    rows, checks = [], []
    for m, (f_s, l_ms, server_t) in cold.items():
        over = (f_s * 1e3 - l_ms) if l_ms is not None else None
        rows.append([m, f_s * 1e3, "-" if l_ms is None else l_ms, "-" if over is None else over,
                     lat_st[f"wire/{m}"]["median"] * 1e3, json.dumps({k: round(v, 1) for k, v in server_t.items()})])
        checks.append(common.check(f"first query after daemon start (cold cache), {m}", "load time + <= 10 ms",
                                   "-" if over is None else f"load {l_ms:.0f} ms + {over:.1f} ms",
                                   None if over is None else over <= 10.0))
    t2 = common.table(
        "daemon_rpc: first (cold) query of a fresh daemon, one daemon start per mode",
        ["first query", "round trip ms", "logged load ms", "round trip - load ms", "warm median ms",
         "server timings of the first query"], rows,
        note=f"daemon up (spawn to first answer): {startup_s:.2f} s; daemon RSS after the run "
             f"{status['rss_bytes'] / 1e6:.0f} MB; the cache load (model + indexes) happens whatever the mode")
    return {
        "section": "daemon_rpc",
        "tables": [t1, t2],
        "raw": {"latency_s": {f"{k}/{m}": v for (k, m), v in lat.items()}, "stats": lat_st,
                "server_s": server, "rest_s": {f"{k}/{m}": v for (k, m), v in rest.items()}, "ping_s": ping, "connect_hello_s": connect,
                "first_query_s": first_s, "first_query_server_ms": first_server, "load_ms": load_ms,
                "fts_first_query_s": fts_first_s, "fts_load_ms": fts_load_ms,
                "daemon_startup_s": startup_s, "status_after": status,
                "loadavg": [load_before, common.loadavg()]},
        "checks": checks,
    }


if __name__ == "__main__":
    sys.exit(common.standalone_main("daemon_rpc", run, __doc__))
