"""The client as users run it (`python -m cidx ...` in a subprocess) against real daemons."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cidx import __version__
from cidx.fastpath import code_pack
from cidx.fastpath.code_pack import PACKED
from cidx.fastpath.delegate import run_via_daemon
from cidx.fastpath.socket_path import socket_path
from cidx.fastpath.errors import CidxError
from cidx.fastpath.params import parse_query_args
from tests.conftest import run_cidx
from tests.integration.daemon_support import alive, fast_path_modules, make_repo, connect, status, wait_serving, wait_until

FAST = {"retry_delays_ms": [50, 100, 200], "max_retries": 3}


@pytest.fixture
def repo(tmp_path, embedder, reap_daemons):
    return make_repo(tmp_path / "repo", embedder)


def cidx(config, *args, env=None):
    return run_cidx(*args, cwd=config.root, env=env)


def test_first_query_auto_starts_the_daemon_quietly(repo):
    assert status(repo) is None
    out = cidx(repo, "query", "circleArea", "--fts", "-q")
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n" and out.stderr == ""
    first = wait_serving(repo)
    assert first["queries"] == 1  # the query was answered by the daemon, not in-process
    cidx(repo, "query", "circleArea", "--fts", "-q")
    assert status(repo)["pid"] == first["pid"] and status(repo)["queries"] == 2


def test_sigkilled_daemon_is_restarted(repo):
    cidx(repo, "query", "circleArea", "--fts", "-q")
    old = wait_serving(repo)["pid"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: not alive(old), what="the daemon to die")
    out = cidx(repo, "query", "circleArea", "--fts", "-q")
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n" and out.stderr == ""
    new = status(repo)
    assert new["pid"] != old and new["queries"] == 1


def test_socket_file_without_daemon_is_recovered(repo):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path(repo.config_dir)))
    stale.close()
    out = cidx(repo, "query", "circleArea", "--fts", "-q")
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n" and out.stderr == ""
    assert status(repo)["queries"] == 1


def test_daemon_that_accepts_but_never_answers_leads_to_fallback(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, **FAST)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path(config.config_dir)))
    listener.listen(64)
    held, stop = [], threading.Event()

    def accept_and_hang():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # never read, never answer
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_hang, daemon=True)
    thread.start()
    try:
        out = cidx(config, "query", "circleArea", "--fts", "-q")
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n"
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "daemon unavailable" in lines[0] and "cidx status" in lines[0]
    assert len(held) >= 2  # it tried again (restart) before giving up
    assert os.path.lexists(socket_path(config.config_dir))  # a live listener's socket is never deleted


def test_restarts_exhausted_fall_back_with_one_clear_line(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, **FAST)
    socket_path(config.config_dir).mkdir()  # a daemon can never bind here
    out = cidx(config, "query", "circleArea", "--fts", "-q")
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n"
    assert out.stderr.count("\n") == 1
    assert "daemon unavailable" in out.stderr and "cidx status" in out.stderr and "daemon.log" in out.stderr
    assert "is a directory" in (config.config_dir / "daemon.log").read_text()


def test_backoff_delays_come_from_the_config(tmp_path, embedder):
    config = make_repo(tmp_path / "repo", embedder, index=False, retry_delays_ms=[7, 11, 13], max_retries=2)
    slept, spawned = [], []
    outcome = run_via_daemon(config, lambda conn: None, sleep=slept.append, spawn=spawned.append)
    assert not outcome.via_daemon and spawned == [config.root]
    assert slept == [0.007, 0.011]  # max_retries attempts, delays in order


def test_query_errors_are_errors_not_crashes(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, index=False)
    out = cidx(config, "query", "anything")
    assert out.returncode == 1 and "run `cidx index`" in out.stderr and out.stderr.count("\n") == 1
    first = wait_serving(config)
    out = cidx(config, "query", "anything", "--fts")
    assert out.returncode == 1 and "daemon unavailable" not in out.stderr
    again = status(config)
    assert again["pid"] == first["pid"] and again["query_errors"] == 2  # no restart


def test_changed_config_replaces_the_daemon_transparently(repo):
    cidx(repo, "query", "circleArea", "--fts", "-q")
    old = wait_serving(repo)["pid"]
    assert cidx(repo, "config", "--daemon-ttl", "3").returncode == 0
    out = cidx(repo, "query", "circleArea", "--fts", "-q")
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n" and out.stderr == ""
    new = status(repo)
    assert new["pid"] != old and new["ttl_minutes"] == 3
    wait_until(lambda: not alive(old), what="the old daemon to exit")


def test_daemon_of_another_version_leaves(repo):
    cidx(repo, "query", "circleArea", "--fts", "-q")
    pid = wait_serving(repo)["pid"]
    conn = connect(repo)
    try:
        reply = conn.call("hello", "0.0.0-old", repo.fingerprint(), str(repo.root))
        # a query the client pipelined behind the handshake is refused, not answered by old code
        with pytest.raises(CidxError, match="leaving"):
            conn.call("cli_query", str(repo.root), parse_query_args(["circleArea", "--fts"]).to_wire())
    finally:
        conn.close()
    assert reply[0] == __version__ and reply[3] is False
    wait_until(lambda: not alive(pid), what="the outdated daemon to exit")


def test_the_query_is_pipelined_behind_the_handshake(repo):
    from cidx.fastpath.wire import HANDLE_GETROOT, WireConnection
    from cidx.fastpath.results import QueryResult

    cidx(repo, "query", "circleArea", "--fts", "-q")  # a warm daemon
    sent = []

    class RecordingWire(WireConnection):  # the real client, noting what it puts on the socket
        def _send(self, handler, boxed_args):
            sent.append("getroot" if handler == HANDLE_GETROOT else boxed_args[1][1][1])
            return super()._send(handler, boxed_args)

        def _receive(self, seq):
            sent.append("read a reply")
            return super()._receive(seq)

    call = ("cli_query", str(repo.root), parse_query_args(["circleArea", "--fts"]).to_wire())
    outcome = run_via_daemon(repo, lambda conn: conn.call(*call), send_ahead=call, connection_class=RecordingWire)
    assert outcome.via_daemon and QueryResult.from_wire(outcome.value).hits[0].path == "src/geometry.js"
    # hello and query are written back to back before any reply is read: two round trips, not three
    assert sent == ["getroot", "read a reply", "hello", "cli_query", "read a reply", "read a reply"]


def test_index_runs_in_the_daemon(repo):
    (repo.root / "src/extra.py").write_text("def okapi_function():\n    pass\n")
    out = cidx(repo, "index")
    assert out.returncode == 0 and "indexed 1 files" in out.stderr
    st = wait_serving(repo)
    assert st["disk_loads"]["model"] == 1  # the daemon's warm model did the embedding
    assert cidx(repo, "query", "okapi_function", "--fts", "-q").stdout == "src/extra.py:1\n"


# --- parity: every option gives identical output and exit code through the daemon and standalone ---

PARITY_CASES = [
    ["sort numbers", "--json"],
    ["circleArea", "--fts", "--json"],
    ["retries with backoff", "--hybrid", "--json"],
    ["BubbleSort", "--fts", "--semantic", "--json"],
    ["function", "-l", "2", "--json"],
    ["function", "--language", "go", "--json"],
    ["function", "--exclude-language", "python", "--json"],
    ["configuration", "--path-filter", "src/*", "--json"],
    ["configuration", "--exclude-path", "src/*", "--json"],
    ["configuration file", "--min-score", "0.2", "--json"],
    ["sorting", "--accuracy", "high", "--json"],
    ["circleAria", "--fts", "--fuzzy", "--json"],
    ["cirkleAria", "--fts", "--edit-distance", "2", "--json"],
    ["ParseConfig", "--fts", "--case-sensitive", "--json"],
    [r"return width \* height", "--fts", "--regex", "--json"],
    ["circleArea", "--fts", "--snippet-lines", "0", "--json"],
    ["circleArea", "--fts", "-q"],
    ["circleArea", "--fts"],
    ["http client", "--hybrid", "--snippet-lines", "2"],
    ["circle area", "--fts", "--json"],
    ["sort the integers in a slice quickly", "--fts", "--json"],
    ["circleArea BubbleSort", "--fts", "--any-term", "--json"],
    ["sort the integers in a slice quickly", "--hybrid", "--json"],
    ["sort integers", "--hybrid", "--any-term", "-q"],
    ["x", "--any-term"],
    ["x", "--language", "klingon"],
    ["()", "--fts"],
    ["(", "--fts", "--regex"],
    ["x", "--limit", "0"],
]


@pytest.fixture(scope="module")
def parity_repo(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("parity") / "repo"
    config = make_repo(root, embedder)
    yield config
    from tests.conftest import kill_daemons

    kill_daemons(root)


@pytest.mark.parametrize("argv", PARITY_CASES, ids=[" ".join(c) for c in PARITY_CASES])
def test_parity_daemon_and_standalone(parity_repo, argv):
    via_daemon = cidx(parity_repo, "query", *argv)
    standalone = cidx(parity_repo, "query", *argv, env={"CIDX_NO_DAEMON": "1"})
    assert "daemon unavailable" not in via_daemon.stderr
    assert (via_daemon.returncode, via_daemon.stdout, via_daemon.stderr) == \
        (standalone.returncode, standalone.stdout, standalone.stderr)
    if "--json" in argv and via_daemon.returncode == 0:
        assert json.loads(via_daemon.stdout)["hits"] or argv[0] in ("configuration file",)
    assert status(parity_repo)["queries"] > 0


HEAVY = ("click", "rich", "numpy", "tantivy", "hnswlib", "tokenizers", "safetensors")
# Light but costly in a fresh interpreter (ADR 0008, ADR 0009): the warm path does without them.
COSTLY = ("rpyc", "transitions", "dataclasses", "inspect", "json", "re", "argparse", "pathlib", "socket", "enum",
          "subprocess", "__future__", "struct", "_struct", "cidx.config", "cidx.lifecycle.cache", "cidx.client.connection")


@pytest.mark.parametrize("output", [["-q"], ["--json"], []])
def test_fast_path_imports_nothing_heavy_and_exits_fast(repo, tmp_path, output):
    cidx(repo, "query", "circleArea", "--fts", "-q")  # the daemon is up: this is the warm path
    modules = fast_path_modules(repo, tmp_path / "modules.txt", output)
    leaked = [m for m in HEAVY + COSTLY if m in modules]
    assert not leaked, f"fast path imported {leaked}"
    assert "cidx.fastpath.wire" in modules and "cidx.cli" not in modules
    # The code pack holds exactly the cidx modules the fast path imports after the entry point.
    assert {m for m in modules if m.split(".")[0] == "cidx"} - {"cidx", "cidx.entry", "cidx.fastpath", "cidx.fastpath.code_pack"} == set(PACKED)


def test_fast_path_modules_come_from_a_current_code_pack(repo, tmp_path):
    cidx(repo, "query", "circleArea", "--fts", "-q")
    assert code_pack.write()  # what `make install` and every daemon start do
    loaders = fast_path_modules(repo, tmp_path / "modules.txt", ["-q"])
    assert {loaders[m] for m in PACKED} == {"PackFinder"}
    assert loaders["cidx.entry"] == "SourceFileLoader"


def test_a_starting_daemon_brings_the_code_pack_up_to_date(tmp_path, embedder, reap_daemons):
    assert code_pack.write(modules=code_pack.PACKED[:3])  # a pack, but not for today's fast path
    assert not code_pack.is_current()
    config = make_repo(tmp_path / "repo", embedder)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    daemon = subprocess.Popen([sys.executable, "-m", "cidx.daemon", str(config.root)], cwd=config.root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_serving(config)
        wait_until(code_pack.is_current, timeout=30, what="the daemon to rewrite the code pack")
    finally:
        daemon.kill()
        daemon.wait(timeout=10)


def test_a_reader_that_leaves_is_not_an_error(repo):
    cidx(repo, "query", "circleArea", "--fts", "-q")  # warm daemon
    for env in ({}, {"CIDX_NO_DAEMON": "1"}):
        proc = subprocess.Popen([sys.executable, "-m", "cidx", "query", "function", "-l", "1000", "--snippet-lines", "200", "--fts"],
                                cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, **env})
        proc.stdout.close()  # like `| head` that has already left
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (141, b""), (env, err)


def test_output_arrives_whole_through_the_fast_exit(tmp_path, embedder, reap_daemons):
    root = tmp_path / "repo"
    bulk = root / "bulk"
    bulk.mkdir(parents=True)
    for i in range(80):  # one ~750-byte chunk each: ~80 KB of hits, more than a pipe holds
        (bulk / f"notes_{i}.md").write_text("".join(f"walrus line {n:02} of file {i:02} ........\n" for n in range(20)))
    repo = make_repo(root, embedder)
    # Block-buffered stdout, as for a user piping the output: a small result sits in the buffer
    # until the exit flushes it; a large one spans several socket reads.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for argv in (["walrus", "-l", "2", "--fts", "-q"], ["walrus", "-l", "1000", "--snippet-lines", "200", "--fts", "--json"]):
        runs = [subprocess.run([sys.executable, "-m", "cidx", "query", *argv], cwd=root, capture_output=True,
                               env={**env, **extra}, timeout=120) for extra in ({}, {"CIDX_NO_DAEMON": "1"})]
        via_daemon, standalone = runs
        assert via_daemon.stdout and (via_daemon.returncode, via_daemon.stdout) == (0, standalone.stdout)
        assert via_daemon.stderr == b""
    assert len(via_daemon.stdout) > 65536
    assert status(repo)["queries"] == 2


def test_daemon_starts_in_a_repository_that_shadows_the_stdlib(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, **FAST)
    for name in ("json", "logging", "socket"):
        (config.root / name).mkdir()
        (config.root / name / "__init__.py").write_text("raise ImportError('shadowed stdlib module')\n")
    script = Path(sys.executable).parent / "cidx"  # what users run (`python -m` in the repo would shadow too)
    out = subprocess.run([str(script), "query", "circleArea", "--fts", "-q"], cwd=config.root, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n" and out.stderr == ""
    assert wait_serving(config)["queries"] == 1


def test_bad_config_is_reported_before_spawning_a_daemon(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, **FAST)
    raw = json.loads(config.config_path.read_text())
    raw["daemon"]["ttl_minutes"] = 0
    config.config_path.write_text(json.dumps(raw))
    out = cidx(config, "query", "circleArea", "--fts", "-q")
    assert out.returncode == 1 and "daemon.ttl_minutes" in out.stderr and out.stderr.count("\n") == 1
    assert "daemon unavailable" not in out.stderr and status(config) is None


def test_fts_through_the_daemon_needs_no_embedding_provider(tmp_path, embedder, reap_daemons, monkeypatch):
    config = make_repo(tmp_path / "repo", embedder)
    raw = json.loads(config.config_path.read_text())
    raw["embedding"] = {"provider": "voyage", "model": "voyage-code-3"}  # and no VOYAGE_API_KEY
    config.config_path.write_text(json.dumps(raw))
    env = {"VOYAGE_API_KEY": ""}
    out = cidx(config, "query", "circleArea", "--fts", "-q", env=env)
    assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n" and out.stderr == ""
    semantic = cidx(config, "query", "circle area", env=env)
    assert semantic.returncode == 1 and "VOYAGE_API_KEY" in semantic.stderr and "daemon unavailable" not in semantic.stderr
