"""The feature specification's RPyC interface (docs/clients.md, ADR 0014), called by a plain rpyc
client on a real daemon: the client code below imports rpyc and json only, never cidx (the
fixtures do, to build the repository and start the daemon), and docs/examples/plain_rpyc_client.py
runs in a subprocess that is checked to load no cidx module at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rpyc

from cidx.fastpath.socket_path import socket_file
from tests.conftest import REPO_ROOT, run_cidx
from tests.integration.daemon_support import make_repo, spawn, wait_serving

EXAMPLE = REPO_ROOT / "docs" / "examples" / "plain_rpyc_client.py"
NO_CIDX = ("import runpy, sys; sys.argv = sys.argv[1:]; "
           "runpy.run_path(sys.argv[0], run_name='__main__'); "
           "loaded = sorted(m for m in sys.modules if m == 'cidx' or m.startswith('cidx.')); "
           "assert not loaded, loaded")


@pytest.fixture
def served(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder)
    proc = spawn(config.root)
    wait_serving(config)
    yield config, proc
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture
def plain(served):
    """A plain rpyc connection, as a third party opens it: default config, the socket path only."""
    config, _ = served
    conn = rpyc.utils.factory.unix_connect(socket_file(config.config_dir))
    yield conn.root, str(config.root)
    conn.close()


def cli_json(config, text, *argv) -> dict:
    out = run_cidx("query", text, *argv, "--json", cwd=config.root)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# (method, positional args after project_path, kwargs, the same options for `cidx query`)
SAME_AS_CLI = [
    ("query", ("sort numbers", 5), {}, ["-l", "5"]),
    ("query", ("read the configuration file",), {"limit": 3, "language": "python"}, ["-l", "3", "--language", "python"]),
    ("query", ("area of shapes",), {"limit": 4, "language": ["python", "javascript"], "min_score": 0.05,
                                     "snippet_lines": 0},
     ["-l", "4", "--language", "python", "--language", "javascript", "--min-score", "0.05", "--snippet-lines", "0"]),
    ("query", ("retry", 10), {"exclude_path": ("tests/*", "docs/*"), "accuracy": "high"},
     ["--exclude-path", "tests/*", "--exclude-path", "docs/*", "--accuracy", "high"]),
    ("query_fts", ("circleAre",), {"limit": 5, "fuzzy": True}, ["--fts", "-l", "5", "--fuzzy"]),
    ("query_fts", ("load_settings",), {"exclude_language": ["markdown"], "snippet_lines": 1},
     ["--fts", "--exclude-language", "markdown", "--snippet-lines", "1"]),
    ("query_fts", ("ParseConfig",), {"case_sensitive": True, "path_filter": "docs/*"},
     ["--fts", "--case-sensitive", "--path-filter", "docs/*"]),
    ("query_fts", (r"def \w+_settings",), {"regex": True}, ["--fts", "--regex"]),
    ("query_fts", ("rectangel",), {"edit_distance": 2}, ["--fts", "--edit-distance", "2"]),
    ("query_hybrid", ("retry with backoff",), {"limit": 5}, ["--hybrid", "-l", "5"]),
    ("query_hybrid", ("load settings",), {"language": "python", "fuzzy": True},
     ["--hybrid", "--language", "python", "--fuzzy"]),
]


def test_every_query_method_answers_what_the_cli_prints_with_json(served, plain):
    config, _ = served
    service, root = plain
    for method, args, kwargs, argv in SAME_AS_CLI:
        reply = getattr(service, method)(root, *args, **kwargs)
        assert type(reply) is str, (method, type(reply))  # plain data: no netref, no round trip per access
        document = json.loads(reply)
        assert "error" not in document, (method, args, kwargs, document)
        assert document == cli_json(config, args[0], *argv), (method, args, kwargs)
    assert json.loads(service.query(root, "sort numbers", 2))["hits"]  # the fixture answers at all


BAD_CALLS = [
    ("query", ("x", 5), {"bogus": 1}, "bad_argument", "unknown option 'bogus'"),
    ("query", ("x", "5"), {}, "bad_argument", "limit must be a whole number"),
    ("query", ("x", 0), {}, "bad_argument", "--limit must be between 1 and 1000"),
    ("query", ("x",), {"limit": 5, "fts": True}, "bad_argument", "the method is the mode"),
    ("query", (42, 5), {}, "bad_argument", "the query must be a string (got int)"),
    ("query_fts", (["a", "list"],), {}, "bad_argument", "the query must be a string"),
    ("query_fts", ("(x",), {"regex": True}, "bad_argument", "invalid regex"),
    ("query_fts", ("x",), {"language": ["python", 3]}, "bad_argument", "language must be a string or a list"),
    ("query_hybrid", ("x",), {"fuzzy": "yes"}, "bad_argument", "fuzzy must be True or False"),
    ("query_hybrid", ("x",), {"language": "klingon"}, "bad_argument", "unknown language"),
    ("query", (), {}, "bad_argument", "missing a required argument: 'query'"),
    ("query", ("x", 5, 6), {}, "bad_argument", "too many positional arguments"),
    ("query", ("x", 5), {"limit": 3}, "bad_argument", "multiple values for argument 'limit'"),
    ("index", (), {"bogus": True}, "bad_argument", "unknown option 'bogus' for index"),
    ("index", (), {"clear": "yes"}, "bad_argument", "clear must be True or False"),
    ("index", (42,), {}, "bad_argument", "callback must be callable or None"),
]


def assert_error(reply, kind: str, fragment: str) -> None:
    assert type(reply) is str
    document = json.loads(reply)
    assert list(document) == ["error"] and sorted(document["error"]) == ["message", "type"], document
    assert document["error"]["type"] == kind, document
    assert fragment in document["error"]["message"], document
    assert "\n" not in document["error"]["message"] and "Traceback" not in document["error"]["message"]


def test_bad_calls_get_an_error_reply_and_the_daemon_keeps_serving(served, plain):
    config, proc = served
    service, root = plain
    for method, args, kwargs, kind, fragment in BAD_CALLS:
        assert_error(getattr(service, method)(root, *args, **kwargs), kind, fragment)
    elsewhere = str(config.root.parent / "elsewhere")
    for reply in (service.query(elsewhere, "x", 5), service.query_fts(elsewhere, "x"),
                  service.query_hybrid(elsewhere, "x"), service.index(elsewhere), service.clear_cache(elsewhere),
                  service.query(None, "x", 5)):
        assert_error(reply, "wrong_project", f"this daemon serves {config.root}")
    assert_error(service.get_status("extra"), "bad_argument", "too many positional arguments")
    # still serving, on this connection and on a new one
    assert json.loads(service.query_fts(root, "circleArea", limit=1))["hits"][0]["path"] == "src/geometry.js"
    status = json.loads(service.get_status())
    assert status["pid"] == proc.pid and status["query_errors"] >= 1
    assert proc.poll() is None


def test_status_and_clear_cache_are_json_objects(served, plain):
    config, proc = served
    service, root = plain
    json.loads(service.query(root, "sort numbers", 1))
    status = json.loads(service.get_status())
    assert status["pid"] == proc.pid and status["root"] == root and status["cache_state"] == "warm"
    assert {"version", "socket", "ttl_left_s", "generation_loaded", "queries", "cache_hits", "cache_misses",
            "indexing", "rss_bytes"} <= set(status)
    assert json.loads(service.clear_cache(root)) == {"cleared": True, "root": root}
    assert json.loads(service.get_status())["cache_state"] == "evicted"
    assert json.loads(service.clear_cache()) == {"cleared": True, "root": root}


def test_index_with_progress_on_a_deep_repository_then_the_example_client(tmp_path, embedder, reap_daemons):
    """Not indexed yet: a query is an `index_missing` error reply; index() with a callback builds it
    (progress arrives as plain tuples) and returns the summary; then the documented example client,
    which derives the long-path socket location itself, answers with no cidx module loaded."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    config = make_repo(deep / "repo", embedder, index=False)
    assert len(os.fsencode(config.config_dir / "daemon.sock")) > 107  # the socket lives elsewhere
    proc = spawn(config.root)
    try:
        wait_serving(config)
        conn = rpyc.utils.factory.unix_connect(socket_file(config.config_dir))
        try:
            service, root = conn.root, str(config.root)
            assert_error(service.query(root, "sort numbers", 3), "index_missing", "cidx index")
            events = []
            summary = json.loads(service.index(root, lambda values: events.append(values)))
            assert summary["files_indexed"] == summary["files_total"] == 6 and summary["generation"] >= 1
            assert events and all(type(e) is tuple and len(e) == 8 for e in events)
            assert events[-1][0] == "done"
            again = json.loads(service.index(root, None, fts_only=True))
            assert again["generation"] > summary["generation"]
        finally:
            conn.close()
        out = subprocess.run([sys.executable, "-c", NO_CIDX, str(EXAMPLE), str(config.root), "load_settings"],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert out.returncode == 0, out.stderr
        semantic = out.stdout.split("semantic, python only:")[0]
        assert semantic.startswith("semantic:\n  ") and "  src/config_loader.py:1  " in semantic, out.stdout
        assert "full-text, one typo allowed:\n  src/config_loader.py:" in out.stdout, out.stdout
        assert f"daemon {proc.pid}: cache warm" in out.stdout
        assert "as expected, bad_argument: unknown option 'colour'" in out.stdout
    finally:
        proc.kill()
        proc.wait(timeout=10)
