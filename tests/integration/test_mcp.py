"""`cidx mcp` end to end: the SDK's own stdio client spawns `python -m cidx mcp` against a real
daemon on the fixture repository (the client also checks every result against the tool's
output schema)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import asynccontextmanager

import pytest

pytest.importorskip("mcp", reason="the MCP SDK (the optional extra cidx[mcp]) is not installed")

import anyio  # noqa: E402  (after the skip: anyio comes with the SDK)
from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

from cidx.fastpath.socket_path import socket_path  # noqa: E402
from tests.conftest import git, run_cidx  # noqa: E402
from tests.integration.daemon_support import alive, make_repo, status, wait_serving, wait_until  # noqa: E402

FAST = {"retry_delays_ms": [50, 100, 200], "max_retries": 3}  # for a daemon that can never start
# A daemon that starts slowly on a loaded machine is still waited for (15.6 s in all, default 3.6 s):
# these tests check that calls go through the daemon, not how fast it starts.
PATIENT = {"retry_delays_ms": [100, 500, 1000, 2000, 4000, 8000], "max_retries": 6}
SEARCH_ARGS = {"query", "mode", "limit", "language", "exclude_language", "path_filter", "exclude_path",
               "min_score", "accuracy", "case_sensitive", "fuzzy", "edit_distance", "regex", "any_term",
               "snippet_lines"}


@pytest.fixture
def repo(tmp_path, embedder, reap_daemons):
    return make_repo(tmp_path / "repo", embedder, **PATIENT)


@pytest.fixture
def server_log(tmp_path):
    """The server's stderr (what an agent's MCP client would log)."""
    path = tmp_path / "mcp-server.stderr"
    with path.open("w") as handle:
        yield handle, path


@asynccontextmanager
async def mcp_session(log, *args: str, cwd=None):
    params = StdioServerParameters(command=sys.executable, args=["-m", "cidx", "mcp", *args],
                                   env=dict(os.environ), cwd=cwd)
    async with stdio_client(params, errlog=log) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def run(body) -> None:
    anyio.run(body)


def text_of(result) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


def test_tools_are_listed_with_their_schemas(repo, server_log):
    async def body():
        async with mcp_session(server_log[0], "--repo", str(repo.root)) as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == {"search", "status", "index"}
        search = tools["search"].input_schema
        assert search["required"] == ["query"] and set(search["properties"]) == SEARCH_ARGS
        assert search["properties"]["mode"]["enum"] == ["semantic", "fts", "hybrid"]
        assert set(tools["index"].input_schema["properties"]) == {"clear", "fts_only"}
        for tool in tools.values():
            assert tool.description and tool.output_schema["type"] == "object"
        hit = tools["search"].output_schema["properties"]["results"]["items"]["properties"]
        assert {"path", "start_line", "end_line", "language", "score", "source", "snippet", "match_line"} <= set(hit)

    run(body)


# (MCP arguments, the same search as `cidx query` arguments)
SEARCHES = [
    ({"query": "read the configuration file", "language": "python", "limit": 3},
     ["read the configuration file", "--language", "python", "-l", "3"]),
    ({"query": "load_settings", "mode": "fts", "path_filter": "src/*"},
     ["load_settings", "--fts", "--path-filter", "src/*"]),
    ({"query": "area of a circle", "mode": "hybrid", "exclude_language": ["go", "markdown"], "limit": 4},
     ["area of a circle", "--hybrid", "--exclude-language", "go", "--exclude-language", "markdown", "-l", "4"]),
    ({"query": "circlArea", "mode": "fts", "fuzzy": True, "snippet_lines": 1},
     ["circlArea", "--fts", "--fuzzy", "--snippet-lines", "1"]),
    ({"query": r"def \w+\(", "mode": "fts", "regex": True, "exclude_path": "tests/*", "case_sensitive": True},
     [r"def \w+\(", "--fts", "--regex", "--exclude-path", "tests/*", "--case-sensitive"]),
    ({"query": "http retries", "min_score": 0.2, "accuracy": "high"},
     ["http retries", "--min-score", "0.2", "--accuracy", "high"]),
]


def test_search_in_each_mode_with_filters_answers_as_the_cli_does(repo, server_log):
    answers = []

    async def body():
        async with mcp_session(server_log[0], "--repo", str(repo.root)) as session:
            for arguments, _ in SEARCHES:
                answers.append(await session.call_tool("search", arguments))

    run(body)
    for (arguments, argv), result in zip(SEARCHES, answers):
        assert not result.is_error, text_of(result)
        got = result.structured_content
        cli = run_cidx("query", *argv, "--json", cwd=repo.root)
        assert cli.returncode == 0, cli.stderr
        expected = json.loads(cli.stdout)
        assert got["via_daemon"] is True and got["fallback_reason"] is None
        assert got["mode"] == expected["mode"] == arguments.get("mode", "semantic")
        assert got["generation"] == expected["generation"] == 1
        assert got["results"], f"no results for {arguments}"
        assert [(h["path"], h["start_line"], h["end_line"], h["match_line"], h["language"], h["score"], h["source"],
                 h["snippet"]) for h in got["results"]] == \
               [(h["path"], h["start_line"], h["end_line"], h["line"], h["language"], h["score"], h["source"],
                 h["snippet"]) for h in expected["hits"]], arguments
        assert got["results"][0]["path"] in text_of(result)  # the text rendering, for clients without structure
    # the filters did filter
    assert {h["language"] for h in answers[0].structured_content["results"]} == {"python"}
    assert {h["path"] for h in answers[1].structured_content["results"]} == {"src/config_loader.py"}
    assert not {h["language"] for h in answers[2].structured_content["results"]} & {"go", "markdown"}
    assert answers[3].structured_content["results"][0]["path"] == "src/geometry.js"  # one typo away
    assert all(not h["path"].startswith("tests/") for h in answers[4].structured_content["results"])
    assert all(h["score"] >= 0.2 for h in answers[5].structured_content["results"])


def test_status_reports_the_index_and_the_daemon(repo, server_log):
    async def body():
        async with mcp_session(server_log[0], "--repo", str(repo.root)) as session:
            await session.call_tool("search", {"query": "circleArea", "mode": "fts"})  # starts the daemon
            return await session.call_tool("status", {}), await session.call_tool("status", {"verify": True})

    plain, verified = anyio.run(body)
    info = plain.structured_content
    assert not plain.is_error and info["root"] == str(repo.root) and info["indexed"] is True
    assert (info["generation"], info["files"], info["chunks"]) == (1, 6, 7)  # geometry.js holds two functions: two chunks (ADR 0012)
    assert info["daemon_enabled"] is True and info["daemon"]["pid"] == status(repo)["pid"]
    assert info["daemon"]["queries"] == 1
    assert f"running pid {info['daemon']['pid']}" in text_of(plain)
    assert verified.structured_content["problems"] == []


def add_files(root, count: int) -> None:
    (root / "bulk").mkdir()
    for i in range(count):
        (root / "bulk" / f"m{i:02d}.py").write_text(f"def bulk_function_{i}(value):\n    return value * {i}\n")
    git(root, "add", "-A")


def test_index_reports_progress_notifications_and_returns_the_summary(repo, server_log):
    add_files(repo.root, 12)
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async def body():
        async with mcp_session(server_log[0], "--repo", str(repo.root)) as session:
            indexed = await session.call_tool("index", {}, progress_callback=on_progress)
            found = await session.call_tool("search", {"query": "bulk_function_11", "mode": "fts"})
            return indexed, found

    indexed, found = anyio.run(body)
    assert not indexed.is_error, text_of(indexed)
    summary = indexed.structured_content
    assert summary["via_daemon"] is True and summary["files_indexed"] == 12 and summary["generation"] == 2
    assert "indexed 12 files" in text_of(indexed)
    values = [value for value, _, _ in progress]
    assert len(values) >= 2 and values == sorted(set(values))  # strictly increasing, as the spec asks
    assert progress[-1][:2] == (12, 12) and all(message for _, _, message in progress)
    assert [h["path"] for h in found.structured_content["results"]] == ["bulk/m11.py"]


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), what=f"daemon {pid} to die")


def test_a_daemon_killed_mid_session_is_restarted_and_else_falls_back(repo, server_log):
    query = {"query": "circleArea", "mode": "fts"}
    pids = []

    async def body():
        async with mcp_session(server_log[0], "--repo", str(repo.root)) as session:
            first = await session.call_tool("search", query)
            pids.append(wait_serving(repo)["pid"])
            kill(pids[0])
            restarted = await session.call_tool("search", query)
            pids.append(wait_serving(repo)["pid"])
            kill(pids[1])
            sock = socket_path(repo.config_dir)
            sock.unlink(missing_ok=True)  # the killed daemon's
            sock.mkdir()  # no daemon can bind now: the server must fall back
            fallen_back = await session.call_tool("search", query)
            still_serving = await session.call_tool("status", {})
            return first, restarted, fallen_back, still_serving

    first, restarted, fallen_back, still_serving = anyio.run(body)
    assert pids[0] != pids[1]
    assert restarted.structured_content["via_daemon"] is True
    assert fallen_back.structured_content["via_daemon"] is False
    assert "daemon.log" not in fallen_back.structured_content["fallback_reason"]  # the reason, not the notice
    assert "daemon unavailable" in text_of(fallen_back)
    for result in (restarted, fallen_back):
        assert result.structured_content["results"] == first.structured_content["results"]
    assert not still_serving.is_error and still_serving.structured_content["daemon"] is None
    server_log[0].flush()
    assert "daemon unavailable" in server_log[1].read_text()  # the CLI's notice went to stderr


MALFORMED = [
    ("search", {}, "'query' is a required property"),
    ("search", {"query": "x", "limit": "five"}, "limit: 'five' is not of type 'integer'"),
    ("search", {"query": "x", "limit": 0}, "limit must be between 1 and 1000 (got 0)"),
    ("search", {"query": "x", "mode": "fuzzy"}, "mode: 'fuzzy' is not one of"),
    ("search", {"query": "x", "colour": "red"}, "'colour' was unexpected"),
    ("search", {"query": "x(", "mode": "fts", "regex": True}, "invalid regex 'x('"),
    ("search", {"query": "x", "regex": True}, 'regex is a full-text search option: use it with mode "fts"'),
    ("search", {"query": "x", "fuzzy": True}, 'apply to mode "fts" or mode "hybrid" searches'),
    ("search", {"query": "   "}, "empty query"),
    ("search", {"query": "x", "language": [1]}, "language.0: 1 is not of type 'string'"),
    ("search", {"query": "x", "edit_distance": 3, "mode": "fts"}, "edit_distance must be 0, 1 or 2 (got 3)"),
    ("index", {"clear": True, "fts_only": True}, "choose one of clear and fts_only"),
    ("status", {"verify": "yes"}, "verify: 'yes' is not of type 'boolean'"),
    ("grep", {"pattern": "x"}, "unknown tool 'grep'"),
]


def test_malformed_arguments_are_tool_errors_and_the_server_keeps_serving(repo, server_log):
    async def body():
        async with mcp_session(server_log[0], "--repo", str(repo.root)) as session:
            errors = [await session.call_tool(tool, arguments) for tool, arguments, _ in MALFORMED]
            return errors, await session.call_tool("search", {"query": "circleArea", "mode": "fts"})

    errors, after = anyio.run(body)
    for (tool, arguments, expected), result in zip(MALFORMED, errors):
        message = text_of(result)
        assert result.is_error and expected in message and "\n" not in message, (tool, arguments, message)
    assert not after.is_error and after.structured_content["results"][0]["path"] == "src/geometry.js"


def test_the_repository_is_found_from_the_working_directory(repo, server_log):
    async def body():
        async with mcp_session(server_log[0], cwd=repo.root / "src") as session:
            return await session.call_tool("status", {}), await session.call_tool("search", {"query": "bubble sort"})

    found, searched = anyio.run(body)
    assert found.structured_content["root"] == str(repo.root)
    assert searched.structured_content["results"][0]["path"] == "lib/sorting.go"


def test_with_the_daemon_disabled_searches_run_in_the_server(tmp_path, embedder, server_log):
    from cidx.config import Config, write_config
    from cidx.indexer import run_index
    from tests.conftest import write_fixture_repo

    config = Config(root=write_fixture_repo(tmp_path / "repo"))  # daemon.enabled: false
    write_config(config)
    run_index(config, embedder)

    async def body():
        async with mcp_session(server_log[0], "--repo", str(config.root)) as session:
            return await session.call_tool("search", {"query": "circleArea", "mode": "fts"})

    result = anyio.run(body)
    assert result.structured_content["via_daemon"] is False and result.structured_content["fallback_reason"] is None
    assert result.structured_content["results"][0]["path"] == "src/geometry.js"
    assert status(config) is None  # no daemon was started


def test_outside_any_repository_each_call_says_how_to_fix_it(tmp_path, server_log):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def body():
        async with mcp_session(server_log[0], cwd=elsewhere) as session:
            return await session.call_tool("status", {})

    result = anyio.run(body)
    assert result.is_error and f"no .code-indexer/config.json in {elsewhere}" in text_of(result)
    assert "cidx init" in text_of(result)


def test_a_repo_argument_that_is_not_a_directory_is_one_line_and_an_exit(tmp_path):
    out = run_cidx("mcp", "--repo", str(tmp_path / "missing"), cwd=tmp_path, input="")
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "missing" in out.stderr and "Traceback" not in out.stderr


def rpc(proc, message: dict) -> None:
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


def test_only_json_rpc_reaches_stdout_even_when_falling_back(tmp_path, embedder, reap_daemons):
    """The fallback notice and in-process indexing print nothing onto the MCP stream: read the raw
    stdout of the server, line by line, with the daemon unable to start."""
    repo = make_repo(tmp_path / "repo", embedder, **FAST)
    socket_path(repo.config_dir).mkdir()
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "cidx", "mcp", "--repo", str(repo.root)], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        try:
            rpc(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                  "clientInfo": {"name": "raw", "version": "0"}}})
            rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
            rpc(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                       "params": {"name": "search", "arguments": {"query": "circleArea", "mode": "fts"}}})
            rpc(proc, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                       "params": {"name": "index", "arguments": {"clear": True}, "_meta": {"progressToken": "p"}}})
            lines, answered = [], set()
            while answered != {1, 2, 3}:
                line = proc.stdout.readline()
                assert line, "the server closed its stdout early"
                lines.append(json.loads(line))  # anything but JSON here would break every MCP client
                if "id" in lines[-1]:
                    answered.add(lines[-1]["id"])
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
    assert all(message["jsonrpc"] == "2.0" for message in lines)
    replies = {m["id"]: m for m in lines if "id" in m}
    assert replies[2]["result"]["structuredContent"]["via_daemon"] is False
    assert replies[3]["result"]["structuredContent"]["files_indexed"] == 6
    assert any(m.get("method") == "notifications/progress" for m in lines)
    assert stderr_path.read_text().count("daemon unavailable") == 2  # search and index each said so, on stderr
