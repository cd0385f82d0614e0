"""Segments (ADR 0020): a commit writes only a delta, search over every live segment equals search
over one index of the same live vectors, tombstones hide replaced chunks, compaction merges, and a
warm reader loads only the segments it does not hold yet. Real hnswlib, SQLite and Tantivy stores
built through the public writer API with small seeded vectors."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from cidx.store import compaction, vectors
from cidx.store.layout import IndexLayout
from cidx.store.metadata import FileRow
from cidx.store.reader import IndexReader
from cidx.store.segments import SegmentRow, tombstones_per_segment
from cidx.store.writer import Batch, NewChunk, StoreWriter

DIM = 16
EXACT_EF = 500  # more than any fixture's vector count: HNSW search is exhaustive, hence exact


class Repo:
    """A store and the truth it should hold: path -> (version, vectors)."""

    def __init__(self, tmp_path, seed: int = 0):
        self.layout = IndexLayout(tmp_path / "index")
        self.writer = StoreWriter(self.layout, model="test-model", dim=DIM, chunking="t")
        self.rng = np.random.default_rng(seed)
        self.truth: dict[str, np.ndarray] = {}
        self.versions: dict[str, int] = {}

    def write(self, paths: list[str], chunks: int = 5) -> int:
        batch = Batch()
        for path in paths:
            self.versions[path] = self.versions.get(path, 0) + 1
            vecs = self.rng.standard_normal((chunks, DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            text = [f"{path} v{self.versions[path]} c{i}" for i in range(chunks)]
            batch.replace_file(FileRow(path, 1, self.versions[path], f"h{path}{self.versions[path]}"),
                               [NewChunk(i + 1, i + 1, "python", f"{path}:{self.versions[path]}:{i}", t)
                                for i, t in enumerate(text)], vecs)
            self.truth[path] = vecs
        return self.writer.commit(batch)

    def remove(self, path: str) -> int:
        batch = Batch()
        batch.remove_file(path)
        self.truth.pop(path)
        return self.writer.commit(batch)

    def live_rows(self, reader: IndexReader) -> tuple[np.ndarray, list[tuple[str, int]]]:
        """Live vectors with their (path, line) keys, in the store's chunk order."""
        keys, vecs = [], []
        for path in sorted(self.truth):
            for i, v in enumerate(self.truth[path]):
                keys.append((path, i + 1))
                vecs.append(v)
        return np.asarray(vecs), keys


def hits(reader: IndexReader, query: np.ndarray, k: int, ef: int = EXACT_EF) -> list[tuple[str, int]]:
    with reader.snapshot() as snap:
        found = snap.loaded.vectors.search(query, k, ef)
        rows = snap.chunks([i for i, _ in found])
        return [(rows[i].path, rows[i].start_line) for i, _ in found]


def exact(repo: Repo, reader: IndexReader, query: np.ndarray, k: int) -> list[tuple[str, int]]:
    vecs, keys = repo.live_rows(reader)
    order = np.argsort(-(vecs @ query), kind="stable")[:k]
    return [keys[i] for i in order]


def queries(n: int = 12, seed: int = 7) -> np.ndarray:
    q = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path)
    yield r
    r.writer.close()


def hnsw_files(layout: IndexLayout) -> set[str]:
    return {p.name for _, p in layout.generation_files() if p.name.startswith("hnsw-")}


def test_a_commit_writes_one_delta_and_never_touches_the_base(repo):
    repo.write([f"f{i}.py" for i in range(20)])
    base = repo.layout.hnsw_path(1)
    before = (base.stat().st_ino, base.stat().st_mtime_ns, base.read_bytes())
    repo.write(["f3.py"])
    assert hnsw_files(repo.layout) == {"hnsw-1.bin", "hnsw-2.bin"}
    assert (base.stat().st_ino, base.stat().st_mtime_ns, base.read_bytes()) == before
    assert [s.generation for s in repo.writer.segments] == [1, 2]
    # The delta holds only the 5 new vectors.
    assert vectors.load_index(repo.layout.hnsw_path(2), DIM).get_current_count() == 5


@pytest.mark.parametrize("overfetch_max, flat_max", [
    (0, 0),  # every segment an HNSW graph; tombstones through hnswlib's filter callback
    (vectors.OVERFETCH_MAX, 0),  # HNSW graphs; tombstones by over-fetching
    (vectors.OVERFETCH_MAX, 100),  # an HNSW base (150 vectors) and flat deltas
    (vectors.OVERFETCH_MAX, vectors.FLAT_MAX),  # every segment flat
])
def test_segment_search_equals_exact_search_over_live_vectors(repo, monkeypatch, overfetch_max, flat_max):
    monkeypatch.setattr(vectors, "OVERFETCH_MAX", overfetch_max)
    monkeypatch.setattr(vectors, "FLAT_MAX", flat_max)
    repo.write([f"f{i}.py" for i in range(30)])
    for step in range(8):  # replacements and removals spread over eight deltas
        repo.write([f"f{(step * 7) % 30}.py", f"f{(step * 11 + 1) % 30}.py", f"new{step}.py"])
    repo.remove("f5.py")
    reader = IndexReader(repo.layout)
    for q in queries():
        assert hits(reader, q, 10) == exact(repo, reader, q, 10)
    compacted_before = [hits(reader, q, 10) for q in queries()]
    repo.writer.compact(force=True)
    assert [hits(IndexReader(repo.layout), q, 10) for q in queries()] == compacted_before


@pytest.mark.parametrize("flat_max", [0, vectors.FLAT_MAX])
def test_a_chunk_replaced_twice_is_found_once_in_its_last_version(repo, monkeypatch, flat_max):
    monkeypatch.setattr(vectors, "FLAT_MAX", flat_max)
    repo.write([f"f{i}.py" for i in range(10)])  # base
    repo.write(["f2.py"])  # f2 deleted in the base, re-added in delta 2
    repo.write(["f2.py"])  # deleted again in delta 2, re-added in delta 3
    reader = IndexReader(repo.layout)
    for i, v in enumerate(repo.truth["f2.py"]):
        top = hits(reader, v, 10)
        assert top[0] == ("f2.py", i + 1)
        assert top.count(("f2.py", i + 1)) == 1  # no stale copy of the chunk from base or delta 2
    with reader.snapshot() as snap:
        assert len(snap.loaded.vectors.tombstones) == 10  # five in the base, five in delta 2
        if flat_max == 0:
            assert snap.loaded.vectors.dead == [5, 5, 0]
        else:  # tombstoned rows are left out of the flat matrix: 15 live of 25 written
            assert len(snap.loaded.vectors.flat.ids) == 50 + 5 + 5 - 10


def test_a_removed_file_never_answers(repo):
    repo.write(["a.py", "b.py"])
    repo.write(["c.py"])
    removed = repo.truth["c.py"][0].copy()
    repo.remove("c.py")
    reader = IndexReader(repo.layout)
    assert ("c.py", 1) not in [h for h in hits(reader, removed, 10)]
    assert len(hits(reader, removed, 100)) == 10  # a.py and b.py, nothing else


def test_small_segments_are_searched_flat_and_large_ones_as_graphs(repo, monkeypatch):
    monkeypatch.setattr(vectors, "FLAT_MAX", 20)
    repo.write([f"f{i}.py" for i in range(10)])  # 50 vectors: a graph
    repo.write(["f1.py", "g.py"])  # 10 vectors: flat
    with IndexReader(repo.layout).snapshot() as snap:
        searcher = snap.loaded.vectors
        assert len(searcher.segments) == 1 and sorted(searcher.flat.ids.tolist()) == list(range(51, 61))


def test_a_warm_reader_loads_only_new_segments_and_holds_each_once(repo):
    repo.write([f"f{i}.py" for i in range(10)])
    reader = IndexReader(repo.layout)
    hits(reader, queries()[0], 5)
    assert reader.loads["hnsw"] == 1
    for n in range(6):
        repo.write([f"f{n}.py"])
        hits(reader, queries()[0], 5)
        assert reader.loads["hnsw"] == 2 + n  # one delta per refresh, the base never again
    assert reader.segments_held == [s.generation for s in repo.writer.segments] == [1, 2, 3, 4, 5, 6, 7]
    repo.writer.compact(force=True)
    fresh = IndexReader(repo.layout)
    assert [hits(reader, q, 10) for q in queries()] == [hits(fresh, q, 10) for q in queries()]
    assert reader.segments_held == [8]  # the merged base; the old segments are no longer held
    assert reader.loads["hnsw"] == 8


def test_compaction_merges_into_one_base_and_collects_the_old_files(repo):
    repo.write([f"f{i}.py" for i in range(10)])
    for n in range(3):
        repo.write([f"f{n}.py"])
    assert repo.writer.compact() == 4  # under every threshold: nothing to do
    generation = repo.writer.compact(force=True)
    assert generation == 5 and [s.generation for s in repo.writer.segments] == [5]
    merged = vectors.load_index(repo.layout.hnsw_path(5), DIM)
    assert merged.get_current_count() - len(merged.get_ids_list()) <= 15  # marked deleted, not live
    repo.write(["x.py"])  # the commit after: the pre-compaction segments go (kept one round only)
    assert hnsw_files(repo.layout) == {"hnsw-5.bin", "hnsw-6.bin"}
    con = sqlite3.connect(repo.layout.sqlite_path)
    assert con.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 0
    con.close()


def test_compaction_thresholds():
    base = SegmentRow(1, 1, 100_000, 100_000)
    deltas = [SegmentRow(g, 100_000 + g * 20, 100_019 + g * 20, 20) for g in range(2, 2 + 20)]
    edits = set(range(1, 401))  # 20 one-file edits: their old chunks are tombstones in the base
    assert compaction.kind_needed([base] + deltas, edits, live=100_000) is None
    many = [SegmentRow(g, 100_000 + g * 20, 100_019 + g * 20, 20) for g in range(2, 3 + compaction.MAX_DELTAS)]
    assert compaction.kind_needed([base] + many, edits, live=100_000) == "minor"  # the base stays
    big = [SegmentRow(2, 100_001, 110_000, 10_000)]
    assert compaction.kind_needed([base] + big, set(), live=110_000) == "major"  # a tenth of the base
    small = [SegmentRow(1, 1, 50, 50), SegmentRow(2, 51, 70, 20)]
    assert compaction.kind_needed(small, set(range(1, 21)), live=50) is None  # under the minimums
    assert compaction.kind_needed([base], set(range(1, 30_000)), live=100_000) == "major"  # a fifth dead
    # Tombstones inside the deltas do not count against the base.
    assert compaction.kind_needed([base] + deltas, set(range(100_040, 100_440)), live=100_000) is None


def test_a_minor_compaction_merges_the_deltas_and_leaves_the_base_alone(repo, monkeypatch):
    monkeypatch.setattr(vectors, "FLAT_MAX", 0)  # graphs everywhere: the merge path, not flat reads
    repo.write([f"f{i}.py" for i in range(20)])
    base = repo.layout.hnsw_path(1)
    before = (base.stat().st_ino, base.read_bytes())
    for n in range(5):
        repo.write([f"f{n % 3}.py", f"new{n}.py"])  # f0-f2 replaced again and again: tombstones everywhere
    reader = IndexReader(repo.layout)
    answers = [hits(reader, q, 10) for q in queries()]
    generation = repo.writer.compact(force=True, minor=True)
    assert [s.generation for s in repo.writer.segments] == [1, generation]
    assert (base.stat().st_ino, base.read_bytes()) == before
    with IndexReader(repo.layout).snapshot() as snap:  # the base's tombstones stay; the deltas' went
        assert snap.loaded.vectors.tombstones == frozenset(range(1, 16))
    fresh = IndexReader(repo.layout)
    assert [hits(fresh, q, 10) for q in queries()] == answers == [exact(repo, fresh, q, 10) for q in queries()]
    assert [hits(reader, q, 10) for q in queries()] == answers and reader.segments_held == [1, generation]
    # A second minor merge (into the merged segment, whose marked-deleted ids are no chunks) and a
    # major one after it still answer exactly.
    repo.write(["f1.py"])
    repo.write(["f2.py"])
    repo.writer.compact(force=True, minor=True)
    repo.writer.compact(force=True)
    fresh = IndexReader(repo.layout)
    assert [hits(fresh, q, 10) for q in queries()] == [exact(repo, fresh, q, 10) for q in queries()]
    assert len(repo.writer.segments) == 1


def test_the_indexer_thresholds_pick_minor_merges_for_many_small_edits(repo, monkeypatch):
    monkeypatch.setattr(compaction, "MAX_DELTAS", 3)
    repo.write([f"f{i}.py" for i in range(50)])  # 250 vectors: the base
    for n in range(4):
        repo.write([f"f{n}.py"])
    generation = repo.writer.compact()
    assert [s.generation for s in repo.writer.segments] == [1, generation]  # the base kept


def test_tombstones_are_counted_in_the_segment_whose_range_holds_them():
    rows = [SegmentRow(1, 1, 100, 100), SegmentRow(4, 101, 120, 20), SegmentRow(6, 130, 135, 6)]
    assert tombstones_per_segment(rows, {1, 100, 101, 120, 130, 125, 999}) == [2, 2, 1]


def test_an_index_from_before_segments_is_read_and_upgraded(repo):
    repo.write([f"f{i}.py" for i in range(10)])
    repo.writer.close()
    con = sqlite3.connect(repo.layout.sqlite_path)
    con.executescript("DROP TABLE segments; DROP TABLE tombstones; DELETE FROM state WHERE key = 'segmented';")
    con.close()
    reader = IndexReader(repo.layout)  # one file hnsw-1.bin, no segment rows: the legacy layout
    for q in queries(4):
        assert hits(reader, q, 5) == exact(repo, reader, q, 5)
    repo.writer = StoreWriter(repo.layout, model="test-model", dim=DIM, chunking="t")
    repo.write(["f1.py"])
    assert [s.generation for s in repo.writer.segments] == [1, 2]
    for q in queries(4):
        assert hits(reader, q, 5) == exact(repo, reader, q, 5)


def test_clear_starts_over_with_one_segment(repo):
    repo.write([f"f{i}.py" for i in range(4)])
    repo.write(["f1.py"])
    batch = Batch(clear=True)
    vecs = np.eye(DIM, dtype=np.float32)[:3]
    batch.replace_file(FileRow("only.py", 1, 1, "h"), [NewChunk(i + 1, i + 1, "python", f"o{i}", "t") for i in range(3)], vecs)
    generation = repo.writer.commit(batch)
    assert [s.generation for s in repo.writer.segments] == [generation]
    reader = IndexReader(repo.layout)
    found = hits(reader, vecs[2], 10)
    assert found[0] == ("only.py", 3) and sorted(found) == [("only.py", 1), ("only.py", 2), ("only.py", 3)]
    with reader.snapshot() as snap:
        assert snap.loaded.vectors.tombstones == frozenset()


def test_dead_neighbours_of_the_query_fall_back_to_the_filter(repo, monkeypatch):
    """The query sits on a replaced file's old vectors: its nearest base entries are all tombstones,
    more than the over-fetch covers, so the filtered search must take over."""
    monkeypatch.setattr(vectors, "FLAT_MAX", 0)
    monkeypatch.setattr(vectors, "OVERFETCH_MAX", 2)
    repo.write([f"f{i}.py" for i in range(30)], chunks=8)
    old = repo.truth["f4.py"].copy()
    repo.write(["f4.py"], chunks=8)
    reader = IndexReader(repo.layout)
    for q in old:
        found = hits(reader, q, 5)
        assert found == exact(repo, reader, q, 5) and len(found) == 5


def test_verify_checks_every_chunk_against_its_segment(repo):
    from cidx.store.check import verify_index

    repo.write([f"f{i}.py" for i in range(6)])
    repo.write(["f1.py", "g.py"])
    assert verify_index(repo.layout) == []
    con = sqlite3.connect(repo.layout.sqlite_path)
    con.execute("DELETE FROM segments WHERE generation = 2")  # the delta's chunks lose their segment
    con.commit()
    con.close()
    assert verify_index(repo.layout) == ["10 chunks lie in no segment"]
def test_disk_size_counts_a_hard_linked_file_once(tmp_path):
    layout = IndexLayout(tmp_path / "index")
    (layout.dir / "fts-1").mkdir(parents=True)
    (layout.dir / "fts-2").mkdir()
    (layout.dir / "fts-1" / "seg").write_bytes(b"x" * 1000)
    os.link(layout.dir / "fts-1" / "seg", layout.dir / "fts-2" / "seg")  # how fts-2 starts
    (layout.dir / "hnsw-2.bin").write_bytes(b"y" * 10)
    assert layout.disk_bytes() == 1010
