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
from cidx.fastpath.analysis import any_term_terms, index_terms, is_description, query_words
from cidx.store.layout import fsync_tree, remove_path

# Identifies the text analysis (cidx/fastpath/analysis.py) an index was built with; part of the recorded
# index format (cidx/indexer.py INDEX_FORMAT_ID): bumping it makes the next `cidx index` rebuild.
# v1: `\w+` runs whole, fields content/content_cs. v2 (ADR 0013): runs whole plus their words,
# fields words/words_cs.
ANALYZER_ID = "v2"
WRITER_HEAP_BYTES = 64_000_000
FIELD, FIELD_CS = "words", "words_cs"  # lower-cased terms; terms in their original case
_STALE = ("built with an older text analysis; run `cidx index --fts-only` to rebuild it")


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    # Term frequencies without positions: no phrase queries, and a smaller index.
    sb.add_text_field(FIELD, stored=False, tokenizer_name="terms", index_option="freq")
    sb.add_text_field(FIELD_CS, stored=False, tokenizer_name="terms", index_option="freq")
    return sb.build()


SCHEMA = _schema()


def _register_analyzers(index: tantivy.Index) -> None:
    # The analysis is done in Python (index_terms); Tantivy only splits its output on whitespace.
    index.register_tokenizer("terms", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())


def is_current(index: tantivy.Index) -> bool:
    """False for an index written by an older analysis (its schema lacks this version's fields)."""
    try:
        tantivy.Query.term_query(index.schema, FIELD_CS, "x")
        return True
    except ValueError:
        return False


def open_reader(directory: Path) -> tantivy.Index:
    if not (directory / "meta.json").is_file():
        raise FileNotFoundError(directory)
    try:
        index = tantivy.Index.open(str(directory))
        _register_analyzers(index)
        index.reload()
    except (ValueError, OSError, RuntimeError) as exc:
        raise StoreCorruptError(f"{directory}: unreadable full-text index ({exc}); run `cidx index --fts-only`") from None
    if not is_current(index):
        raise StoreCorruptError(f"{directory}: the full-text index was {_STALE}")
    return index


class FtsGenerationWriter:
    """Builds generation `target` from `base` (None: from empty)."""

    def __init__(self, base: Path | None, target: Path):
        remove_path(target)
        target.mkdir(parents=True)
        if base is not None and (base / "meta.json").is_file():
            if not is_current(tantivy.Index.open(str(base))):
                # Adding v2 documents beside v1 ones would answer half the queries wrong, silently.
                raise StoreCorruptError(f"{base}: the full-text index was {_STALE}")
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
        doc.add_text(FIELD, index_terms(text, lowercase=True))
        doc.add_text(FIELD_CS, index_terms(text, lowercase=False))
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


def _term(field: str, term: str, edit_distance: int) -> tantivy.Query:
    if edit_distance:
        return tantivy.Query.fuzzy_term_query(SCHEMA, field, term, distance=edit_distance, transposition_cost_one=True)
    return tantivy.Query.term_query(SCHEMA, field, term)


def build_query(text: str, *, case_sensitive: bool, edit_distance: int) -> tantivy.Query | None:
    """All terms must match (code search wants precision).

    A description (several words, `parse config`) needs each word of each run: `parse_config` in it
    requires parse and config, so `parseConfig` matches too, and the run itself is an optional clause
    that ranks the exact spelling first. A name (one word or identifier, `parseConfig`, `m0v0`) is
    an exact lookup: a compound must be there whole, or `m0v0` would match `m10v0` (m, 0, v)."""
    field = FIELD_CS if case_sensitive else FIELD
    words = query_words(text, lowercase=not case_sensitive)
    if not words:
        return None
    name = not is_description(text)
    required = dict.fromkeys(term for whole, parts in words
                             for term in ((whole,) if name or not parts else parts))
    optional = dict.fromkeys(whole for whole, parts in words if parts and whole not in required)
    clauses = [(tantivy.Occur.Must, _term(field, term, edit_distance)) for term in required]
    clauses += [(tantivy.Occur.Should, _term(field, term, edit_distance)) for term in optional]
    return tantivy.Query.boolean_query(clauses)


def build_any_term_query(text: str, *, case_sensitive: bool, edit_distance: int) -> tantivy.Query | None:
    """BM25 over the query's terms with OR semantics (stop words dropped): what a sentence needs."""
    field = FIELD_CS if case_sensitive else FIELD
    terms = any_term_terms(text, lowercase=not case_sensitive)
    if not terms:
        return None
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, _term(field, t, edit_distance)) for t in terms])


def search(index: tantivy.Index, query: tantivy.Query, limit: int) -> list[tuple[int, float]]:
    searcher = index.searcher()
    result = searcher.search(query, limit, count=False)
    return [(int(searcher.doc(addr)["chunk_id"][0]), float(score)) for score, addr in result.hits]


def num_docs(index: tantivy.Index) -> int:
    return index.searcher().num_docs
