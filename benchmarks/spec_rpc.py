"""Section `spec_rpc`: the specification's RPyC interface (docs/clients.md, ADR 0014) beside the CLI's
wire method, against one real warm daemon, call by call in rotating order:

- per query mode: the spec method (`query` / `query_fts` / `query_hybrid`) from a plain rpyc
  client (default config, no handshake: what a third party writes), `cli_query` from the same
  rpyc library (same client, other method: the method's own cost) and `cli_query` from the CLI's
  stdlib wire client (what `cidx query` uses);
- `get_status` beside `cli_status`, and `index` (incremental, nothing changed) beside `cli_index`.

Round trip = the call until its reply is in hand; decode = json.loads (spec) or
QueryResult.from_wire (cli) of that reply, measured separately."""

from __future__ import annotations

import json
import os
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
SPEC_METHOD = {"semantic": "query", "fts": "query_fts", "hybrid": "query_hybrid"}


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    reply = fn(*args, **kwargs)
    return time.perf_counter() - t0, reply


def _rotate(calls: list, i: int) -> list:
    k = i % len(calls)
    return calls[k:] + calls[:k]


def run(ctx: common.Context) -> dict:
    import rpyc

    ws = ctx.ws
    common.cidx_init(ws, daemon=True)
    files, chunks = common.ensure_indexed(ws)
    n = ctx.pick(300, 100)
    n_index = ctx.pick(20, 6)
    load_before = common.loadavg()
    root = str(ws.root)
    texts = {m: [common.query_text(m, i) for i in range(10)] for m in MODES}
    params = {m: [common.wire_params(m, t) for t in texts[m]] for m in MODES}
    lat: dict[tuple[str, str], list[float]] = {}
    decode: dict[tuple[str, str], list[float]] = {}

    def record(key, elapsed, seconds_to_decode):
        lat.setdefault(key, []).append(elapsed)
        decode.setdefault(key, []).append(seconds_to_decode)

    with common.Daemon(ws) as daemon:
        plain = rpyc.utils.factory.unix_connect(str(daemon.socket_path), config={"sync_request_timeout": 120})
        rpyc_cli = daemon.connect("rpyc")
        wire_cli = daemon.connect("wire")
        service = plain.root
        for m in MODES:  # warm-up: model, indexes and each connection's first calls
            for _ in range(3):
                json.loads(getattr(service, SPEC_METHOD[m])(root, texts[m][0], limit=10))
                rpyc_cli.call("cli_query", root, params[m][0])
                wire_cli.call("cli_query", root, params[m][0])

        def spec_query(m, i):
            elapsed, reply = _timed(getattr(service, SPEC_METHOD[m]), root, texts[m][i % 10], limit=10)
            t0 = time.perf_counter()
            assert "hits" in json.loads(reply), reply
            record((m, f"spec {SPEC_METHOD[m]}()", "plain rpyc"), elapsed, time.perf_counter() - t0)

        def cli_query(conn, kind, m, i):
            elapsed, payload = _timed(conn.call, "cli_query", root, params[m][i % 10])
            t0 = time.perf_counter()
            QueryResult.from_wire(payload)
            record((m, "cli_query()", kind), elapsed, time.perf_counter() - t0)

        common.log(f"spec_rpc: {n} queries per mode and method/client")
        for i in range(n):
            for m in MODES:
                for call in _rotate([lambda: spec_query(m, i), lambda: cli_query(rpyc_cli, "rpyc", m, i),
                                     lambda: cli_query(wire_cli, "cidx wire", m, i)], i):
                    call()
        for i in range(n):
            for call in _rotate([lambda: record(("status", "spec get_status()", "plain rpyc"),
                                                *_decode_json(_timed(service.get_status))),
                                 lambda: record(("status", "cli_status()", "cidx wire"),
                                                *_decode_json(_timed(wire_cli.call, "cli_status")))], i):
                call()
        common.log(f"spec_rpc: {n_index} incremental index runs per method")
        for i in range(n_index):
            for call in _rotate([lambda: record(("index (no change)", "spec index()", "plain rpyc"),
                                                *_decode_json(_timed(service.index, root))),
                                 lambda: record(("index (no change)", "cli_index()", "rpyc"),
                                                *_decode_json(_timed(rpyc_cli.call, "cli_index", root, None,
                                                                     False, False)))], i):
                call()
        status = json.loads(service.get_status())
        for conn in (rpyc_cli, wire_cli):
            conn.close()
        plain.close()

    rows = []
    medians = {}
    for key, samples in lat.items():
        s = common.stats(samples)
        medians[key] = s["median"]
        rows.append([*key, s["n"], s["median"] * 1e3, s["p90"] * 1e3, s["p99"] * 1e3, s["max"] * 1e3,
                     common.percentile(decode[key], 50) * 1e3])
    ratio_rows = []
    for m in MODES:
        spec = medians[(m, f"spec {SPEC_METHOD[m]}()", "plain rpyc")]
        ratio_rows.append([m, spec / medians[(m, "cli_query()", "rpyc")], spec / medians[(m, "cli_query()", "cidx wire")]])
    t1 = common.table(
        "spec_rpc: round trip per call, ms (warm cache; the calls of one row group rotate call by call)",
        ["call", "method", "client", "n", "median", "p90", "p99", "max", "decode median"], rows,
        note=f"index: {files:,} files, {chunks:,} chunks; plain rpyc = rpyc.utils.factory.unix_connect with "
             "default config and no handshake; decode = json.loads (spec) / QueryResult.from_wire (cli)")
    t2 = common.table("spec_rpc: spec method median / cli_query median, same mode",
                      ["mode", "spec / cli_query (rpyc)", "spec / cli_query (cidx wire)"], ratio_rows)
    return {
        "section": "spec_rpc",
        "tables": [t1, t2],
        "raw": {"latency_s": {" | ".join(k): v for k, v in lat.items()},
                "decode_s": {" | ".join(k): v for k, v in decode.items()}, "status_after": status,
                "loadavg": [load_before, common.loadavg()]},
        "checks": [],
    }


def _decode_json(timed) -> tuple[float, float]:
    elapsed, reply = timed
    t0 = time.perf_counter()
    json.loads(reply)
    return elapsed, time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(common.standalone_main("spec_rpc", run, __doc__))
