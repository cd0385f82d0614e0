"""Full and incremental indexing.

Incremental by default: the manifest (path, size, mtime, content hash) says which files changed;
only those are re-chunked, and only chunks whose content hash is not in the embedding cache are
embedded. Work is committed as a new generation every batch, so an interrupted run (Ctrl-C, kill -9)
keeps what was committed and the next run resumes from there. `clear=True` rebuilds everything in one
generation: until it commits, readers keep the old index.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cidx.config import Config
from cidx.errors import IndexCancelled, StoreCorruptError, UsageError
from cidx.source.chunker import CHUNKING_ID, chunk_text
from cidx.source.discover import SourceFile, discover_files, read_source
from cidx.source.languages import language_for
from cidx.store import failpoints
from cidx.store.layout import IndexLayout
from cidx.store.lock import WriterLock
from cidx.store.metadata import FileRow, check_disk_space
from cidx.store.writer import Batch, NewChunk, StoreWriter

# A generation is committed every BATCH_FILES files or BATCH_CHUNKS chunks: the resume granularity.
# CIDX_INDEX_BATCH_FILES tunes it (smaller: more resume points, more commits).
BATCH_FILES = int(os.environ.get("CIDX_INDEX_BATCH_FILES", "200"))
BATCH_CHUNKS = 2000
EMBED_SLICE = 64  # chunks per embed call: progress and cancel checks happen this often


@dataclass(frozen=True)
class ProgressEvent:
    phase: str  # "scan", "index", "commit", "done"
    files_done: int
    files_total: int
    chunks_done: int
    current_file: str
    chunks_per_s: float
    eta_s: float  # -1 when unknown

    def as_tuple(self) -> tuple:
        return (self.phase, self.files_done, self.files_total, self.chunks_done, self.current_file,
                self.chunks_per_s, self.eta_s)

    @classmethod
    def from_tuple(cls, values) -> "ProgressEvent":
        return cls(*values)


@dataclass(frozen=True)
class IndexSummary:
    generation: int
    files_total: int
    files_indexed: int
    files_unchanged: int
    files_removed: int
    chunks_indexed: int
    chunks_embedded: int  # computed by the model this run
    chunks_cached: int  # reused from the embedding cache
    seconds: float

    def as_tuple(self) -> tuple:
        return tuple(self.__dict__.values())


ProgressFn = Callable[[ProgressEvent], None]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def run_index(config: Config, embedder, *, clear: bool = False, fts_only: bool = False,
              progress: ProgressFn | None = None, should_cancel: Callable[[], bool] = lambda: False,
              lock_wait_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic) -> IndexSummary:
    layout = IndexLayout(config.index_dir)
    lock = WriterLock(layout.lock_path).acquire(wait_seconds=lock_wait_seconds)
    try:
        if not embedder.dim:  # an HTTP model of unknown size: one tiny request tells
            embedder.embed(["dimension probe"])
        try:
            writer = StoreWriter(layout, model=embedder.name, dim=embedder.dim, chunking=CHUNKING_ID)
        except StoreCorruptError:
            if not clear:
                raise
            quarantine_metadata(layout)  # --clear must be able to recover from a damaged database
            writer = StoreWriter(layout, model=embedder.name, dim=embedder.dim, chunking=CHUNKING_ID)
        except UsageError:  # built with another embedding model: the refusal names --clear, so honour it
            if not clear:
                raise
            quarantine_metadata(layout, reason="other-model")
            writer = StoreWriter(layout, model=embedder.name, dim=embedder.dim, chunking=CHUNKING_ID)
        try:
            if fts_only:
                started = clock()
                generation = writer.rebuild_fts()
                return IndexSummary(generation, 0, 0, 0, 0, 0, 0, 0, clock() - started)
            if writer.generation and writer.chunking != CHUNKING_ID:
                clear = True  # chunks cut another way: re-chunk everything (unchanged text stays cached)
            return _Run(config, embedder, writer, clear, progress, should_cancel, clock).run()
        except (OSError, sqlite3.OperationalError, ValueError, RuntimeError) as exc:
            check_disk_space(layout.dir, exc)  # out of space: say so, not "internal error"
            raise
        finally:
            writer.close()
    finally:
        lock.release()


def quarantine_metadata(layout: IndexLayout, reason: str = "corrupt") -> None:
    """Move a damaged (or other-model) meta.sqlite and its WAL files aside, never delete it: someone
    may want it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        path = layout.sqlite_path.with_name(layout.sqlite_path.name + suffix)
        if path.exists():
            os.replace(path, path.with_name(f"{path.name}.{reason}-{stamp}"))


class _Run:
    def __init__(self, config, embedder, writer: StoreWriter, clear, progress, should_cancel, clock):
        self.config, self.embedder, self.writer = config, embedder, writer
        self.clear, self.should_cancel, self.clock = clear, should_cancel, clock
        self.progress = progress or (lambda event: None)
        self.started = clock()
        self.files_done = self.chunks_done = self.embedded = self.cached = 0
        self.files_indexed = 0
        self.files_total = 0
        self.embed_seconds = 0.0

    def run(self) -> IndexSummary:
        self._emit("scan", "")
        files = discover_files(self.config.root, self.config.exclude_patterns, self.config.max_file_size)
        manifest = {} if self.clear else self.writer.manifest()
        removed, todo, unchanged = diff_manifest(manifest, files)
        self.files_total = len(todo)

        batch = Batch(clear=self.clear)
        for path in removed:
            batch.remove_file(path)
        for source in todo:
            self._check_cancel()
            self._add_file(batch, source, manifest.get(source.path))
            self.files_done += 1
            if not self.clear and (len(batch.files) >= BATCH_FILES or batch.chunk_count >= BATCH_CHUNKS):
                self._commit(batch)
                batch = Batch()
        self._commit(batch)
        self._emit("done", "")
        return IndexSummary(self.writer.generation, len(files), self.files_indexed, unchanged, len(removed),
                            self.chunks_done, self.embedded, self.cached, self.clock() - self.started)

    def _check_cancel(self) -> None:
        if self.should_cancel():
            raise IndexCancelled(
                f"indexing cancelled; generation {self.writer.generation} is intact, "
                "run `cidx index` to resume")

    def _add_file(self, batch: Batch, source: SourceFile, old: FileRow | None) -> None:
        text = read_source(self.config.root, source.path)
        if text is None:  # vanished, unreadable or binary
            if old is not None:
                batch.remove_file(source.path)
            return
        row = FileRow(source.path, source.size, source.mtime_ns, content_hash(text))
        if old is not None and old.hash == row.hash and not self.clear:
            batch.touch_file(row)
            return
        language = language_for(source.path) or "text"
        chunks = [NewChunk(c.start_line, c.end_line, language, content_hash(c.text), c.text)
                  for c in chunk_text(text)]
        vecs = self._embed(chunks, source.path)
        batch.replace_file(row, chunks, vecs)
        self.files_indexed += 1
        self.chunks_done += len(chunks)

    def _embed(self, chunks: list[NewChunk], path: str) -> np.ndarray:
        dim = self.writer.dim
        if not chunks:
            return np.zeros((0, dim), dtype=np.float32)
        cached = self.writer.cached_vectors(c.hash for c in chunks)
        missing = [c for c in dict((c.hash, c) for c in chunks).values() if c.hash not in cached]
        self.cached += len(chunks) - len(missing)
        for start in range(0, len(missing), EMBED_SLICE):
            self._check_cancel()
            part = missing[start:start + EMBED_SLICE]
            t0 = self.clock()
            vecs = np.asarray(self.embedder.embed([c.text for c in part]), dtype=np.float32)
            self.embed_seconds += self.clock() - t0
            self.writer.cache_vectors([c.hash for c in part], vecs)
            cached.update(zip((c.hash for c in part), vecs))
            self.embedded += len(part)
            self._emit("index", path)
        if not missing:
            self._emit("index", path)
        return np.stack([cached[c.hash] for c in chunks]).astype(np.float32)

    def _commit(self, batch: Batch) -> None:
        if batch.is_empty():
            return
        self._emit("commit", "")
        self.writer.commit(batch)
        failpoints.reached("after_first_batch")

    def _emit(self, phase: str, current: str) -> None:
        elapsed = self.clock() - self.started
        rate = self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0
        eta = -1.0
        if self.files_done and self.files_total:
            eta = elapsed / self.files_done * (self.files_total - self.files_done)
        self.progress(ProgressEvent(phase, self.files_done, self.files_total, self.chunks_done, current, rate, eta))


def diff_manifest(manifest: dict[str, FileRow], files: list[SourceFile]) -> tuple[list[str], list[SourceFile], int]:
    """(removed paths, files to (re)read, count unchanged). Same size and mtime means unchanged;
    anything else is read again, and its content hash decides whether it is re-chunked."""
    present = {f.path for f in files}
    removed = sorted(set(manifest) - present)
    todo = [f for f in files if not _unchanged(manifest.get(f.path), f)]
    return removed, todo, len(files) - len(todo)


def _unchanged(old: FileRow | None, source: SourceFile) -> bool:
    return old is not None and old.size == source.size and old.mtime_ns == source.mtime_ns
