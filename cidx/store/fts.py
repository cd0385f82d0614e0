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
from cidx.fastpath.analysis import (any_term_terms, index_terms, is_description, name_grams, query_gram_words,
                                    query_grams, query_words)
from cidx.store.layout import fsync_tree, remove_path

# Identifies the text analysis (cidx/fastpath/analysis.py) an index was built with; part of the recorded
# index format (cidx/indexer.py INDEX_FORMAT_ID): bumping it makes the next `cidx index` rebuild.
# v1: `\w+` runs whole, fields content/content_cs. v2 (ADR 0013): runs whole plus their words,
# fields words/words_cs. v3: plus `names`, the names a chunk defines or lives in (cidx/source/chunk_names.py),
# boosted in every query (a v2 index stays readable: its queries run without the boost until rebuilt).
# v4: plus `name_grams`, the 4-grams of the names' words, for any-term queries (a v3 index stays
# readable without them until rebuilt).
ANALYZER_ID = "v4"
WRITER_HEAP_BYTES = 64_000_000
FIELD, FIELD_CS = "words", "words_cs"  # lower-cased terms; terms in their original case
NAMES = "names"  # lower-cased terms of the chunk's definition names (and their words)
# A query word found in a name counts 1.5 times one found in the body: measured on the dev set
# (ADR 0013), 1.25-2 is a plateau (any-term BM25 R@10 0.61-0.63 against 0.54 without the field).
NAMES_BOOST = 1.5
NAME_GRAMS = "name_grams"  # 4-grams of the words of the names (cidx/fastpath/analysis.py name_grams)
# What one query word found whole in the name grams weighs: each of its n grams counts GRAMS_BOOST / n.
# Measured on the dev set and checked on a second, held-out-like one (ADR 0013).
GRAMS_BOOST = 2.0
_STALE = ("built with an older text analysis; run `cidx index --fts-only` to rebuild it")


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    # Term frequencies without positions: no phrase queries, and a smaller index.
    sb.add_text_field(FIELD, stored=False, tokenizer_name="terms", index_option="freq")
    sb.add_text_field(FIELD_CS, stored=False, tokenizer_name="terms", index_option="freq")
    sb.add_text_field(NAMES, stored=False, tokenizer_name="terms", index_option="freq")
    sb.add_text_field(NAME_GRAMS, stored=False, tokenizer_name="terms", index_option="freq")
    return sb.build()


SCHEMA = _schema()


def _register_analyzers(index: tantivy.Index) -> None:
    # The analysis is done in Python (index_terms); Tantivy only splits its output on whitespace.
    index.register_tokenizer("terms", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())


def _has_field(index: tantivy.Index, name: str) -> bool:
    try:
        tantivy.Query.term_query(index.schema, name, "x")
        return True
    except ValueError:
        return False


def is_readable(index: tantivy.Index) -> bool:
    """False for a v1 index (terms not split): its answers would be wrong, not just less well ranked."""
    return _has_field(index, FIELD_CS)


def has_names(index: tantivy.Index) -> bool:
    """True for a v3 index; queries on a v2 one must not name the field."""
    return _has_field(index, NAMES)


def has_name_grams(index: tantivy.Index) -> bool:
    """True for a v4 index; queries on an older one must not name the field."""
    return _has_field(index, NAME_GRAMS)


def is_current(index: tantivy.Index) -> bool:
    """False for an index written by an older analysis (its schema lacks this version's fields)."""
    return is_readable(index) and has_names(index) and has_name_grams(index)


def open_reader(directory: Path) -> tantivy.Index:
    if not (directory / "meta.json").is_file():
        raise FileNotFoundError(directory)
    try:
        index = tantivy.Index.open(str(directory))
        _register_analyzers(index)
        index.reload()
    except (ValueError, OSError, RuntimeError) as exc:
        raise StoreCorruptError(f"{directory}: unreadable full-text index ({exc}); run `cidx index --fts-only`") from None
    if not is_readable(index):
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

    def add(self, chunk_id: int, path: str, text: str, names: str = "") -> None:
        doc = tantivy.Document()
        doc.add_unsigned("chunk_id", chunk_id)
        doc.add_text("path", path)
        doc.add_text(FIELD, index_terms(text, lowercase=True))
        doc.add_text(FIELD_CS, index_terms(text, lowercase=False))
        doc.add_text(NAMES, index_terms(names, lowercase=True))
        doc.add_text(NAME_GRAMS, name_grams(names))
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


def _word(field: str, term: str, edit_distance: int, names: bool) -> list[tantivy.Query]:
    """The term in the body, and (case-insensitive queries on a v3 index) in the names, boosted."""
    found = [_term(field, term, edit_distance)]
    if names and field == FIELD:
        found.append(tantivy.Query.boost_query(_term(NAMES, term, edit_distance), NAMES_BOOST))
    return found


def _either(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def build_query(text: str, *, case_sensitive: bool, edit_distance: int, names: bool = False) -> tantivy.Query | None:
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
    clauses = [(tantivy.Occur.Must, _either(_word(field, term, edit_distance, names))) for term in required]
    clauses += [(tantivy.Occur.Should, q) for term in optional for q in _word(field, term, edit_distance, names)]
    return tantivy.Query.boolean_query(clauses)


def build_any_term_query(text: str, *, case_sensitive: bool, edit_distance: int,
                         names: bool = False, grams: bool = False) -> tantivy.Query | None:
    """BM25 over the query's terms with OR semantics (stop words dropped): what a sentence needs.
    `grams` (a v4 index): each word is also looked up in the name grams, unless the query is
    case-sensitive (grams are lower-case) or fuzzy (an edit distance is its own approximate match)."""
    field = FIELD_CS if case_sensitive else FIELD
    terms = any_term_terms(text, lowercase=not case_sensitive)
    if not terms:
        return None
    clauses = [q for t in terms for q in _word(field, t, edit_distance, names)]
    if grams and not case_sensitive and not edit_distance:
        clauses += _gram_clauses(text)
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in clauses])


def _gram_clauses(text: str) -> list[tantivy.Query]:
    clauses = []
    for word in query_gram_words(text):
        grams = query_grams(word)
        weight = GRAMS_BOOST / len(grams)  # a word counts about GRAMS_BOOST grams, however long it is
        clauses += [tantivy.Query.boost_query(tantivy.Query.term_query(SCHEMA, NAME_GRAMS, g), weight) for g in grams]
    return clauses


def search(index: tantivy.Index, query: tantivy.Query, limit: int) -> list[tuple[int, float]]:
    searcher = index.searcher()
    result = searcher.search(query, limit, count=False)
    return [(int(searcher.doc(addr)["chunk_id"][0]), float(score)) for score, addr in result.hits]


def num_docs(index: tantivy.Index) -> int:
    return index.searcher().num_docs
