"""Indexing a real git repository with the real model, then changing it and re-indexing."""

from __future__ import annotations

import os
import sqlite3

import pytest

from cidx.config import Config, write_config
from cidx import indexer
from cidx.indexer import INDEX_FORMAT_ID, run_index
from cidx.store import compaction
from cidx.fastpath.params import QueryParams
from cidx.search.engine import SearchEngine
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from cidx.store.reader import IndexReader
from cidx.store.writer import StoreWriter
from tests.conftest import FIXTURE_FILES, git


def chunks_by_path(config: Config) -> dict[str, list[tuple[int, int, int]]]:
    conn = sqlite3.connect(config.index_dir / "meta.sqlite")
    rows = conn.execute("SELECT path, id, start_line, end_line FROM chunks ORDER BY path, start_line").fetchall()
    conn.close()
    out: dict[str, list] = {}
    for path, cid, start, end in rows:
        out.setdefault(path, []).append((cid, start, end))
    return out


def search(config, embedder, text, **kw):
    engine = SearchEngine(IndexReader(IndexLayout(config.index_dir)), lambda: embedder)
    return engine.query(QueryParams(text=text, **kw))


@pytest.fixture
def indexed(fixture_repo, embedder):
    config = Config(root=fixture_repo)
    write_config(config)
    summary = run_index(config, embedder)
    return config, summary


def test_first_index_stores_every_file_and_line(indexed):
    config, summary = indexed
    assert summary.files_indexed == len(FIXTURE_FILES) == summary.files_total
    assert summary.chunks_embedded == summary.chunks_indexed > 0
    stored = chunks_by_path(config)
    assert set(stored) == set(FIXTURE_FILES)
    for path, chunks in stored.items():
        lines = (config.root / path).read_text().split("\n")[:-1]
        covered = set()
        for _, start, end in chunks:
            covered.update(range(start, end + 1))
        # every non-blank line (ADR 0002); blank lines between definitions may lie between chunks
        assert {i + 1 for i, line in enumerate(lines) if line.strip()} <= covered <= set(range(1, len(lines) + 1)), path
    assert verify_index(IndexLayout(config.index_dir)) == []


def test_reindex_unchanged_costs_nothing(indexed, embedder):
    config, first = indexed
    again = run_index(config, embedder)
    assert (again.files_indexed, again.chunks_embedded, again.files_removed) == (0, 0, 0)
    assert again.files_unchanged == len(FIXTURE_FILES)
    assert again.generation == first.generation  # nothing changed: no new generation


def test_modify_delete_add_then_incremental(indexed, embedder):
    config, first = indexed
    before = chunks_by_path(config)
    root = config.root
    (root / "src/http_client.py").write_text("def fetch_with_timeout(url):\n    return url  # zebra unicorn\n")
    os.remove(root / "lib/sorting.go")
    (root / "src/new_module.py").write_text("def quaternion_multiply(a, b):\n    return a * b\n")
    git(root, "add", "-A")
    summary = run_index(config, embedder)
    assert (summary.files_indexed, summary.files_removed) == (2, 1)
    assert summary.files_unchanged == len(FIXTURE_FILES) - 2
    assert summary.generation == first.generation + 1
    after = chunks_by_path(config)
    assert set(after) == set(FIXTURE_FILES) - {"lib/sorting.go"} | {"src/new_module.py"}
    for path in set(FIXTURE_FILES) - {"lib/sorting.go", "src/http_client.py"}:
        assert after[path] == before[path], f"{path} was re-chunked although unchanged"
    assert [c[1:] for c in after["src/new_module.py"]] == [(1, 2)]
    assert verify_index(IndexLayout(config.index_dir)) == []
    # every store answers with the new generation
    assert search(config, embedder, "BubbleSort", mode="fts").hits == ()
    assert [h.path for h in search(config, embedder, "zebra", mode="fts").hits] == ["src/http_client.py"]
    assert search(config, embedder, "multiply two quaternions").hits[0].path == "src/new_module.py"


def test_touch_without_content_change_embeds_nothing(indexed, embedder):
    config, _ = indexed
    path = config.root / "src/geometry.js"
    os.utime(path, ns=(1, 1))
    summary = run_index(config, embedder)
    assert (summary.files_indexed, summary.chunks_embedded) == (0, 0)
    assert run_index(config, embedder).files_unchanged == len(FIXTURE_FILES)  # manifest took the new mtime


def test_clear_rebuilds_from_the_embedding_cache(indexed, embedder):
    config, first = indexed
    summary = run_index(config, embedder, clear=True)
    assert summary.files_indexed == len(FIXTURE_FILES)
    assert summary.chunks_embedded == 0 and summary.chunks_cached == first.chunks_indexed
    assert verify_index(IndexLayout(config.index_dir)) == []


def test_fts_only_rebuilds_the_text_index(indexed, embedder):
    config, first = indexed
    summary = run_index(config, embedder, fts_only=True)
    assert summary.generation == first.generation + 1
    assert [h.path for h in search(config, embedder, "circleArea", mode="fts").hits] == ["src/geometry.js"]
    assert verify_index(IndexLayout(config.index_dir)) == []


def test_on_commit_is_told_every_generation_of_the_run_compactions_included(indexed, embedder, monkeypatch):
    config, before = indexed
    monkeypatch.setattr(indexer, "BATCH_FILES", 2)  # several commits in one run
    monkeypatch.setattr(compaction, "MAX_DELTAS", 1)  # and compactions between them
    for i in range(5):
        (config.root / f"src/extra_{i}.py").write_text(f"def extra_{i}():\n    return {i}\n")
    told = []
    summary = run_index(config, embedder, on_commit=told.append)
    assert told == list(range(before.generation + 1, summary.generation + 1))  # in order, none missed
    assert len(told) >= 5  # three commits at least, and compactions between them


def test_old_generation_files_are_collected(indexed, embedder):
    config, _ = indexed
    for i in range(3):
        (config.root / "src/new_module.py").write_text(f"value = {i}\n")
        run_index(config, embedder)
    layout = IndexLayout(config.index_dir)
    fts_gens, segment_gens = _files_by_kind(layout)
    committed = max(fts_gens)
    assert fts_gens == {committed - 1, committed}  # the committed full text and the previous one
    # HNSW files are segments, written once: the base and one delta per commit (ADR 0020).
    assert segment_gens == _live_segments(layout) == {1, 2, 3, 4}
    writer = StoreWriter(layout, model=embedder.name, dim=embedder.dim, chunking=INDEX_FORMAT_ID)
    try:
        merged = writer.compact(force=True)
    finally:
        writer.close()
    (config.root / "src/new_module.py").write_text("value = 'last'\n")
    run_index(config, embedder)
    # The merged base and the new delta; the segments merged away are gone one commit later.
    assert _files_by_kind(layout)[1] == _live_segments(layout) == {merged, merged + 1}
    assert verify_index(layout) == []


def _files_by_kind(layout: IndexLayout) -> tuple[set[int], set[int]]:
    files = layout.generation_files()
    return ({g for g, p in files if p.name.startswith("fts-")},
            {g for g, p in files if p.name.startswith("hnsw-")})


def _live_segments(layout: IndexLayout) -> set[int]:
    conn = sqlite3.connect(layout.sqlite_path)
    try:
        return {r[0] for r in conn.execute("SELECT generation FROM segments")}
    finally:
        conn.close()
