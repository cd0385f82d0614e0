"""Bad and hostile input: malformed config.json, absurd queries, hostile repository contents, files
deleted while indexing. Each case: one clear line on stderr (no traceback), a non-zero exit (or, for
repository contents, a clean index run), and nothing lost: the index still verifies and answers as
before."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from cidx.fastpath.params import parse_query_args
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from cidx.store.lock import WriterLock
from tests.conftest import kill_daemons
from tests.integration.daemon_support import status, wait_serving, wait_until
from tests.reliability.support import (REPORT, Daemons, assert_one_line_error, assert_same_hits, cli,
                                       committed_generation, make_repo, oracle, query_json)

REFERENCE = ["circleArea", "--fts"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    base = tmp_path_factory.mktemp("bad-input")
    config = make_repo(base / "repo", embedder)
    baseline = oracle(config, parse_query_args(REFERENCE), embedder)
    yield config, baseline
    kill_daemons(base)


def assert_nothing_lost(config, baseline, embedder) -> None:
    assert verify_index(IndexLayout(config.index_dir)) == []
    again = oracle(config, parse_query_args(REFERENCE), embedder)
    assert again.generation == baseline.generation
    assert_same_hits(again, baseline, "after the bad input")


# --- config.json -----------------------------------------------------------------------------------

def _json(obj) -> bytes:
    return json.dumps(obj).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000
CONFIGS = {
    "invalid JSON": b'{"version": "2.0.0",',
    "empty file": b"",
    "null": b"null",
    "a list": b"[1, 2]",
    "a string": b'"config"',
    "non-UTF-8 bytes": b'\xff\xfe\x00{"version": "2.0.0"}',
    "Latin-1 in a string": b'{"embedding": {"model": "caf\xe9"}}',
    "enabled is a string": _json({"daemon": {"enabled": "yes"}}),
    "daemon is a list": _json({"daemon": [1, 2]}),
    "excludes is a string": _json({"exclude_patterns": "*.py"}),
    "fractional batch size": _json({"embedding": {"batch_size": 1.5}}),
    "huge integer": b'{"max_file_size": 1' + b"0" * 400 + b"}",
    "float overflow": b'{"daemon": {"ttl_minutes": 1e400}}',
    "NaN": b'{"daemon": {"eviction_check_interval_seconds": NaN}}',
    "negative retries": _json({"daemon": {"max_retries": -1}}),
    "huge delay": _json({"daemon": {"enabled": True, "retry_delays_ms": [10 ** 30], "max_retries": 1}}),
    "thousand delays": _json({"daemon": {"enabled": True, "retry_delays_ms": [1] * 1000, "max_retries": 1}}),
    "nested junk": _json({"daemon": {"enabled": False, "junk": {"a": [1, {"b": None}, [[[]]]]}}}),
    "unknown provider": _json({"embedding": {"provider": "magic"}}),
    "provider is an object": _json({"embedding": {"provider": {"name": "local"}}}),
    "unknown key": _json({"telemetry": True}),
    "future schema": _json({"version": "9.0.0"}),
    "a directory": None,
    "deeply nested JSON": DEEP,  # json raises RecursionError, not a JSONDecodeError
    "100 KB key": _json({"k" * 100_000: 1}),  # the error must not echo it whole
    # the query fast path reads only the daemon keys: the rest must still be validated before any spawn
    "daemon enabled, another key invalid": _json({"daemon": {"enabled": True, "retry_delays_ms": [20, 50],
                                                            "max_retries": 2}, "max_file_size": "big"}),
}
@pytest.mark.parametrize("body", CONFIGS.values(), ids=CONFIGS)
def test_malformed_config_is_one_clear_line(indexed, embedder, body):
    config, baseline = indexed
    path = config.config_path
    good = path.read_bytes()
    with REPORT.trial("bad config"):
        REPORT.fault("bad config.json")
        try:
            path.unlink()
            if body is None:
                path.mkdir()
            else:
                path.write_bytes(body)
            for args in (["query", *REFERENCE, "--quiet"], ["index"]):
                proc = cli(config, *args, timeout=60)
                line = assert_one_line_error(proc, contains="config.json")
                assert len(line) < 1000, f"{len(line)} characters is not a clear line"
        finally:
            kill_daemons(config.root)  # one the client auto-started could read the restored config and serve
            if path.is_dir():
                path.rmdir()
            path.write_bytes(good)
        assert_nothing_lost(config, baseline, embedder)


# --- queries ---------------------------------------------------------------------------------------

QUERIES = {
    "100 KB query": ["x" * 100_000],
    "empty query": [""],
    "blank query": ["   "],
    "invalid regex": ["(unclosed", "--fts", "--regex"],
    "regex without --fts": ["a.*b", "--regex"],
    "no words for FTS": ["!!!", "--fts"],
    "limit 0": ["x", "--limit", "0"],
    "limit beyond int64": ["x", "--limit", "9" * 30],
    "limit not a number": ["x", "--limit", "ten"],
    "min-score NaN": ["x", "--min-score", "nan"],
    "edit distance 7": ["x", "--fts", "--edit-distance", "7"],
    "unknown option": ["x", "--frobnicate"],
    "quiet and json": ["x", "--quiet", "--json"],
    "non-UTF-8 bytes": [b"caf\xe9\xff"],  # typed in a Latin-1 terminal: surrogates reach the tokenizer
}
@pytest.fixture(scope="module")
def served(indexed):
    config, _ = indexed
    kill_daemons(config.root)
    tracker = Daemons(config.root)
    daemon = tracker.spawn(config.root)
    assert wait_serving(config, timeout=60)["pid"] == daemon.pid
    yield config, daemon.pid
    tracker.kill_all()


@pytest.mark.parametrize("mode", ["standalone", "daemon"])
@pytest.mark.parametrize("argv", QUERIES.values(), ids=QUERIES)
def test_bad_query_is_one_clear_line(indexed, served, embedder, argv, mode):
    config, baseline = indexed
    _, pid = served
    env = {"CIDX_NO_DAEMON": "1"} if mode == "standalone" else {}
    with REPORT.trial("bad query"):
        REPORT.fault("bad query")
        args = [os.fsencode(sys.executable), b"-m", b"cidx", b"query", *(os.fsencode(a) for a in argv)]
        proc = subprocess.run(args, cwd=config.root, env={**os.environ, **env}, capture_output=True, timeout=120)
        proc.stderr = proc.stderr.decode(errors="replace")
        line = assert_one_line_error(proc)
        assert "daemon unavailable" not in line and "internal error" not in line and "daemon error" not in line
        if mode == "daemon":
            after = status(config)
            assert after is not None and after["pid"] == pid  # a bad query never costs a restart
        assert_nothing_lost(config, baseline, embedder)


# --- repository contents ---------------------------------------------------------------------------

def plant_hostile_files(root) -> dict[str, str]:
    """Files no indexer should choke on; returns marker word -> the path that must be found."""
    h = root / "hostile"
    h.mkdir()
    (h / "binary.py").write_bytes(os.urandom(4000) + b"\0" + b"def hostile_binary(): pass\n")
    (h / "latin1.py").write_bytes("def caf\xe9():\n    return 'hostile_latin'\n".encode("latin-1"))
    (h / "mixed.py").write_bytes(b"def ok():\n    return 'hostile_mixed'\n" + b"\xff\xfe\xfd\n" * 10)
    (h / "utf16.py").write_bytes("def hostile_utf16(): pass\n".encode("utf-16"))
    (h / "crlf.py").write_bytes(b"def hostile_crlf():\r\n    return 1\r\n")
    (h / "empty.py").write_bytes(b"")
    (h / "long_line.py").write_text("x = '" + "a" * 200_000 + "'  # hostile_long\n")
    (h / "many_lines.py").write_text("\n" * 50_000 + "def hostile_deep(): pass\n")
    (h / "spaces and \u00fcnicode.py").write_text("def hostile_unicode(): pass\n")
    (h / "new\nline.py").write_text("def hostile_newline(): pass\n")
    (h / "tab\tname.py").write_text("def hostile_tab(): pass\n")
    (h / "-rf.py").write_text("def hostile_dash(): pass\n")
    open(os.path.join(os.fsencode(h), b"name_\xe9\xff.py"), "wb").write(b"def hostile_badname(): pass\n")
    os.mkfifo(h / "fifo.py")  # reading it would block forever
    os.symlink("loop_b.py", h / "loop_a.py")
    os.symlink("loop_a.py", h / "loop_b.py")
    os.symlink("..", h / "parent_loop")
    os.symlink(".", h / "self_loop")
    os.symlink("/etc/passwd", h / "passwd.py")  # outside the repository: never read
    os.symlink("missing.py", h / "dangling.py")
    return {"hostile_latin": "hostile/latin1.py", "hostile_mixed": "hostile/mixed.py",
            "hostile_utf16": "hostile/utf16.py", "hostile_crlf": "hostile/crlf.py",
            "hostile_long": "hostile/long_line.py", "hostile_deep": "hostile/many_lines.py",
            "hostile_unicode": "hostile/spaces and \u00fcnicode.py", "hostile_newline": "hostile/new\nline.py",
            "hostile_tab": "hostile/tab\tname.py", "hostile_dash": "hostile/-rf.py",
            "circleArea": "src/geometry.js"}


@pytest.mark.parametrize("where", ["standalone", "daemon"])
def test_hostile_repository_contents_index_cleanly(tmp_path, embedder, daemons, where):
    config = make_repo(tmp_path / "repo", embedder)
    expected = plant_hostile_files(config.root)
    with REPORT.trial("hostile repository"):
        REPORT.fault("hostile files", 20)
        if where == "daemon":
            daemon = daemons.spawn(config.root)
            assert wait_serving(config, timeout=60)["pid"] == daemon.pid
        proc = cli(config, "index", env={"CIDX_NO_DAEMON": "1"} if where == "standalone" else None, timeout=300)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert "daemon unavailable" not in proc.stderr
        if where == "daemon":
            assert status(config)["pid"] == daemon.pid  # it indexed them and lived
        assert verify_index(IndexLayout(config.index_dir)) == []
        for word, path in expected.items():
            found = [h["path"] for h in json.loads(query_json(config, word, "--fts", env={"CIDX_NO_DAEMON": "1"})[0]
                                                   .stdout)["hits"]]
            assert path in found, f"{word}: {found}"
        for word in ("hostile_binary", "hostile_badname", "root"):  # binary, unrepresentable name, /etc/passwd
            proc, result = query_json(config, word, "--fts", env={"CIDX_NO_DAEMON": "1"})
            assert [h["path"] for h in result["hits"] if h["path"].startswith("hostile/")] == [], word


def test_files_deleted_and_replaced_while_indexing(tmp_path, embedder):
    config = make_repo(tmp_path / "repo", embedder)
    bulk = config.root / "bulk"
    bulk.mkdir()
    for i in range(150):
        (bulk / f"f{i:03d}.py").write_text(f"def vanishing_{i}():\n    return 'v{i}marker'\n")
    rng = random.Random(7)
    doomed = sorted(rng.sample(range(150), 75))
    with REPORT.trial("files deleted mid-index"):
        REPORT.fault("file deleted or replaced mid-index", len(doomed))
        proc = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=config.root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "CIDX_NO_DAEMON": "1", "CIDX_INDEX_BATCH_FILES": "10"})
        lock = WriterLock(IndexLayout(config.index_dir).lock_path)
        wait_until(lambda: proc.poll() is not None or lock.holder_pid() == proc.pid, 120, what="indexing to start")
        for n, i in enumerate(doomed):
            path = bulk / f"f{i:03d}.py"
            path.unlink()
            if n % 3 == 1:
                path.mkdir()  # a file that became a directory
            elif n % 3 == 2:
                os.mkfifo(path)  # ... or a FIFO
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, err
        assert verify_index(IndexLayout(config.index_dir)) == []
        again = cli(config, "index", env={"CIDX_NO_DAEMON": "1"}, timeout=300)
        assert again.returncode == 0, again.stderr
        assert verify_index(IndexLayout(config.index_dir)) == []
        for i in (doomed[0], doomed[-1], *[j for j in range(150) if j not in doomed][:5]):
            _, result = query_json(config, f"v{i}marker", "--fts", env={"CIDX_NO_DAEMON": "1"})
            assert [h["path"] for h in result["hits"]] == ([] if i in doomed else [f"bulk/f{i:03d}.py"]), i
    shutil.rmtree(bulk, ignore_errors=True)
    assert committed_generation(config) >= 2
