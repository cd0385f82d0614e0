"""The MCP wiring: a low-level SDK Server over stdio with the tools of cidx/mcp/tools.py.

Each call runs its operation (cidx/mcp/operations.py: blocking client code) on a worker thread, so
the event loop keeps reading requests and can send progress notifications meanwhile. Any error is
a tool result with isError and one clear line; the server keeps serving.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from cidx import __version__
from cidx.fastpath.errors import CidxError
from cidx.mcp import arguments, operations
from cidx.mcp.tools import TOOLS

log = logging.getLogger("cidx.mcp")


def _tool_list() -> list:
    return [types.Tool(name=name, description=description, input_schema=inputs, output_schema=outputs)
            for name, (description, inputs, outputs) in TOOLS.items()]


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


class Progress:
    """Index progress (called on the worker thread) -> MCP progress notifications (sent from the
    event loop). Only when the files done advance: the spec wants progress to increase."""

    def __init__(self, session):
        self.session = session
        self.last = -1

    def __call__(self, event) -> None:
        if event.files_done <= self.last:
            return
        self.last = event.files_done
        message = f"{event.phase} {event.files_done}/{event.files_total} files · {event.chunks_done} chunks"
        if event.current_file:
            message += f" · {event.current_file}"
        try:
            anyio.from_thread.run(self.session.report_progress, float(event.files_done),
                                  float(event.files_total) if event.files_total else None, message)
        except Exception as exc:  # the client went away: indexing goes on without progress
            log.info("progress notification failed: %s", exc)


def make_server(start: Path) -> Server:
    """`start`: the directory the repository is found from (its .code-indexer/, here or above),
    looked up on every call, so `cidx init` after the server started is picked up."""

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=_tool_list())

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        name, args = params.name, params.arguments
        try:
            if name == "search":
                work = functools.partial(operations.search, start, arguments.search_params(args))
            elif name == "status":
                work = functools.partial(operations.status, start, **arguments.status_options(args))
            elif name == "index":
                work = functools.partial(operations.index, start, **arguments.index_options(args),
                                         progress=Progress(ctx.session))
            else:
                return _error(f"unknown tool {name!r}; the tools are {', '.join(TOOLS)}")
            structured, text = await anyio.to_thread.run_sync(work)
        except CidxError as exc:
            return _error(exc.message)
        except Exception as exc:  # a bug: one line to the agent, the traceback to stderr (the client's log)
            traceback.print_exc(file=sys.stderr)
            return _error(f"internal error: {exc.__class__.__name__}: {exc}")
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=structured)

    return Server("cidx", version=__version__,
                  instructions="Code search over one repository: call `search` (semantic, fts or hybrid); "
                               "`status` shows the index; `index` updates it after large changes.",
                  on_list_tools=list_tools, on_call_tool=call_tool)


async def _serve(server: Server) -> None:
    # stdio_server points fd 1 at stderr while serving: stray prints cannot corrupt the stream.
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve(repo: Path | None) -> None:
    start = (repo or Path(os.getcwd())).absolute()
    if not start.is_dir():
        raise CidxError(f"{start}: not a directory (give --repo the repository's directory)")
    anyio.run(_serve, make_server(start))
