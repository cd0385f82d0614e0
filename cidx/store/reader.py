"""Reading one consistent generation.

A query runs inside `IndexReader.snapshot()`: one SQLite read transaction (WAL snapshot) fixes the
generation; the HNSW index and Tantivy index of exactly that generation are used, loaded once and
kept (the daemon keeps an IndexReader warm; a standalone query makes a fresh one). `loads` counts
every disk load so tests can prove that a warm cache does none.

A new generation loads only the HNSW segments it does not share with the loaded one (ADR 0020): a
one-file commit costs a refresh one small delta file, whatever the size of the base. A compaction
changes no chunk and no vector, only how they are stored: its generation is served at once from the
segments already in memory while the merged base loads in a background thread (at 1M chunks the
load takes seconds, which the first query after a compaction would otherwise wait for).
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
        # Segments being loaded in the background for a compaction's generation: generation ->
        # (done event, the loaded segment once done). Read and written under _load_lock.
        self._preloads: dict[int, tuple[threading.Event, list]] = {}
        self._preload_threads: list[threading.Thread] = []

    @property
    def loaded_generation(self) -> int | None:
        return self._loaded.generation if self._loaded else None

    def evict(self) -> None:
        """Drop the loaded indexes (TTL expiry); the next snapshot loads them again."""
        with self._load_lock:
            self._loaded = None
            self._segments = {}
            self._preloads = {}
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
            if current is not None and self._is_compaction_of(state, generation, current.generation) \
                    and any(r.generation not in self._segments for r in rows):
                return self._serve_compaction(current, generation, rows, dim)
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
            preload = self._preloads.pop(segment_generation, None)
            if preload is not None:  # being loaded in the background: wait for it, never load twice
                preload[0].wait()
                found = preload[1][0] if preload[1] else None
        if found is None:
            found = vectors.load_segment(self.layout.hnsw_path(segment_generation), dim)
            self.loads["hnsw"] += 1
        return found

    @staticmethod
    def _is_compaction_of(state: dict, generation: int, loaded: int) -> bool:
        return state.get("compacted_generation") == str(generation) and state.get("compacted_from") == str(loaded)

    def _serve_compaction(self, current: LoadedGeneration, generation: int, rows, dim: int) -> LoadedGeneration:
        """Generation `generation` compacts `current`: same chunks, same vectors. Serve it with the
        vectors in memory and load the merged segment(s) in the background (under _load_lock)."""
        text_index = fts.open_reader(self.layout.fts_dir(generation))
        self.loads["fts"] += 1
        loaded = LoadedGeneration(generation, current.model, dim, current.chunk_count, current.vectors, text_index)
        self._loaded = loaded
        for row in rows:
            if row.generation not in self._segments and row.generation not in self._preloads:
                done, box = threading.Event(), []
                self._preloads[row.generation] = (done, box)
                thread = threading.Thread(target=self._preload, args=(row.generation, dim, done, box, rows, generation),
                                          name=f"segment-preload-{row.generation}", daemon=True)
                self._preload_threads = [t for t in self._preload_threads if t.is_alive()] + [thread]
                thread.start()
        return loaded

    def _preload(self, segment_generation: int, dim: int, done: threading.Event, box: list, rows, generation: int):
        try:
            box.append(vectors.load_segment(self.layout.hnsw_path(segment_generation), dim))
            self.loads["hnsw"] += 1
        except BaseException:  # noqa: BLE001 - a query that needs it loads it itself and reports the error
            pass
        finally:
            done.set()
        with self._load_lock:
            if self._preloads.get(segment_generation, (None,))[0] is done:
                del self._preloads[segment_generation]
            current = self._loaded
            if not box or current is None or current.generation != generation:
                return  # evicted, or a newer generation took over (its own load used `box`)
            held = {**self._segments, segment_generation: box[0]}
            if any(r.generation not in held for r in rows):
                self._segments = held  # another segment still loading: it installs the generation
                return
            searcher = vectors.VectorSearcher([held[r.generation] for r in rows], current.chunk_count,
                                              frozenset(), [0] * len(rows))
            self._loaded = LoadedGeneration(generation, current.model, dim, current.chunk_count, searcher, current.fts)
            self._segments = {r.generation: held[r.generation] for r in rows}

    def wait_for_preloads(self, timeout: float = 60.0) -> None:
        """Tests and benchmarks: until the background loads started so far have finished."""
        for thread in list(self._preload_threads):
            thread.join(timeout)

    @property
    def segments_held(self) -> list[int]:
        """Generations of the segments kept in memory (tests: each once, none stale)."""
        return sorted(self._segments)
