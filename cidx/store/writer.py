"""Writing generations: every batch of changes becomes generation N+1 in three steps, ordered so that
a kill -9 at any instant leaves generation N or N+1, never a mix:

1. hnsw-(N+1).bin written beside hnsw-N.bin (temp, fsync, rename);
2. fts-(N+1)/ built from hard links of fts-N/ plus the batch's changes, committed and fsynced;
3. one SQLite transaction changes chunks + manifest and sets state.generation = N+1 (the commit point).

Files of generations newer than the committed one are crash orphans and are removed when a writer
opens. The caller holds the WriterLock.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from cidx.fastpath.errors import UsageError
from cidx.store import failpoints, metadata, vectors
from cidx.store.fts import FtsGenerationWriter
from cidx.store.layout import IndexLayout, fsync_dir, remove_path
from cidx.store.metadata import FileRow


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
        self.deleted_vectors = int(state.get("deleted_vectors", 0))
        layout.remove_generations(keep={self.generation})  # crash orphans
        self._hnsw = None

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

    def _load_hnsw(self, clear: bool):
        if clear or not self.generation:
            return vectors.new_index(self.dim, 1024), 0
        if self._hnsw is None:
            self._hnsw = vectors.load_index(self.layout.hnsw_path(self.generation), self.dim)
        return self._hnsw, self.deleted_vectors

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
        fts = None
        try:
            index, deleted = self._load_hnsw(batch.clear)
            for chunk_id in old_ids:
                index.mark_deleted(chunk_id)
            deleted += len(old_ids)
            vectors.ensure_capacity(index, batch.chunk_count)
            for path, path_ids in ids.items():
                if path_ids:
                    index.add_items(batch.vectors[path], np.asarray(path_ids, dtype=np.int64))
            live = self._live_after(batch, old_ids)
            if deleted > max(1000, live):
                index, deleted = self._compact(index, batch, old_ids, ids), 0
            vectors.save_index(index, hnsw_path)
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
            self._commit_sqlite(batch, ids, new_gen, next_id, deleted)
            failpoints.reached("after_sqlite_commit")
        except BaseException:
            self._hnsw = None  # the in-memory index may hold the aborted batch: reload next time
            if fts is not None:
                fts.abort()
            remove_path(hnsw_path)
            remove_path(fts_dir)
            raise
        old_gen, self.generation, self.next_chunk_id, self.deleted_vectors = self.generation, new_gen, next_id, deleted
        self._hnsw = index
        # Keep the previous generation one round: a reader that read it just before the commit may
        # still be opening its files.
        self.layout.remove_generations(keep={old_gen, new_gen})
        return new_gen

    def rebuild_fts(self) -> int:
        """`cidx index --fts-only`: a fresh text index from the committed chunks, same vectors."""
        if not self.generation:
            raise UsageError("nothing to rebuild yet: run `cidx index` first")
        new_gen = self.generation + 1
        hnsw_path, fts_dir = self.layout.hnsw_path(new_gen), self.layout.fts_dir(new_gen)
        fts = None
        try:
            os.link(self.layout.hnsw_path(self.generation), hnsw_path)
            fts = FtsGenerationWriter(None, fts_dir)
            for chunk_id, path, text, names in metadata.iter_text_rows(self.conn):
                fts.add(chunk_id, path, text, names)
            fts.commit()
            fsync_dir(self.layout.dir)
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                metadata.set_state(self.conn, {"generation": new_gen, "last_index_time": time.time()})
        except BaseException:
            if fts is not None:
                fts.abort()
            remove_path(hnsw_path)
            remove_path(fts_dir)
            raise
        old_gen, self.generation = self.generation, new_gen
        self.layout.remove_generations(keep={old_gen, new_gen})
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

    def _live_after(self, batch: Batch, old_ids: list[int]) -> int:
        committed = 0 if batch.clear else metadata.count_rows(self.conn)[1]
        return committed - len(old_ids) + batch.chunk_count

    def _compact(self, index, batch: Batch, old_ids: list[int], ids: dict[str, list[int]]):
        """Too many tombstones slow search and waste memory: rebuild from the live vectors."""
        gone = set(old_ids)
        live_ids = [] if batch.clear else [r[0] for r in self.conn.execute("SELECT id FROM chunks") if r[0] not in gone]
        live_ids += [i for path_ids in ids.values() for i in path_ids]
        fresh = vectors.new_index(self.dim, len(live_ids) + 1024)
        if live_ids:
            fresh.add_items(np.asarray(index.get_items(live_ids), dtype=np.float32), np.asarray(live_ids, dtype=np.int64))
        return fresh

    def _commit_sqlite(self, batch: Batch, ids, new_gen: int, next_id: int, deleted: int) -> None:
        conn = self.conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if batch.clear:
                conn.execute("DELETE FROM chunks")
                conn.execute("DELETE FROM files")
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
                "chunking": self.current_chunking,
            })
            failpoints.reached("before_sqlite_commit")
