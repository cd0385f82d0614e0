"""The full-text index (Tantivy), one document per chunk.

Generation N+1 starts as hard links of generation N's files (Tantivy segment files are immutable,
and meta.json is replaced atomically), so writing the next generation never changes the committed
one, and costs no copy. Readers open an index read-only and never create a writer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import tantivy

from cidx.fastpath.errors import StoreCorruptError
from cidx.store.layout import fsync_tree, remove_path

TOKEN_PATTERN = r"\w+"  # identifiers stay whole: `parse_config` is one token
WRITER_HEAP_BYTES = 64_000_000


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    sb.add_text_field("content", stored=False, tokenizer_name="code")
    sb.add_text_field("content_cs", stored=False, tokenizer_name="code_cs")
    return sb.build()


SCHEMA = _schema()


def _register_analyzers(index: tantivy.Index) -> None:
    index.register_tokenizer(
        "code",
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(TOKEN_PATTERN)).filter(tantivy.Filter.lowercase()).build(),
    )
    index.register_tokenizer("code_cs", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(TOKEN_PATTERN)).build())


def open_reader(directory: Path) -> tantivy.Index:
    if not (directory / "meta.json").is_file():
        raise FileNotFoundError(directory)
    try:
        index = tantivy.Index.open(str(directory))
        _register_analyzers(index)
        index.reload()
        return index
    except (ValueError, OSError, RuntimeError) as exc:
        raise StoreCorruptError(f"{directory}: unreadable full-text index ({exc}); run `cidx index --fts-only`") from None


class FtsGenerationWriter:
    """Builds generation `target` from `base` (None: from empty)."""

    def __init__(self, base: Path | None, target: Path):
        remove_path(target)
        target.mkdir(parents=True)
        if base is not None and (base / "meta.json").is_file():
            for entry in os.listdir(base):
                if not entry.startswith(".tantivy-"):  # lock files belong to their directory
                    os.link(base / entry, target / entry)
        self.target = target
        self.index = tantivy.Index(SCHEMA, path=str(target), reuse=True)
        _register_analyzers(self.index)
        self.writer = self.index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)

    def delete_paths(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.writer.delete_documents_by_term("path", path)

    def delete_all(self) -> None:
        self.writer.delete_all_documents()

    def add(self, chunk_id: int, path: str, text: str) -> None:
        doc = tantivy.Document()
        doc.add_unsigned("chunk_id", chunk_id)
        doc.add_text("path", path)
        doc.add_text("content", text)
        doc.add_text("content_cs", text)
        self.writer.add_document(doc)

    def commit(self) -> None:
        """Commit and make every file durable before the SQLite commit points at this generation."""
        self.writer.commit()
        self.writer.wait_merging_threads()
        self.writer = None
        fsync_tree(self.target)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.rollback()
            self.writer = None
        remove_path(self.target)


def build_query(text: str, *, case_sensitive: bool, edit_distance: int) -> tantivy.Query | None:
    """All terms must match (code search wants precision); terms are `\\w+` runs as in indexing."""
    import re

    field = "content_cs" if case_sensitive else "content"
    terms = re.findall(TOKEN_PATTERN, text if case_sensitive else text.lower())
    if not terms:
        return None
    subqueries = []
    for term in dict.fromkeys(terms):
        if edit_distance:
            q = tantivy.Query.fuzzy_term_query(SCHEMA, field, term, distance=edit_distance, transposition_cost_one=True)
        else:
            q = tantivy.Query.term_query(SCHEMA, field, term)
        subqueries.append((tantivy.Occur.Must, q))
    return tantivy.Query.boolean_query(subqueries)


def search(index: tantivy.Index, query: tantivy.Query, limit: int) -> list[tuple[int, float]]:
    searcher = index.searcher()
    result = searcher.search(query, limit, count=False)
    return [(int(searcher.doc(addr)["chunk_id"][0]), float(score)) for score, addr in result.hits]


def num_docs(index: tantivy.Index) -> int:
    return index.searcher().num_docs
