"""Writing generations: every batch of changes becomes generation N+1 in three steps, ordered so that
a kill -9 at any instant leaves generation N or N+1, never a mix:

1. the batch's vectors as a new delta segment hnsw-(N+1).bin (temp, fsync, rename); the segments
   of generation N stay as they are: a segment file is written once and never rewritten (ADR 0020);
2. fts-(N+1)/ built from hard links of fts-N/ plus the batch's changes, committed and fsynced;
3. one SQLite transaction changes chunks + manifest, the segment list and the tombstones (ids of
   replaced chunks still inside older segments), and sets state.generation = N+1 (the commit point).

A compaction (cidx/store/compaction.py) is a generation of its own: segments merged (every one
beside the base, or all into a new base), tombstones applied, same chunks. Files of generations newer than the committed one are
crash orphans and are removed when a writer opens. The caller holds the WriterLock.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from cidx.fastpath.errors import UsageError
from cidx.store import compaction, failpoints, metadata, segments, vectors
from cidx.store.fts import FtsGenerationWriter
from cidx.store.layout import IndexLayout, fsync_dir, remove_path
from cidx.store.metadata import FileRow
from cidx.store.segments import SegmentRow


def _base_model(name) -> str:
    """`local:all-MiniLM-L6-v2+int8` -> `local:all-MiniLM-L6-v2`: the model without its engine variant."""
    return str(name).split("+", 1)[0]


@dataclass(frozen=True)
class NewChunk:
    start_line: int
    end_line: int
    language: str
    hash: str
    text: str
    names: str = ""  # what the chunk defines or lives in (cidx/source/chunk_names.py), for full text


@dataclass
class Batch:
    clear: bool = False
    removed_paths: set[str] = field(default_factory=set)  # deleted or changed files: old chunks go
    files: dict[str, FileRow] = field(default_factory=dict)  # manifest rows to upsert
    chunks: dict[str, list[NewChunk]] = field(default_factory=dict)  # path -> its new chunks
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # path -> (n, dim) float32

    def replace_file(self, row: FileRow, chunks: list[NewChunk], vecs: np.ndarray) -> None:
        self.removed_paths.add(row.path)
        self.files[row.path] = row
        self.chunks[row.path] = chunks
        self.vectors[row.path] = vecs

    def touch_file(self, row: FileRow) -> None:
        """Same content, new mtime: only the manifest changes."""
        self.files[row.path] = row

    def remove_file(self, path: str) -> None:
        self.removed_paths.add(path)

    def is_empty(self) -> bool:
        return not (self.clear or self.removed_paths or self.files)

    @property
    def chunk_count(self) -> int:
        return sum(len(c) for c in self.chunks.values())


class StoreWriter:
    def __init__(self, layout: IndexLayout, *, model: str, dim: int, chunking: str = "",
                 rebuild_variant: bool = False):
        layout.dir.mkdir(parents=True, exist_ok=True)
        self.layout = layout
        self.conn = metadata.connect(layout.sqlite_path, create=True)
        state = metadata.get_state(self.conn)
        self.generation = int(state.get("generation", 0))
        recorded = state.get("model")
        self.recorded_model = recorded
        # Another variant of the same model (e.g. the local MiniLM moved from numpy fp32 to ONNX int8,
        # ADR 0017): allowed only for a caller that then rebuilds everything (cidx.indexer.run_index).
        self.variant_change = bool(self.generation and recorded != model and rebuild_variant
                                   and _base_model(recorded) == _base_model(model)
                                   and int(state.get("dim", dim)) == dim)
        if self.generation and not self.variant_change and (recorded != model or int(state.get("dim", dim)) != dim):
            raise UsageError(
                f"the index was built with {recorded} ({state.get('dim')} dims) but the config uses "
                f"{model}; run `cidx index --clear` to rebuild it"
            )
        self.model, self.dim = model, dim
        self.chunking = state.get("chunking")  # what the committed chunks were cut with
        self.current_chunking = chunking
        self.next_chunk_id = int(state.get("next_chunk_id", 1))
        self.deleted_vectors = int(state.get("deleted_vectors", 0))  # marked inside the base segment
        segments.create_tables(self.conn)
        self.segments = segments.load_segments(self.conn, state)
        self._collect({self.generation}, self.segments)  # crash orphans

    # -- reading the committed state --------------------------------------------------------
    def manifest(self) -> dict[str, FileRow]:
        return metadata.load_manifest(self.conn)

    def cached_vectors(self, hashes) -> dict[str, np.ndarray]:
        raw = metadata.cached_vectors(self.conn, self.model, hashes)
        return {h: np.frombuffer(b, dtype=np.float32) for h, b in raw.items()}

    def cache_vectors(self, hashes: list[str], vecs: np.ndarray) -> None:
        metadata.store_vectors(self.conn, self.model, [(h, v.astype(np.float32).tobytes()) for h, v in zip(hashes, vecs)])

    def record_skips(self, counts: dict[str, int]) -> None:
        """The last run's skip counts by reason, for `cidx status`. Informational: written in its own
        transaction, not part of any generation (a run that changes nothing still updates them)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            metadata.set_state(self.conn, {"skipped": json.dumps(counts, sort_keys=True)})

    # -- committing ---------------------------------------------------------------------------
    def commit(self, batch: Batch) -> int:
        """Write `batch` as the next generation; returns its number. On any error nothing changes."""
        if batch.is_empty():
            return self.generation
        new_gen = self.generation + 1
        hnsw_path, fts_dir = self.layout.hnsw_path(new_gen), self.layout.fts_dir(new_gen)
        ids = {path: list(range(self.next_chunk_id + offset, self.next_chunk_id + offset + len(chunks)))
               for path, chunks, offset in self._offsets(batch)}
        next_id = self.next_chunk_id + batch.chunk_count
        old_ids = [] if batch.clear else metadata.chunk_ids_for_paths(self.conn, batch.removed_paths)
        live_segments = [] if batch.clear else list(self.segments)
        fts = None
        try:
            if batch.chunk_count:
                delta = vectors.new_index(self.dim, batch.chunk_count)
                for path, path_ids in ids.items():
                    if path_ids:
                        delta.add_items(batch.vectors[path], np.asarray(path_ids, dtype=np.int64))
                vectors.save_index(delta, hnsw_path)
                live_segments.append(SegmentRow(new_gen, self.next_chunk_id, next_id - 1, batch.chunk_count))
            failpoints.reached("after_hnsw_saved")

            fts = FtsGenerationWriter(None if (batch.clear or not self.generation) else self.layout.fts_dir(self.generation),
                                      fts_dir)
            if batch.clear:
                fts.delete_all()
            fts.delete_paths(batch.removed_paths)
            for path, path_ids in ids.items():
                for chunk_id, chunk in zip(path_ids, batch.chunks[path]):
                    fts.add(chunk_id, path, chunk.text, chunk.names)
            fts.commit()
            failpoints.reached("after_fts_committed")
            fsync_dir(self.layout.dir)
            deleted = 0 if batch.clear else self.deleted_vectors
            self._commit_sqlite(batch, ids, new_gen, next_id, deleted, live_segments, old_ids)
            failpoints.reached("after_sqlite_commit")
        except BaseException:
            self._discard(fts, hnsw_path, fts_dir)
            raise
        self._advance(new_gen, live_segments, next_id=next_id, deleted=deleted)
        return new_gen

    def compact(self, force: bool = False, minor: bool = False) -> int:
        """Merge segments when they pass their thresholds (cidx/store/compaction.py), or now with
        `force` (everything; with `minor`, everything but the base). A generation of its own with
        the same chunks. Returns the committed generation."""
        plan = compaction.plan(self.conn, self.segments, force=force, minor=minor)
        if plan is None:
            return self.generation
        new_gen = self.generation + 1
        hnsw_path, fts_dir = self.layout.hnsw_path(new_gen), self.layout.fts_dir(new_gen)
        fts = None
        try:
            merged, live_segments, deleted, applied = compaction.merge(
                self.layout, self.conn, self.segments, plan, dim=self.dim, deleted_vectors=self.deleted_vectors,
                generation=new_gen)
            vectors.save_index(merged, hnsw_path)
            del merged
            failpoints.reached("compact_after_hnsw_saved")
            fts = FtsGenerationWriter(self.layout.fts_dir(self.generation), fts_dir)
            fts.commit()
            failpoints.reached("compact_after_fts_committed")
            fsync_dir(self.layout.dir)
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                segments.replace_segments(self.conn, live_segments)
                segments.remove_tombstones(self.conn, applied)
                metadata.set_state(self.conn, {"generation": new_gen, "deleted_vectors": deleted, "segmented": 1})
                failpoints.reached("compact_before_sqlite_commit")
            failpoints.reached("compact_after_sqlite_commit")
        except BaseException:
            self._discard(fts, hnsw_path, fts_dir)
            raise
        self._advance(new_gen, live_segments, next_id=self.next_chunk_id, deleted=deleted)
        return new_gen

    def rebuild_fts(self) -> int:
        """`cidx index --fts-only`: a fresh text index from the committed chunks, same vectors."""
        if not self.generation:
            raise UsageError("nothing to rebuild yet: run `cidx index` first")
        new_gen = self.generation + 1
        fts_dir = self.layout.fts_dir(new_gen)
        fts = None
        try:
            fts = FtsGenerationWriter(None, fts_dir)
            for chunk_id, path, text, names in metadata.iter_text_rows(self.conn):
                fts.add(chunk_id, path, text, names)
            fts.commit()
            fsync_dir(self.layout.dir)
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                segments.replace_segments(self.conn, self.segments)  # a legacy index's file gets its row
                metadata.set_state(self.conn, {"generation": new_gen, "last_index_time": time.time(), "segmented": 1})
        except BaseException:
            self._discard(fts, fts_dir)
            raise
        self._advance(new_gen, self.segments, next_id=self.next_chunk_id, deleted=self.deleted_vectors)
        return new_gen

    def close(self) -> None:
        self.conn.close()

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _offsets(batch: Batch):
        offset = 0
        for path, chunks in batch.chunks.items():
            yield path, chunks, offset
            offset += len(chunks)

    @staticmethod
    def _discard(fts: FtsGenerationWriter | None, *paths) -> None:
        """A generation that failed midway: its full-text writer rolled back, its files removed."""
        if fts is not None:
            fts.abort()
        for path in paths:
            remove_path(path)

    def _advance(self, new_gen: int, live_segments: list[SegmentRow], *, next_id: int, deleted: int) -> None:
        old_gen, old_segments = self.generation, self.segments
        self.generation, self.segments, self.next_chunk_id, self.deleted_vectors = new_gen, live_segments, next_id, deleted
        # Keep the previous generation's files one round: a reader that read it just before the
        # commit may still be opening them.
        self._collect({old_gen, new_gen}, old_segments + live_segments)

    def _collect(self, generations: set[int], live_segments: list[SegmentRow]) -> None:
        self.layout.remove_unreferenced(fts_keep=generations, hnsw_keep={s.generation for s in live_segments})

    def _commit_sqlite(self, batch: Batch, ids, new_gen: int, next_id: int, deleted: int,
                       live_segments: list[SegmentRow], old_ids: list[int]) -> None:
        conn = self.conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            segments.replace_segments(conn, live_segments)
            if batch.clear:
                conn.execute("DELETE FROM chunks")
                conn.execute("DELETE FROM files")
                segments.clear_tombstones(conn)
            else:
                segments.add_tombstones(conn, old_ids)
            for path in batch.removed_paths:
                conn.execute("DELETE FROM chunks WHERE path = ?", (path,))
                if path not in batch.files:
                    conn.execute("DELETE FROM files WHERE path = ?", (path,))
            conn.executemany(
                "INSERT INTO chunks(id, path, start_line, end_line, language, hash, text, names) VALUES (?,?,?,?,?,?,?,?)",
                [(cid, path, c.start_line, c.end_line, c.language, c.hash, c.text, c.names)
                 for path, path_ids in ids.items() for cid, c in zip(path_ids, batch.chunks[path])],
            )
            conn.executemany(
                "INSERT INTO files(path, size, mtime_ns, hash) VALUES (?,?,?,?) ON CONFLICT(path) DO UPDATE SET "
                "size = excluded.size, mtime_ns = excluded.mtime_ns, hash = excluded.hash",
                [(r.path, r.size, r.mtime_ns, r.hash) for r in batch.files.values()],
            )
            metadata.set_state(conn, {
                "generation": new_gen, "next_chunk_id": next_id, "deleted_vectors": deleted,
                "model": self.model, "dim": self.dim, "last_index_time": time.time(),
                "chunking": self.current_chunking, "segmented": 1,
            })
            failpoints.reached("before_sqlite_commit")
