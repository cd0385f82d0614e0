"""Damage on disk: truncated or corrupted files of each store (meta.sqlite, hnsw-N.bin, fts-N/), a
socket path taken by something that is not a socket, and a full disk (a 2 MB tmpfs).

A damaged store: a query says so in one line that names the fix, through the daemon as well as
standalone (and the daemon survives it); the fix it names (`cidx index --clear`) recovers the index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from cidx.config import load_config
from cidx.fastpath.socket_path import socket_path
from cidx.fastpath.params import parse_query_args
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from tests.conftest import daemon_pids, kill_daemons
from tests.integration.daemon_support import connect, status, wait_serving, wait_until
from tests.reliability.support import (REPORT, assert_one_line_error, assert_same_hits, cli, committed_generation,
                                       make_repo, oracle, query_json)

NO_DAEMON = {"CIDX_NO_DAEMON": "1"}
QUERIES = (["circleArea", "--fts"], ["sort a list of numbers"])


@pytest.fixture(scope="module")
def template(tmp_path_factory, embedder):
    base = tmp_path_factory.mktemp("damage-template")
    config = make_repo(base / "repo", embedder)
    return config, [oracle(config, parse_query_args(q), embedder) for q in QUERIES]


def clone(template, dest):
    shutil.copytree(template.root, dest, symlinks=True)
    return load_config(dest / ".code-indexer" / "config.json")


def _overwrite(path, offset: int, size: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(os.urandom(size))


def _sqlite_only(layout, _generation):
    for suffix in ("-wal", "-shm"):
        layout.sqlite_path.with_name(layout.sqlite_path.name + suffix).unlink(missing_ok=True)


def _segments(layout, generation, ext):
    return [p for p in layout.fts_dir(generation).iterdir() if p.suffix == ext]


DAMAGE = {
    "meta.sqlite truncated": lambda l, g: (_sqlite_only(l, g), os.truncate(l.sqlite_path, 100)),
    "meta.sqlite header overwritten": lambda l, g: (_sqlite_only(l, g), _overwrite(l.sqlite_path, 0, 100)),
    "meta.sqlite pages overwritten": lambda l, g: (_sqlite_only(l, g), _overwrite(l.sqlite_path, 8192, 16384)),
    "hnsw truncated": lambda l, g: os.truncate(l.hnsw_path(g), 500),
    "hnsw header overwritten": lambda l, g: _overwrite(l.hnsw_path(g), 0, 64),
    "hnsw deleted": lambda l, g: l.hnsw_path(g).unlink(),
    "fts meta.json garbage": lambda l, g: (l.fts_dir(g) / "meta.json").write_text("{garbage"),
    "fts term file truncated": lambda l, g: [os.truncate(p, 10) for p in _segments(l, g, ".term")],
    "fts store file overwritten": lambda l, g: [_overwrite(p, 0, 200) for p in _segments(l, g, ".store")],
    "fts directory deleted": lambda l, g: shutil.rmtree(l.fts_dir(g)),
}
def assert_recovered(config, expected, env) -> None:
    fixed = cli(config, "index", "--clear", env=env, timeout=300)
    assert fixed.returncode == 0 and "Traceback" not in fixed.stderr, fixed.stderr
    assert verify_index(IndexLayout(config.index_dir)) == []
    for argv, want in zip(QUERIES, expected):
        proc, got = query_json(config, *argv, env=env)
        assert proc.returncode == 0, proc.stderr
        assert_same_hits(got, want, f"after recovery: {argv}")


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_store_standalone(template, tmp_path, damage):
    base, expected = template
    config = clone(base, tmp_path / "repo")
    with REPORT.trial("damaged store (standalone)"):
        DAMAGE[damage](IndexLayout(config.index_dir), committed_generation(config))
        REPORT.fault(f"damaged {damage.split()[0]}")
        line = assert_one_line_error(cli(config, "query", *QUERIES[0], "--quiet", env=NO_DAEMON))
        assert "cidx index" in line, f"the error does not name the fix: {line}"
        assert_recovered(config, expected, NO_DAEMON)


def start_and_damage(config, daemons, damage) -> int:
    """A warm daemon, then the damage, then clear_cache: its next query reads the damaged files."""
    daemon = daemons.spawn(config.root)
    assert wait_serving(config, timeout=60)["pid"] == daemon.pid
    assert query_json(config, *QUERIES[0])[0].returncode == 0
    DAMAGE[damage](IndexLayout(config.index_dir), committed_generation(config))
    REPORT.fault(f"damaged {damage.split()[0]}")
    conn = connect(config)
    try:
        assert json.loads(conn.conn.root.clear_cache(str(config.root)))["cleared"] is True  # the spec method
    finally:
        conn.close()
    return daemon.pid


@pytest.mark.parametrize("damage", ["hnsw truncated", "fts term file truncated", "fts directory deleted"])
def test_damaged_store_through_the_daemon(template, tmp_path, daemons, damage):
    base, expected = template
    config = clone(base, tmp_path / "repo")
    with REPORT.trial("damaged store (daemon)"):
        pid = start_and_damage(config, daemons, damage)
        for argv in QUERIES:
            line = assert_one_line_error(cli(config, "query", *argv, "--quiet"))
            assert "cidx index" in line and "daemon unavailable" not in line, line
        assert status(config)["pid"] == pid  # a damaged index is an error, not a crash
        assert_recovered(config, expected, None)  # `cidx index --clear` runs in the daemon, as the user would
        assert status(config)["pid"] == pid


@pytest.mark.parametrize("kind", ["regular file", "directory", "symlink to a file"])
def test_socket_path_taken_by_something_else(template, tmp_path, daemons, kind):
    base, expected = template
    config = clone(base, tmp_path / "repo")
    sock = socket_path(config.config_dir)
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    if kind == "regular file":
        shutil.copy(precious, sock)
    elif kind == "directory":
        sock.mkdir()
        shutil.copy(precious, sock / "inside.txt")
    else:
        os.symlink(precious, sock)
    with REPORT.trial("socket path not a socket"):
        REPORT.fault(f"socket path is a {kind}")
        refused = subprocess.run([sys.executable, "-m", "cidx.daemon", str(config.root)], cwd=config.root,
                                 capture_output=True, text=True, timeout=120)
        assert "not a socket" in assert_one_line_error(refused)
        proc = cli(config, "query", "circleArea", "--fts", "--quiet")
        assert proc.returncode == 0 and proc.stdout == "src/geometry.js:2\n", proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "daemon unavailable" in lines[0], proc.stderr
        assert_one_line_error(cli(config, "start"))
        wait_until(lambda: not daemon_pids(config.root), 60, what="refused daemons to exit")
        intact = {"regular file": sock, "directory": sock / "inside.txt", "symlink to a file": precious}[kind]
        assert intact.read_text() == "precious\n"  # the daemon never deletes what is not its socket
        assert os.path.islink(sock) == (kind == "symlink to a file")


def _mount_tmpfs(path, size: str) -> None:
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True,
                       capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs to simulate a full disk ({exc.__class__.__name__}); needs root")


@pytest.fixture
def tiny_disk(template, tmp_path):
    """A clone whose index lives on a 2 MB tmpfs; yields (config, filler path)."""
    base, expected = template
    config = clone(base, tmp_path / "repo")
    saved = tmp_path / "saved-index"
    shutil.move(config.index_dir, saved)
    config.index_dir.mkdir()
    _mount_tmpfs(config.index_dir, "2m")
    try:
        shutil.copytree(saved, config.index_dir, dirs_exist_ok=True)
        yield config, expected
    finally:
        kill_daemons(config.root)
        subprocess.run(["umount", "-l", str(config.index_dir)], capture_output=True, timeout=30)


def fill(directory, leave_kb: int):
    filler = directory / f"filler-{leave_kb}"  # a new file each time: rewriting one would free it first
    free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
    with open(filler, "wb") as handle:
        try:
            handle.write(b"\0" * max(0, free - leave_kb * 1024))
        except OSError:
            pass  # full is what we want
    return filler


def add_bulk(root, n: int = 10) -> None:
    """~50 new chunks: their embeddings alone (50 x 384 x 4 bytes) exceed the 40 KB left free."""
    (root / "bulk").mkdir()
    for i in range(n):
        (root / f"bulk/f{i}.py").write_text("".join(f"def fn_{i}_{j}(x):\n    return x * {j}  # roomy_{i}_{j}\n\n"
                                                    for j in range(5)))


def test_full_disk_while_indexing_loses_nothing(tiny_disk):
    config, expected = tiny_disk
    with REPORT.trial("full disk"):
        REPORT.fault("full disk (tmpfs)")
        filler = fill(config.index_dir, 40)
        add_bulk(config.root)
        proc = cli(config, "index", env={**NO_DAEMON, "CIDX_INDEX_BATCH_FILES": "5"}, timeout=300)
        line = assert_one_line_error(proc)
        assert "full" in line or "space" in line, line
        filler.unlink()
        assert verify_index(IndexLayout(config.index_dir)) == []
        for argv, want in zip(QUERIES, expected):
            assert_same_hits(query_json(config, *argv, env=NO_DAEMON)[1], want, f"after ENOSPC: {argv}")
        done = cli(config, "index", env=NO_DAEMON, timeout=300)
        assert done.returncode == 0, done.stderr
        assert [h["path"] for h in query_json(config, "roomy_3_4", "--fts", env=NO_DAEMON)[1]["hits"]] == ["bulk/f3.py"]


def test_full_disk_errors_say_so(tiny_disk):
    """Out of space is named as such: never an `internal error`, never `run cidx index --clear` (a
    query on a 100% full disk cannot even create meta.sqlite-shm)."""
    config, _ = tiny_disk
    with REPORT.trial("full disk"):
        REPORT.fault("full disk (tmpfs)")
        fill(config.index_dir, 40)
        add_bulk(config.root)
        indexing = assert_one_line_error(cli(config, "index", env=NO_DAEMON, timeout=300))
        assert indexing.startswith("cidx: error:"), indexing  # a user-facing error, not an "internal error"
        fill(config.index_dir, 0)
        proc = cli(config, "query", "circleArea", "--fts", "--quiet", env=NO_DAEMON)
        if proc.returncode != 0:
            line = assert_one_line_error(proc)
            assert "--clear" not in line and ("space" in line or "full" in line), line
