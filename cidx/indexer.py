"""Full and incremental indexing.

Incremental by default: the manifest (path, size, mtime, content hash) says which files changed;
only those are re-chunked, and only chunks whose content hash is not in the embedding cache are
embedded. Work is committed as a new generation every batch, so an interrupted run (Ctrl-C, kill -9)
keeps what was committed and the next run resumes from there. `clear=True` rebuilds everything in one
generation: until it commits, readers keep the old index.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cidx.config import Config
from cidx.fastpath.errors import IndexCancelled, StoreCorruptError, UsageError
from cidx.index_producer import PreparedChunk, PreparedFile, Producer, content_hash  # noqa: F401 (re-export)
from cidx.source.chunk_header import HEADER_ID
from cidx.source.discover import SourceFile, scan_repository
from cidx.source.syntax_chunker import SYNTAX_CHUNKING_ID
from cidx.store import failpoints
from cidx.store.fts import ANALYZER_ID
from cidx.store.layout import IndexLayout
from cidx.store.lock import WriterLock
from cidx.store.metadata import FileRow, check_disk_space
from cidx.store.writer import Batch, StoreWriter

# A generation is committed every BATCH_FILES files or BATCH_CHUNKS chunks: the resume granularity.
# CIDX_INDEX_BATCH_FILES tunes it (smaller: more resume points, more commits).
BATCH_FILES = int(os.environ.get("CIDX_INDEX_BATCH_FILES", "200"))
BATCH_CHUNKS = 2000
EMBED_SLICE = 64  # chunks per embed call at most: progress and cancel checks happen this often
# A flush embeds a window of WINDOW_SLICES x slice pending chunks, sorted by length and cut into calls
# of at most TOKEN_BUDGET padded tokens (estimated; ADR 0019).
WINDOW_SLICES = 4
TOKEN_BUDGET = 8192
# What the committed chunks and text index were made with (state "chunking"). An index recorded with
# another id was cut or analysed differently: the next run rebuilds it whole, in one generation, and
# says so (REBUILD_NOTICE); vectors of unchanged embedded text come from the cache.
INDEX_FORMAT_ID = f"{SYNTAX_CHUNKING_ID}+{HEADER_ID}+fts:{ANALYZER_ID}"
REBUILD_NOTICE = "index built by an older chunker/analyzer: rebuilding it (cached vectors are reused)"
VARIANT_NOTICE = "index built with {old}, the model now runs as {new}: rebuilding it"


def embed_slice(embedder) -> int:
    """Chunks per embed call: EMBED_SLICE, or more when the embedder needs more to keep its
    requests in flight (an HTTP provider: batch_size x max_concurrent_requests, ADR 0018)."""
    return max(EMBED_SLICE, int(getattr(embedder, "preferred_batch", 0) or 0))


@dataclass(frozen=True)
class ProgressEvent:
    phase: str  # "notice" (a line to print: `message`), "scan", "index", "commit", "done"
    files_done: int
    files_total: int
    chunks_done: int
    current_file: str
    chunks_per_s: float
    eta_s: float  # -1 when unknown
    message: str = ""  # last on the wire, optional: a 7-value tuple from an older daemon still reads

    def as_tuple(self) -> tuple:
        return (self.phase, self.files_done, self.files_total, self.chunks_done, self.current_file,
                self.chunks_per_s, self.eta_s, self.message)

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


def run_index(config: Config, embedder, *, clear: bool = False, fts_only: bool = False,
              progress: ProgressFn | None = None, should_cancel: Callable[[], bool] = lambda: False,
              lock_wait_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic,
              on_commit: Callable[[int], None] | None = None) -> IndexSummary:
    """`on_commit(generation)` runs after each generation the run commits (new content first, then
    any compaction of it): the daemon refreshes its reader there, so a commit is searchable at once
    and a compaction's merged segment is loaded by the indexing thread, not by the next query
    (ADR 0020)."""
    layout = IndexLayout(config.index_dir)
    lock = WriterLock(layout.lock_path).acquire(wait_seconds=lock_wait_seconds)
    try:
        if not embedder.dim:  # an HTTP model of unknown size: one tiny request tells
            embedder.embed(["dimension probe"])
        try:
            writer = StoreWriter(layout, model=embedder.name, dim=embedder.dim, chunking=INDEX_FORMAT_ID,
                                 rebuild_variant=not fts_only)
        except StoreCorruptError:
            if not clear:
                raise
            quarantine_metadata(layout)  # --clear must be able to recover from a damaged database
            writer = StoreWriter(layout, model=embedder.name, dim=embedder.dim, chunking=INDEX_FORMAT_ID)
        except UsageError:  # built with another embedding model: the refusal names --clear, so honour it
            if not clear:
                raise
            quarantine_metadata(layout, reason="other-model")
            writer = StoreWriter(layout, model=embedder.name, dim=embedder.dim, chunking=INDEX_FORMAT_ID)
        try:
            if fts_only:
                started = clock()
                generation = writer.rebuild_fts()
                return IndexSummary(generation, 0, 0, 0, 0, 0, 0, 0, clock() - started)
            notice = ""
            if writer.variant_change:  # vectors of two engines never share an index
                clear, notice = True, VARIANT_NOTICE.format(old=writer.recorded_model, new=embedder.name)
            elif writer.generation and writer.chunking != INDEX_FORMAT_ID and not clear:
                clear, notice = True, REBUILD_NOTICE  # never mix chunks cut or analysed two ways
            return _Run(config, embedder, writer, clear, progress, should_cancel, clock, on_commit).run(notice)
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
    """The consumer: takes prepared files from the producer thread, embeds their chunks in
    token-budgeted calls across files, and commits generations (ADR 0019)."""

    def __init__(self, config, embedder, writer: StoreWriter, clear, progress, should_cancel, clock,
                 on_commit=None):
        self.config, self.embedder, self.writer = config, embedder, writer
        self.on_commit = on_commit or (lambda generation: None)
        self.clear, self.should_cancel, self.clock = clear, should_cancel, clock
        self.progress = progress or (lambda event: None)
        self.started = clock()
        self.files_done = self.chunks_done = self.embedded = self.cached = 0
        self.files_indexed = 0
        self.files_total = 0
        self.embed_seconds = 0.0
        self.slice = embed_slice(embedder)
        self.window = self.slice * WINDOW_SLICES
        # A provider that wants `preferred_batch` texts a call gets them: its budget never cuts a call
        # short (a chunk is at most 800 characters, ~200 estimated tokens).
        self.token_budget = max(TOKEN_BUDGET, self.slice * 256) if self.slice > EMBED_SLICE else TOKEN_BUDGET
        # Files chunked but not embedded yet: their chunks share embed calls (sorted by length),
        # so calls are full and padding small even when every file is small.
        self.pending: list[PreparedFile] = []
        self.pending_chunks = 0

    def run(self, notice: str = "") -> IndexSummary:
        if notice:
            self._emit("notice", "", notice)
        self._emit("scan", "")
        manifest = {} if self.clear else self.writer.manifest()
        scan = scan_repository(self.config, judged=lambda f: _unchanged(manifest.get(f.path), f))
        files = scan.files
        removed, todo, unchanged = diff_manifest(manifest, files)
        self.files_total = len(todo)

        batch = Batch(clear=self.clear)
        for path in removed:
            batch.remove_file(path)
        producer = Producer(self.config.root, todo, manifest, self.clear)
        try:
            for prepared in producer:
                self._check_cancel()
                self._add_file(batch, prepared, manifest.get(prepared.source.path))
                self.files_done += 1
                if not self.clear and (len(batch.files) + len(self.pending) >= BATCH_FILES
                                       or batch.chunk_count + self.pending_chunks >= BATCH_CHUNKS):
                    self._commit(batch)
                    batch = Batch()
        finally:
            producer.stop()
        self._commit(batch)
        self.writer.record_skips(scan.skip_counts())
        self._emit("done", "")
        return IndexSummary(self.writer.generation, len(files), self.files_indexed, unchanged, len(removed),
                            self.chunks_done, self.embedded, self.cached, self.clock() - self.started)

    def _check_cancel(self) -> None:
        if self.should_cancel():
            raise IndexCancelled(
                f"indexing cancelled; generation {self.writer.generation} is intact, "
                "run `cidx index` to resume")

    def _add_file(self, batch: Batch, prepared: PreparedFile, old: FileRow | None) -> None:
        if prepared.action == "gone":
            if old is not None:
                batch.remove_file(prepared.source.path)
            return
        if prepared.action == "touch":
            batch.touch_file(prepared.row)
            return
        self.pending.append(prepared)
        self.pending_chunks += len(prepared.chunks)
        self.files_indexed += 1
        self.chunks_done += len(prepared.chunks)
        if self.pending_chunks >= self.window:
            self._flush(batch)

    def _flush(self, batch: Batch) -> None:
        """Embed the pending files' chunks together and put the files into the batch."""
        if not self.pending:
            return
        pending, self.pending, self.pending_chunks = self.pending, [], 0
        vectors = self._embed([c for f in pending for c in f.chunks], pending[-1].source.path)
        for prepared in pending:
            batch.replace_file(prepared.row, [c.chunk for c in prepared.chunks],
                               np.stack([vectors[c.cache_key] for c in prepared.chunks]).astype(np.float32)
                               if prepared.chunks else np.zeros((0, self.writer.dim), dtype=np.float32))

    def _embed(self, chunks: list[PreparedChunk], path: str) -> dict[str, np.ndarray]:
        """Vectors by cache key: from the embedding cache, or the model in token-budgeted calls."""
        if not chunks:
            return {}
        cached = self.writer.cached_vectors(c.cache_key for c in chunks)
        missing = [c for c in dict((c.cache_key, c) for c in chunks).values() if c.cache_key not in cached]
        self.cached += len(chunks) - len(missing)
        for part in token_batches(missing, self.token_budget, self.slice):
            self._check_cancel()
            t0 = self.clock()
            vecs = np.asarray(self.embedder.embed([c.embed_text for c in part]), dtype=np.float32)
            self.embed_seconds += self.clock() - t0
            self.writer.cache_vectors([c.cache_key for c in part], vecs)
            cached.update(zip((c.cache_key for c in part), vecs))
            self.embedded += len(part)
            self._emit("index", path)
        if not missing:
            self._emit("index", path)
        return cached

    def _commit(self, batch: Batch) -> None:
        self._flush(batch)
        if batch.is_empty():
            return
        self._emit("commit", "")
        committed = self.writer.commit(batch)
        self.on_commit(committed)
        failpoints.reached("after_first_batch")
        # Segments past their thresholds are merged here, between commits (ADR 0020): a run never
        # leaves more than compaction.MAX_DELTAS deltas for queries to ask.
        compacted = self.writer.compact()
        if compacted != committed:
            self.on_commit(compacted)

    def _emit(self, phase: str, current: str, message: str = "") -> None:
        elapsed = self.clock() - self.started
        rate = self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0
        eta = -1.0
        if self.files_done and self.files_total:
            eta = elapsed / self.files_done * (self.files_total - self.files_done)
        self.progress(ProgressEvent(phase, self.files_done, self.files_total, self.chunks_done, current, rate, eta,
                                    message))


def token_batches(chunks: list[PreparedChunk], budget: int, max_count: int) -> list[list[PreparedChunk]]:
    """Chunks sorted by length, cut into calls of at most `budget` padded tokens (count x longest)
    and `max_count` chunks: similar lengths share a call, so little compute goes to padding."""
    calls: list[list[PreparedChunk]] = []
    current: list[PreparedChunk] = []
    for chunk in sorted(chunks, key=lambda c: c.tokens):
        if current and ((len(current) + 1) * chunk.tokens > budget or len(current) >= max_count):
            calls.append(current)
            current = []
        current.append(chunk)
    if current:
        calls.append(current)
    return calls


def diff_manifest(manifest: dict[str, FileRow], files: list[SourceFile]) -> tuple[list[str], list[SourceFile], int]:
    """(removed paths, files to (re)read, count unchanged). Same size and mtime means unchanged;
    anything else is read again, and its content hash decides whether it is re-chunked."""
    present = {f.path for f in files}
    removed = sorted(set(manifest) - present)
    todo = [f for f in files if not _unchanged(manifest.get(f.path), f)]
    return removed, todo, len(files) - len(todo)


def _unchanged(old: FileRow | None, source: SourceFile) -> bool:
    return old is not None and old.size == source.size and old.mtime_ns == source.mtime_ns
