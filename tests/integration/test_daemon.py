"""The daemon as a real process on a real Unix socket with real RPyC, real indexes and the model."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import stat
import threading
import time

import pytest

from cidx.fastpath.socket_path import socket_path
from cidx.fastpath.errors import CidxError
from cidx.fastpath.params import QueryParams, parse_query_args
from cidx.fastpath.results import QueryResult
from cidx.services import run_query_standalone
from cidx.store.lock import WriterLock
from tests.conftest import git, run_cidx
from tests.integration.daemon_support import alive, make_repo, connect, hello, spawn, status, wait_serving, wait_until


@pytest.fixture
def repo(tmp_path, embedder, reap_daemons):
    return make_repo(tmp_path / "repo", embedder)


@pytest.fixture
def daemon(repo):
    proc = spawn(repo.root)
    wait_serving(repo)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def query(config, *argv, method="cli_query"):
    conn = connect(config)
    try:
        hello(conn, config)
        return as_dict(QueryResult.from_wire(conn.call(method, str(config.root), parse_query_args(list(argv)).to_wire())))
    finally:
        conn.close()


def standalone(config, *argv):
    return as_dict(run_query_standalone(config, parse_query_args(list(argv))))


def as_dict(result: QueryResult) -> dict:
    return {**result._asdict(), "hits": [h._asdict() for h in result.hits]}


def comparable(result):
    return [(h["path"], h["start_line"], round(h["score"], 4), h["source"]) for h in result["hits"]]


def test_answers_like_standalone_and_second_query_loads_nothing(repo, daemon):
    for argv in (["sort numbers"], ["circleArea", "--fts"], ["retry backoff", "--hybrid"]):
        assert comparable(query(repo, *argv)) == comparable(standalone(repo, *argv))
    before = status(repo)
    assert before["cache_state"] == "warm" and before["disk_loads"]["model"] == 1
    query(repo, "another semantic query")
    query(repo, "rectangleArea", "--fts")
    after = status(repo)
    assert after["disk_loads"] == before["disk_loads"]  # zero disk loads: all from memory
    assert after["cache_hits"] == before["cache_hits"] + 2 and after["cache_misses"] == before["cache_misses"]


def test_after_many_refreshes_each_segment_is_loaded_once_and_answers_match(repo, daemon):
    """Issue 17: every standalone `cidx index` below commits one delta segment; the daemon picks
    each new generation up by loading only that delta (ADR 0020) and answers like a fresh reader."""
    query(repo, "sort numbers")
    loads = status(repo)["disk_loads"]["hnsw"]
    for n in range(4):
        (repo.root / "src/edited.py").write_text(f"def edited_{n}(values):\n    return sorted(values)[{n}]\n")
        assert run_cidx("index", cwd=repo.root, env={"CIDX_NO_DAEMON": "1"}).returncode == 0
        for argv in (["sort numbers"], ["edited", "--fts"], ["pick a sorted value", "--hybrid"]):
            assert comparable(query(repo, *argv)) == comparable(standalone(repo, *argv))
        now = status(repo)
        assert now["disk_loads"]["hnsw"] == loads + n + 1  # the new delta, never the base again
        assert len(now["segments_held"]) == len(set(now["segments_held"])) == n + 2  # base + deltas


def test_the_cli_method_takes_the_mode_from_the_params_and_query_errors_are_data(repo, daemon):
    assert query(repo, "circleArea", "--fts")["mode"] == "fts"
    assert query(repo, "circleArea", "--hybrid")["mode"] == "hybrid"
    conn = connect(repo)
    try:
        with pytest.raises(CidxError, match="serves"):
            conn.call("cli_query", "/somewhere/else", parse_query_args(["x"]).to_wire())
        with pytest.raises(CidxError, match="malformed"):
            conn.call("cli_query", str(repo.root), '{"text": "x", "bogus": 1}')
        with pytest.raises(CidxError, match="malformed query parameters: bad limit"):
            conn.call("cli_query", str(repo.root), parse_query_args(["x"]).to_wire()[:2] + ("10",)
                      + (None,) * (len(QueryParams._fields) - 3))
        assert conn.call("ping") == daemon.pid  # still serving after errors
    finally:
        conn.close()


def test_queries_leave_no_per_connection_lines_in_the_log(repo, daemon):
    log_file = repo.config_dir / "daemon.log"
    query(repo, "circleArea", "--fts")
    before = log_file.read_text()
    for _ in range(5):
        query(repo, "circleArea", "--fts")
    added = log_file.read_text()[len(before):]
    assert added == "", added  # rpyc's accepted/welcome/goodbye lines would be 4 per query


def test_only_exposed_methods_are_reachable(repo, daemon):
    conn = connect(repo)
    try:
        for name in ("_state", "_run_query", "_check_project", "on_connect", "exposed_query.__globals__"):
            with pytest.raises(AttributeError):
                getattr(conn.conn.root, name)
        with pytest.raises(Exception):
            conn.conn.root.exposed_query.__globals__  # noqa: B018
    finally:
        conn.close()


def test_socket_mode_is_0600(repo, daemon):
    mode = stat.S_IMODE(os.stat(socket_path(repo.config_dir)).st_mode)
    assert mode == 0o600


def test_stale_socket_file_is_recovered(repo):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path(repo.config_dir)))
    stale.close()  # the file stays, nobody listens: what a kill -9 leaves behind
    proc = spawn(repo.root)
    try:
        assert wait_serving(repo)["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_two_daemons_started_at_once_one_serves_other_exits_0(repo):
    procs = [spawn(repo.root) for _ in range(2)]
    try:
        served = wait_serving(repo)["pid"]
        loser = next(p for p in procs if p.pid != served)
        assert loser.wait(timeout=30) == 0
        assert alive(served) and status(repo)["pid"] == served
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_ten_clients_at_once_all_correct(repo, daemon):
    cases = [["sort numbers"], ["circleArea", "--fts"], ["http retries", "--hybrid"], ["config", "--language", "python"],
             ["load_settings", "--fts", "--path-filter", "src/*"]]
    expected = {tuple(c): comparable(standalone(repo, *c)) for c in cases}
    errors, results = [], []

    def client(i):
        try:
            for round_ in range(4):
                argv = cases[(i + round_) % len(cases)]
                results.append(comparable(query(repo, *argv)) == expected[tuple(argv)])
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 40 and all(results)


def test_query_during_index_answers_from_committed_generation(repo, daemon, embedder):
    gen_before = query(repo, "circleArea", "--fts")["generation"]
    for i in range(60):
        (repo.root / f"bulk/file_{i}.py").parent.mkdir(exist_ok=True)
        (repo.root / f"bulk/file_{i}.py").write_text(f"def bulk_function_{i}():\n    return 'walrus{i}'\n")
    git(repo.root, "add", "-A")
    outcome = {}

    def index_in_daemon():
        conn = connect(repo, timeout=300)
        try:
            outcome["summary"] = json.loads(conn.call("cli_index", str(repo.root), None, False, False))
        finally:
            conn.close()

    indexer = threading.Thread(target=index_in_daemon)
    indexer.start()
    wait_until(lambda: status(repo)["indexing"], what="indexing to start")
    seen = set()
    while indexer.is_alive():
        result = query(repo, "circleArea", "--fts")
        assert [h["path"] for h in result["hits"]] == ["src/geometry.js"]
        seen.add(result["generation"])
    indexer.join()
    assert outcome["summary"]["files_indexed"] == 60
    assert min(seen) >= gen_before
    after = query(repo, "walrus59", "--fts")
    assert after["generation"] == outcome["summary"]["generation"] and after["hits"][0]["path"] == "bulk/file_59.py"


def test_coherent_after_standalone_reindex(repo, daemon):
    assert query(repo, "platypus", "--fts")["hits"] == []
    (repo.root / "src/geometry.js").write_text("function platypus() {}\n")
    done = run_cidx("index", cwd=repo.root, env={"CIDX_NO_DAEMON": "1"})
    assert done.returncode == 0, done.stderr
    assert [h["path"] for h in query(repo, "platypus", "--fts")["hits"]] == ["src/geometry.js"]
    assert query(repo, "circleArea", "--fts")["hits"] == []


def test_the_daemon_loads_its_own_commits_before_any_query(repo, daemon):
    """Indexing in the daemon refreshes its warm reader after each commit (ADR 0020): the new
    generation is loaded before the next query asks, and a cold cache is left cold."""
    query(repo, "sort numbers")
    (repo.root / "src/walrus.py").write_text("def walrus_count(herd):\n    return len(herd)\n")
    done = run_cidx("index", cwd=repo.root)
    assert done.returncode == 0, done.stderr
    now = status(repo)
    assert now["generation_loaded"] == query(repo, "walrus_count", "--fts")["generation"]
    assert now["generation_loaded"] > 1 and len(now["segments_held"]) == 2  # base + the new delta


def test_second_index_while_one_runs_is_refused_clearly(repo, daemon):
    with WriterLock(repo.index_dir / "writer.lock"):  # a standalone indexer holds the writer lock
        conn = connect(repo)
        try:
            with pytest.raises(CidxError, match="already running"):
                conn.call("cli_index", str(repo.root), None, False, False)
        finally:
            conn.close()


def test_ttl_eviction_and_reload(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, ttl_minutes=0.01, eviction_check_interval_seconds=0.1)
    proc = spawn(config.root)
    try:
        wait_serving(config)
        query(config, "circleArea", "--fts")
        assert status(config)["cache_state"] == "warm"
        evicted = wait_until(lambda: (s := status(config)) and s["cache_state"] == "evicted" and s, timeout=10,
                             what="TTL eviction")
        assert evicted["generation_loaded"] is None
        query(config, "circleArea", "--fts")
        again = status(config)
        assert again["cache_state"] == "warm" and again["cache_misses"] >= 2  # loaded again on demand
    finally:
        proc.kill()
        proc.wait()


def test_auto_shutdown_when_idle_and_expired(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, ttl_minutes=0.005, eviction_check_interval_seconds=0.1,
                       auto_shutdown_on_idle=True)
    proc = spawn(config.root)
    wait_serving(config)
    assert proc.wait(timeout=20) == 0
    assert not os.path.lexists(socket_path(config.config_dir))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_cleans_up_socket_and_lock(repo, daemon, signum):
    daemon.send_signal(signum)
    assert daemon.wait(timeout=20) == 0
    assert not os.path.lexists(socket_path(repo.config_dir))
    with WriterLock(repo.index_dir / "writer.lock"):  # free: acquiring does not raise
        pass
    assert "stopped" in (repo.config_dir / "daemon.log").read_text()


def test_deep_directory_path(tmp_path, embedder, reap_daemons):
    deep = tmp_path.joinpath(*["a_rather_long_directory_name"] * 5) / "repo"
    config = make_repo(deep, embedder)
    assert len(os.fsencode(str(config.config_dir / "daemon.sock"))) > 108
    proc = spawn(config.root)
    try:
        wait_serving(config)
        assert query(config, "circleArea", "--fts")["hits"][0]["path"] == "src/geometry.js"
        sock = socket_path(config.config_dir)
        assert sock != config.config_dir / "daemon.sock" and len(os.fsencode(str(sock))) <= 107
        assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
        assert (config.config_dir / "daemon.sock.path").read_text().strip() == str(sock)
    finally:
        proc.kill()
        proc.wait()


def test_config_change_replaces_the_daemon(repo, daemon):
    conn = connect(repo)
    old = dataclasses.replace(repo, daemon=dataclasses.replace(repo.daemon, ttl_minutes=99))
    try:
        assert hello(conn, old)[3] is False  # another fingerprint: not compatible
    finally:
        conn.close()
    assert daemon.wait(timeout=20) == 0  # it left so the right one can start


def test_a_damaged_index_is_repaired_through_the_daemon(repo):
    generation = max(g for g, _ in __import__("cidx.store.layout", fromlist=["IndexLayout"]).IndexLayout(
        repo.index_dir).generation_files())
    hnsw = repo.index_dir / f"hnsw-{generation}.bin"
    hnsw.write_bytes(hnsw.read_bytes()[:100])  # truncated
    broken = run_cidx("query", "sort numbers", cwd=repo.root)
    assert broken.returncode == 1 and "cidx index --clear" in broken.stderr and broken.stderr.count("\n") == 1
    repaired = run_cidx("index", "--clear", cwd=repo.root)
    assert repaired.returncode == 0, repaired.stderr
    assert status(repo) is not None  # done by the daemon
    fixed = run_cidx("query", "sort numbers", "-q", cwd=repo.root)
    assert fixed.returncode == 0 and fixed.stdout.startswith("lib/sorting.go:")


def test_an_index_of_the_older_text_analysis_is_rebuilt_through_the_daemon(repo):
    """ADR 0013: the query names the fix, and `cidx index --fts-only` works with the daemon enabled."""
    from cidx.store.layout import IndexLayout
    from tests.integration.test_fts_words import _replace_with_v1_index

    layout = IndexLayout(repo.index_dir)
    _replace_with_v1_index(layout.fts_dir(max(g for g, _ in layout.generation_files())))
    stale = run_cidx("query", "circle area", "--fts", cwd=repo.root)
    assert stale.returncode == 1 and "cidx index --fts-only" in stale.stderr and stale.stderr.count("\n") == 1
    rebuilt = run_cidx("index", "--fts-only", cwd=repo.root)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert status(repo) is not None  # done by the daemon
    fixed = run_cidx("query", "circle area", "--fts", "-q", cwd=repo.root)
    assert fixed.returncode == 0 and fixed.stdout.startswith("src/geometry.js:2\n")


def test_a_watch_keeps_an_auto_shutdown_daemon_alive(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder, ttl_minutes=0.03, eviction_check_interval_seconds=0.1,
                       auto_shutdown_on_idle=True)  # a TTL (1.8 s) longer than a daemon's start-up
    assert run_cidx("watch", "--debounce", "0.2", cwd=config.root).returncode == 0  # starts the daemon
    pid = wait_serving(config)["pid"]
    deadline = time.monotonic() + 4.0  # two TTLs and forty eviction checks
    while time.monotonic() < deadline:
        assert alive(pid), "the daemon idled out while watching"
        time.sleep(0.05)
    assert run_cidx("watch", "--stop", cwd=config.root).returncode == 0
    wait_until(lambda: not alive(pid), timeout=20, what="the idle daemon to leave once the watch stops")


class RecordingSocket:
    """Wraps a client socket and keeps every byte it receives."""

    def __init__(self, sock):
        self.sock, self.received = sock, bytearray()

    def recv(self, n):
        data = self.sock.recv(n)
        self.received += data
        return data

    def __getattr__(self, name):
        return getattr(self.sock, name)


def frame_flags(stream: bytes) -> list[int]:
    """The compression flag of each RPyC frame (`!LB` header, payload, b"\\n") in `stream`."""
    flags, pos = [], 0
    while pos < len(stream):
        length = int.from_bytes(stream[pos:pos + 4], "big")
        flags.append(stream[pos + 4])
        pos += 5 + length + 1
    assert pos == len(stream)
    return flags


def test_replies_travel_uncompressed(tmp_path, embedder, reap_daemons):
    # Over a Unix socket compression only costs time at both ends, and a client that may receive
    # compressed frames must load zlib (~0.4 ms of a fast-path query; ADR 0010).
    from cidx.fastpath.wire import WireConnection

    root = tmp_path / "repo"
    (root / "notes").mkdir(parents=True)
    for i in range(10):  # ten ~1 KB chunks: a reply above rpyc's 3000-byte compression threshold
        (root / "notes" / f"walrus_{i}.md").write_text(f"walrus line {i} .......................\n" * 25)
    repo = make_repo(root, embedder)
    spawn(repo.root)
    wait_serving(repo)
    conn = WireConnection(socket_path(repo.config_dir), call_timeout=60)
    conn.sock = RecordingSocket(conn.sock)
    try:
        hello(conn, repo)
        params = parse_query_args(["walrus", "--fts", "-l", "10", "--snippet-lines", "50"]).to_wire()
        assert QueryResult.from_wire(conn.call("cli_query", str(repo.root), params)).hits
    finally:
        conn.close()
    assert frame_flags(bytes(conn.sock.received)) == [0, 0, 0]  # root, hello, query
    assert len(conn.sock.received) > 6000  # well above rpyc's 3000-byte compression threshold
