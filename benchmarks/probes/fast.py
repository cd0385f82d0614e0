"""Run by cli_e2e.py in a fresh interpreter, cwd = the workspace: the steps of `cidx query` on the
daemon fast path (cidx/entry.py main -> cidx/fastpath/query.py run_query), each timed with
perf_counter, then the modules it imported. It imports nothing the fast path does not (json only
after the last measurement), so the import costs land in the step that pays them. It reports its
first and last perf_counter readings so that the parent can tell interpreter start from exit.
Usage: python benchmarks/probes/fast.py OUT_JSON QUERY_ARGS..."""

import time

T_START = time.perf_counter()

import os  # noqa: E402
import sys  # noqa: E402

from laps import Laps  # noqa: E402  (benchmarks/probes/ is sys.path[0] for a probe script)


def main() -> None:
    out_path, argv = sys.argv[1], sys.argv[2:]
    laps = Laps()
    phases, lap = laps.phases, laps.lap

    import cidx.entry  # noqa: F401
    lap("import cidx.entry")
    from cidx.fastpath import code_pack

    packed = code_pack.install()  # as entry.main does
    lap("code pack (import + install)")
    from cidx.fastpath.config import read_fast_config

    config = read_fast_config(os.getcwd())
    if config is None:
        raise SystemExit("no daemon-enabled config here: the fast path would not be taken")
    lap("import fastpath.config + read config")
    from cidx.fastpath import query  # noqa: F401  (params, argv, render, results, errors)
    from cidx.fastpath.params import parse_query_args
    from cidx.fastpath.render import render
    from cidx.fastpath.results import QueryResult

    lap("import fastpath.query (params, render, results)")
    params = parse_query_args(argv)
    lap("parse args")
    from cidx.fastpath.delegate import DaemonEffects, run_via_daemon

    lap("import delegate (lifecycle, wire)")
    marks = {}

    class TimedEffects(DaemonEffects):
        def connect(self):  # connect + GETROOT + hello (with the query pipelined behind it)
            t0 = time.perf_counter()
            try:
                return super().connect()
            finally:
                marks["connect + handshake"] = (time.perf_counter() - t0) * 1e3

        probe = connect

    call = ("cli_query", str(config.root), params.to_wire())

    def request(conn):
        t0 = time.perf_counter()
        value = conn.call(*call)  # sent ahead, behind the handshake: this waits for the reply
        marks["query RPC (reply wait)"] = (time.perf_counter() - t0) * 1e3
        return value

    import cidx.fastpath.delegate as delegate

    real = delegate.DaemonEffects
    delegate.DaemonEffects = TimedEffects  # run_via_daemon builds its effects from this name
    try:
        outcome = run_via_daemon(config, request, send_ahead=call)
    finally:
        delegate.DaemonEffects = real
    if not outcome.via_daemon:
        raise SystemExit(f"fell back: {outcome.fallback_reason}")
    total = laps.take()
    phases["connect + handshake"] = marks["connect + handshake"]
    phases["lifecycle machine"] = total - marks["connect + handshake"] - marks["query RPC (reply wait)"]
    phases["query RPC (reply wait)"] = marks["query RPC (reply wait)"]
    laps.take()
    result = QueryResult.from_wire(outcome.value)
    lap("decode result")
    with open(os.devnull, "w") as devnull:
        render(result, params, out=devnull)
    lap("render")
    phases["_in_process_total"] = (time.perf_counter() - T_START) * 1e3
    phases["_perf_start"] = T_START  # perf_counter is CLOCK_MONOTONIC: comparable with the parent's
    phases["_server_timings"] = result.timings_ms
    phases["_code_pack"] = packed
    phases["_modules"] = sorted(sys.modules)
    import json  # after the measurements: the fast path itself never imports json

    with open(out_path, "w") as out:
        json.dump(phases, out)
    sys.stderr.write(f"perf_end {time.perf_counter()!r}\n")  # what is left after this is the exit


main()
