"""Section `mcp_latency`: the MCP `search` tool's latency through a warm daemon, measured from the
SDK's own stdio client (`cidx mcp` spawned as an agent would), side by side with the same search
made in-process by the client function the server calls (cidx.fastpath.query.search: connect,
handshake, query, as `cidx query` does), alternating call by call; the difference is what MCP
adds (JSON-RPC over pipes, a worker thread, structured content and its validation by the client).

Not part of run_all (it needs the optional extra `cidx[mcp]`):
    python benchmarks/mcp_latency.py --quick
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

MODES = ("semantic", "fts")
PATHS = ("mcp", "client")


def run(ctx: common.Context) -> dict:
    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from cidx.fastpath import query as fast_query
    from cidx.fastpath.config import read_fast_config
    from cidx.fastpath.params import QueryParams

    ws = ctx.ws
    common.cidx_init(ws, daemon=True)
    files, chunks = common.ensure_indexed(ws)
    n = ctx.pick(300, 60)
    load_before = common.loadavg()
    lat = {(p, m): [] for p in PATHS for m in MODES}

    def arguments(mode: str, i: int) -> dict:
        return {"query": common.query_text(mode, i), "mode": mode, "limit": 10}

    def direct(args: dict) -> None:
        params = QueryParams(text=args["query"], mode=args["mode"], limit=args["limit"], output="json").validate()
        _, fallback = fast_query.search(read_fast_config(str(ws.root)), params)
        if fallback:
            raise RuntimeError(f"the daemon was not used: {fallback}")

    async def measure() -> None:
        server = StdioServerParameters(command=common.PYTHON, args=["-P", "-m", "cidx", "mcp", "--repo", str(ws.root)],
                                       env=common.bench_env(), cwd=str(ws.root))
        with open(ws.config_dir / "bench-mcp.stderr", "w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    await session.list_tools()  # the client caches output schemas, as agents do

                    async def over_mcp(args: dict) -> None:
                        result = await session.call_tool("search", args)
                        if result.is_error or not result.structured_content["via_daemon"]:
                            raise RuntimeError(f"search failed or fell back: {result.content}")

                    for m in MODES:  # warm-up: first calls of each path and mode
                        await over_mcp(arguments(m, 0))
                        direct(arguments(m, 0))
                    common.log(f"mcp_latency: {n} searches per mode and path")
                    for i in range(n):
                        for m in MODES:
                            args = arguments(m, i)
                            for p in (PATHS if i % 2 == 0 else PATHS[::-1]):
                                t0 = time.perf_counter()
                                if p == "mcp":
                                    await over_mcp(args)
                                else:
                                    direct(args)
                                lat[(p, m)].append(time.perf_counter() - t0)

    with common.Daemon(ws):
        anyio.run(measure)
    st = {f"{p}/{m}": common.stats(v) for (p, m), v in lat.items()}
    rows = []
    for m in MODES:
        for p in PATHS:
            s = st[f"{p}/{m}"]
            rows.append([m, {"mcp": "MCP tool call (SDK stdio client)", "client": "client function in-process"}[p],
                         s["n"], s["median"] * 1e3, s["p90"] * 1e3, s["p99"] * 1e3, s["max"] * 1e3])
        overhead = (st[f"mcp/{m}"]["median"] - st[f"client/{m}"]["median"]) * 1e3
        rows.append([m, "MCP overhead (difference of medians)", "-", overhead, "-", "-", "-"])
    t = common.table("mcp_latency: `search` through a warm daemon, ms (MCP and direct alternate call by call)",
                     ["mode", "path", "n", "median", "p90", "p99", "max"], rows,
                     note=f"index: {files:,} files, {chunks:,} chunks; limit 10; load average before "
                          f"{load_before}, after {common.loadavg()}")
    return {"section": "mcp_latency", "tables": [t],
            "raw": {"latency_s": {f"{p}/{m}": v for (p, m), v in lat.items()}, "stats": st,
                    "loadavg": [load_before, common.loadavg()]},
            "checks": []}


if __name__ == "__main__":
    sys.exit(common.standalone_main("mcp_latency", run, __doc__))
