"""The text that is embedded for a chunk: a short header saying where the chunk lives, then its lines.

Only the vector sees the header. What results show, what Tantivy indexes and what snippets are cut
from stays the chunk's source lines (`Chunk.text`). The embedding cache is keyed by the hash of this
embedded text, so moving a file (a new path in the header) re-embeds its chunks while identical
embedded text, in any run, reuses its vector (ADR 0012).

    cidx/store/writer.py > class StoreWriter > def commit
    def commit(self, batch: Batch) -> int:      <- only on later pieces of a split definition
    <the chunk's lines>
"""

from __future__ import annotations

from cidx.source.chunker import Chunk

HEADER_ID = "h1"  # part of the chunking id: changing the header format changes every embedded text


def embedded_text(path: str, chunk: Chunk) -> str:
    header = " > ".join((path, *chunk.context))
    if chunk.signature:
        header += "\n" + chunk.signature
    return header + "\n" + chunk.text
