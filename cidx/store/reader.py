"""Reading one consistent generation.

A query runs inside `IndexReader.snapshot()`: one SQLite read transaction (WAL snapshot) fixes the
generation; the HNSW index and Tantivy index of exactly that generation are used, loaded once and
kept (the daemon keeps an IndexReader warm; a standalone query makes a fresh one). `loads` counts
every disk load so tests can prove that a warm cache does none.

A new generation loads only the HNSW segments it does not share with the loaded one (ADR 0020): a
one-file commit costs a refresh one small delta file, whatever the size of the base.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import sqlite3

from cidx.fastpath.errors import IndexMissingError, StoreCorruptError
from cidx.store import fts, metadata, segments, vectors
from cidx.store.layout import IndexLayout


@dataclass(frozen=True)
class LoadedGeneration:
    generation: int
    model: str
    dim: int
    chunk_count: int
    vectors: vectors.VectorSearcher
    fts: object  # tantivy.Index


@dataclass(frozen=True)
class Snapshot:
    conn: sqlite3.Connection  # inside a read transaction: rows of exactly `loaded.generation`
    loaded: LoadedGeneration

    @property
    def generation(self) -> int:
        return self.loaded.generation

    def chunks(self, ids) -> dict[int, metadata.ChunkRow]:
        return metadata.fetch_chunks(self.conn, ids)

    def iter_chunks(self):
        return metadata.iter_chunks(self.conn)


class IndexReader:
    def __init__(self, layout: IndexLayout):
        self.layout = layout
        self.loads: Counter = Counter()
        self._pool: queue.SimpleQueue = queue.SimpleQueue()
        self._loaded: LoadedGeneration | None = None
        self._segments: dict[int, vectors.SegmentSearcher | vectors.FlatSegment] = {}  # by generation that wrote it
        self._load_lock = threading.Lock()

    @property
    def loaded_generation(self) -> int | None:
        return self._loaded.generation if self._loaded else None

    def evict(self) -> None:
        """Drop the loaded indexes (TTL expiry); the next snapshot loads them again."""
        with self._load_lock:
            self._loaded = None
            self._segments = {}
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        if not self.layout.exists():
            raise IndexMissingError(f"no index yet in {self.layout.dir.parent.parent}; run `cidx index` first")
        conn = self._take_connection()
        try:
            for attempt in range(5):
                conn.execute("BEGIN")
                try:
                    state = metadata.get_state(conn)  # the first read fixes the WAL snapshot
                    generation = int(state.get("generation", 0))
                    if generation == 0:
                        raise IndexMissingError(
                            f"no index yet in {self.layout.dir.parent.parent}; run `cidx index` first")
                    loaded = self._ensure_loaded(generation, state, conn)
                    break
                except FileNotFoundError:
                    # A writer committed twice since our snapshot and removed these files: retry.
                    conn.execute("ROLLBACK")
                    if attempt == 4:
                        raise StoreCorruptError(
                            f"{self.layout.dir}: index files of generation {generation} are missing; "
                            "run `cidx index --clear`") from None
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            try:
                yield Snapshot(conn, loaded)
            finally:
                conn.execute("ROLLBACK")
        finally:
            self._pool.put(conn)

    def _take_connection(self) -> sqlite3.Connection:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            self.loads["sqlite"] += 1
            return metadata.connect(self.layout.sqlite_path)

    def _ensure_loaded(self, generation: int, state: dict, conn) -> LoadedGeneration:
        current = self._loaded
        if current is not None and current.generation == generation:
            return current
        with self._load_lock:
            current = self._loaded
            if current is not None and current.generation == generation:
                return current
            dim = int(state["dim"])
            chunk_count = metadata.count_rows(conn)[1]
            rows = segments.load_segments(conn, state)
            tombstones = segments.load_tombstones(conn)
            searchers = {row.generation: self._segment(row.generation, dim) for row in rows}
            text_index = fts.open_reader(self.layout.fts_dir(generation))
            self.loads["fts"] += 1
            searcher = vectors.VectorSearcher([searchers[r.generation] for r in rows], chunk_count, tombstones,
                                              segments.tombstones_per_segment(rows, tombstones))
            loaded = LoadedGeneration(generation, state["model"], dim, chunk_count, searcher, text_index)
            # A snapshot taken just before a commit may ask for the previous generation after a
            # newer one is cached: serve it without replacing the newer one.
            if current is None or generation > current.generation:
                self._loaded = loaded
                self._segments = searchers  # segments no longer listed are dropped (memory stays bounded)
            return loaded

    def _segment(self, segment_generation: int, dim: int):
        found = self._segments.get(segment_generation)
        if found is None:
            found = vectors.load_segment(self.layout.hnsw_path(segment_generation), dim)
            self.loads["hnsw"] += 1
        return found

    @property
    def segments_held(self) -> list[int]:
        """Generations of the segments kept in memory (tests: each once, none stale)."""
        return sorted(self._segments)
