"""Embedded headers and the embedding cache; an index of an older chunker/analyzer is rebuilt (never
mixed), says so in one line, standalone and through the daemon, and a kill -9 during that rebuild
leaves the old generation queryable."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from cidx import indexer
from cidx.indexer import INDEX_FORMAT_ID, REBUILD_NOTICE, VARIANT_NOTICE, run_index
from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import QueryParams
from cidx.search.engine import SearchEngine
from cidx.source.chunk_header import HEADER_ID
from cidx.source.syntax_chunker import SYNTAX_CHUNKING_ID
from cidx.store import metadata
from cidx.store.check import verify_index
from cidx.store.fts import ANALYZER_ID
from cidx.store.layout import IndexLayout
from cidx.store.reader import IndexReader
from tests.conftest import git, run_cidx
from tests.integration.daemon_support import make_repo, status, wait_serving

OLD_FORMAT = "v1:800c/40l/5o"  # what the line-window-only chunker recorded


def state(config) -> dict:
    conn = metadata.connect(IndexLayout(config.index_dir).sqlite_path)
    try:
        return metadata.get_state(conn)
    finally:
        conn.close()


def record_state(config, key: str, value: str) -> None:
    conn = sqlite3.connect(IndexLayout(config.index_dir).sqlite_path)
    conn.execute("UPDATE state SET value = ? WHERE key = ?", (value, key))
    conn.commit()
    conn.close()


def record_format(config, value: str) -> None:
    record_state(config, "chunking", value)


def hits(config, embedder, text, mode):
    engine = SearchEngine(IndexReader(IndexLayout(config.index_dir)), lambda: embedder)
    return sorted({h.path for h in engine.query(QueryParams(text=text, mode=mode, limit=10)).hits})  # files


def test_the_format_id_covers_chunker_header_and_analyzer():
    assert INDEX_FORMAT_ID == f"{SYNTAX_CHUNKING_ID}+{HEADER_ID}+fts:{ANALYZER_ID}"
    assert INDEX_FORMAT_ID != OLD_FORMAT


def test_stored_and_full_text_indexed_text_is_the_source_lines_without_header(indexed, embedder):
    conn = metadata.connect(IndexLayout(indexed.index_dir).sqlite_path)
    try:
        rows = list(metadata.iter_chunks(conn))
    finally:
        conn.close()
    source = (indexed.root / "src/http_client.py").read_text()
    for row in rows:
        assert row.path not in row.text
        assert row.text == "\n".join((indexed.root / row.path).read_text().split("\n")[row.start_line - 1:row.end_line])
    assert any(r.path == "src/http_client.py" and r.text.startswith("import urllib.request") for r in rows)
    assert "src/http_client.py" not in source
    assert hits(indexed, embedder, "http_client", "fts") == []  # the header's path is not full-text indexed


def test_a_new_header_re_embeds_and_identical_embedded_text_reuses_the_vector(indexed, embedder):
    git(indexed.root, "mv", "src/http_client.py", "src/web_client.py")  # same lines, another path in the header
    moved = run_index(indexed, embedder)
    assert moved.files_indexed == 1 and moved.chunks_indexed >= 1
    assert moved.chunks_embedded == moved.chunks_indexed and moved.chunks_cached == 0
    rebuilt = run_index(indexed, embedder, clear=True)  # every embedded text seen before
    assert rebuilt.chunks_embedded == 0 and rebuilt.chunks_cached == rebuilt.chunks_indexed > 0


def test_bumping_the_format_rebuilds_once_with_a_notice(indexed, embedder, monkeypatch):
    monkeypatch.setattr(indexer, "INDEX_FORMAT_ID", INDEX_FORMAT_ID + "+bumped")  # e.g. a new ANALYZER_ID
    events = []
    summary = run_index(indexed, embedder, progress=events.append)
    assert [e.message for e in events if e.phase == "notice"] == [REBUILD_NOTICE]
    assert events[0].phase == "notice"
    assert summary.files_indexed == summary.files_total == 6 and summary.chunks_embedded == 0
    assert state(indexed)["chunking"] == INDEX_FORMAT_ID + "+bumped"
    again = []
    assert run_index(indexed, embedder, progress=again.append).files_indexed == 0
    assert not [e for e in again if e.phase == "notice"]


def test_another_engine_variant_of_the_model_rebuilds_once_with_a_notice(indexed, embedder):
    """An index of the numpy/fp32 MiniLM (0.2.0) under the int8 engine (ADR 0017): rebuilt, never mixed."""
    base = embedder.name.split("+")[0]
    old = base if base != embedder.name else base + "+fp32"
    record_state(indexed, "model", old)
    events = []
    summary = run_index(indexed, embedder, progress=events.append)
    assert [e.message for e in events if e.phase == "notice"] == [VARIANT_NOTICE.format(old=old, new=embedder.name)]
    assert summary.files_indexed == summary.files_total == 6
    assert state(indexed)["model"] == embedder.name
    again = []
    assert run_index(indexed, embedder, progress=again.append).files_indexed == 0
    assert not [e for e in again if e.phase == "notice"]


def test_another_model_is_still_refused_without_clear(indexed, embedder):
    record_state(indexed, "model", "openai:text-embedding-3-small@http://127.0.0.1:1/v1")
    with pytest.raises(UsageError, match="run `cidx index --clear`"):
        run_index(indexed, embedder)


def test_standalone_cli_rebuilds_an_older_index_with_one_line(indexed):
    record_format(indexed, OLD_FORMAT)
    first = run_cidx("index", cwd=indexed.root)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(REBUILD_NOTICE) == 1 and "indexed 6 files" in first.stderr
    assert state(indexed)["chunking"] == INDEX_FORMAT_ID
    second = run_cidx("index", cwd=indexed.root)
    assert second.returncode == 0 and REBUILD_NOTICE not in second.stderr and "indexed 0 files" in second.stderr


def test_daemon_rebuilds_an_older_index_and_the_client_prints_the_notice(tmp_path, embedder, reap_daemons):
    config = make_repo(tmp_path / "repo", embedder)
    record_format(config, OLD_FORMAT)
    proc = subprocess.Popen([sys.executable, "-m", "cidx.daemon", str(config.root)], cwd=config.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_serving(config)
        out = run_cidx("index", cwd=config.root)
        assert out.returncode == 0, out.stderr
        assert out.stderr.count(REBUILD_NOTICE) == 1 and "indexed 6 files" in out.stderr
        assert "running in-process" not in out.stderr.lower() and status(config)["pid"] == proc.pid
        assert state(config)["chunking"] == INDEX_FORMAT_ID
        again = run_cidx("index", cwd=config.root)
        assert again.returncode == 0 and REBUILD_NOTICE not in again.stderr
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("point", ["after_fts_committed", "before_sqlite_commit"])
def test_kill_during_the_rebuild_leaves_the_old_generation_queryable(indexed, embedder, point):
    record_format(indexed, OLD_FORMAT)
    old_generation = int(state(indexed)["generation"])
    killed = run_cidx("index", cwd=indexed.root, env={"CIDX_FAILPOINT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert REBUILD_NOTICE in killed.stderr
    layout = IndexLayout(indexed.index_dir)
    assert verify_index(layout) == []
    after = state(indexed)
    assert int(after["generation"]) == old_generation and after["chunking"] == OLD_FORMAT
    assert hits(indexed, embedder, "circleArea", "fts") == ["src/geometry.js"]
    assert "src/config_loader.py" in hits(indexed, embedder, "read the JSON configuration file", "semantic")
    resumed = run_cidx("index", cwd=indexed.root)
    assert resumed.returncode == 0 and resumed.stderr.count(REBUILD_NOTICE) == 1
    assert "0 embedded" in resumed.stderr  # the killed run's vectors were kept in the cache
    assert state(indexed)["chunking"] == INDEX_FORMAT_ID and verify_index(layout) == []
    assert hits(indexed, embedder, "circleArea", "fts") == ["src/geometry.js"]
