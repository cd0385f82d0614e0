"""The indexer's producer: reads, hashes and chunks files ahead of the embedder (ADR 0019).

It runs in its own thread and hands `PreparedFile`s to the consumer through a bounded queue, so
reading and chunking overlap the embedder's heavy work (numpy/ONNX Runtime release the GIL) while
memory stays bounded by the queue. It touches no SQLite connection: the StoreWriter's connection
belongs to the consumer thread, which also does the embedding-cache lookups.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass, field
from typing import Iterable

from cidx.source.chunk_header import embedded_text
from cidx.source.chunk_names import chunk_names
from cidx.source.discover import SourceFile, read_source
from cidx.source.languages import language_for
from cidx.source.syntax_chunker import chunk_source
from cidx.store.metadata import FileRow
from cidx.store.writer import NewChunk

QUEUE_FILES = 32  # prepared files waiting for the consumer: the producer's memory bound
_POLL_S = 0.1  # how often a blocked producer looks whether the consumer stopped


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def estimate_tokens(text: str) -> int:
    """Cheap token estimate for batching (code averages ~3.5-4 characters a WordPiece token)."""
    return len(text) // 4 + 2


@dataclass(frozen=True)
class PreparedChunk:
    """One chunk as the pipeline carries it. `embed_text` (what the model sees) and `cache_key` (the
    embedding cache key) are fields here and computed only in `chunk_file`, so a chunker that adds a
    header to the embedded text changes one function."""
    chunk: NewChunk  # what the store keeps
    embed_text: str
    cache_key: str
    tokens: int


@dataclass
class PreparedFile:
    source: SourceFile
    action: str  # "replace" (new chunks), "touch" (same content), "gone" (unreadable/vanished)
    row: FileRow | None = None
    chunks: list[PreparedChunk] = field(default_factory=list)


def chunk_file(path: str, text: str) -> list[PreparedChunk]:
    """The chunking step, one function: chunks of `text` with their embedded text and cache key.
    The vector is of the embedded text (header + lines, ADR 0012) and cached under its hash; the
    stored chunk keeps the hash of its own lines."""
    language = language_for(path)
    out = []
    for piece in chunk_source(text, language):
        embedded = embedded_text(path, piece)
        out.append(PreparedChunk(NewChunk(piece.start_line, piece.end_line, language or "text",
                                          content_hash(piece.text), piece.text,
                                          chunk_names(piece.context, piece.text)),
                                 embedded, content_hash(embedded), estimate_tokens(embedded)))
    return out


def prepare_file(root, source: SourceFile, old: FileRow | None, clear: bool) -> PreparedFile:
    text = read_source(root, source.path)
    if text is None:  # vanished, unreadable or binary
        return PreparedFile(source, "gone")
    row = FileRow(source.path, source.size, source.mtime_ns, content_hash(text))
    if old is not None and old.hash == row.hash and not clear:
        return PreparedFile(source, "touch", row)
    return PreparedFile(source, "replace", row, chunk_file(source.path, text))


class Producer:
    """Iterate it in the consumer thread; `stop()` (always, in a finally) ends the thread early.
    An exception in the producer is raised in the consumer when it reaches that file."""

    _DONE = object()

    def __init__(self, root, todo: Iterable[SourceFile], manifest: dict, clear: bool,
                 maxsize: int = QUEUE_FILES):
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(root, list(todo), manifest, clear),
                                        name="index-producer", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, root, todo, manifest, clear) -> None:
        try:
            for source in todo:
                if not self._put(prepare_file(root, source, manifest.get(source.path), clear)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there like a serial error
            self._put(("error", exc))
            return
        self._put(self._DONE)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, tuple):
                raise item[1]
            yield item

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
