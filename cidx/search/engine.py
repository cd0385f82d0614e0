"""Runs a QueryParams against one consistent generation of the index.

The engine holds what a query needs warm: an IndexReader (HNSW, Tantivy, SQLite connections) and the
embedder, created on first semantic use so that a full-text query never pays for the model. The
daemon keeps one engine alive; a standalone query builds one and throws it away.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import QueryParams
from cidx.fastpath.results import Hit, QueryResult
from cidx.search.filters import ChunkFilter
from cidx.search.fusion import candidate_depth, reciprocal_rank_fusion
from cidx.search.query_embedding import embedding_text
from cidx.search.snippets import best_matching_line, first_matching_line, make_snippet, terms_pattern
from cidx.store import fts as fts_store
from cidx.fastpath.analysis import is_description
from cidx.store.reader import IndexReader, Snapshot


class SearchEngine:
    def __init__(self, reader: IndexReader, embedder_factory: Callable[[], object]):
        self.reader = reader
        self._embedder_factory = embedder_factory
        self._embedder = None
        self._embedder_lock = threading.Lock()
        self._filter_cache: tuple[int, list[tuple[int, str, str]]] | None = None

    @property
    def embedder(self):
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = self._embedder_factory()
                    self.reader.loads["model"] += 1
        return self._embedder

    def evict(self) -> None:
        """Forget everything loaded; the next query loads again (the daemon's TTL expiry)."""
        self.reader.evict()
        with self._embedder_lock:
            self._embedder = None
        self._filter_cache = None

    def query_vector(self, text: str):
        """The vector a semantic or hybrid query searches with: `text` as the model should see it
        (cidx/search/query_embedding.py), embedded."""
        return self.embedder.embed_query(embedding_text(text))

    def query(self, params: QueryParams) -> QueryResult:
        params.validate()
        chunk_filter = ChunkFilter(params)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query_vector = None
        if params.mode in ("semantic", "hybrid"):
            query_vector = self.query_vector(params.text)  # outside the snapshot: no DB held
            timings["embed"] = (time.perf_counter() - t0) * 1e3
        with self.reader.snapshot() as snap:
            if query_vector is not None and snap.loaded.model != self.embedder.name:
                raise UsageError(f"the index was built with {snap.loaded.model} but the config uses "
                                 f"{self.embedder.name}; run `cidx index --clear` to rebuild it")
            t1 = time.perf_counter()
            if params.mode == "semantic":
                hits = self._semantic(snap, params, chunk_filter, query_vector, params.limit)
            elif params.mode == "fts":
                hits = self._fts(snap, params, chunk_filter, params.limit)
            else:
                hits = self._hybrid(snap, params, chunk_filter, query_vector)
            timings["search"] = (time.perf_counter() - t1) * 1e3
            generation = snap.generation
        return QueryResult(params.mode, generation, tuple(hits), timings)

    # -- semantic -----------------------------------------------------------------------------
    def _semantic(self, snap: Snapshot, params, chunk_filter, vector, limit) -> list[Hit]:
        allowed = self._allowed_ids(snap, chunk_filter) if chunk_filter.active else None
        return self._semantic_hits(snap, params, snap.loaded.vectors.search(vector, limit, params.ef, allowed))

    def _semantic_hits(self, snap: Snapshot, params, found: list[tuple[int, float]]) -> list[Hit]:
        if params.min_score is not None:
            found = [(cid, score) for cid, score in found if score >= params.min_score]
        rows = snap.chunks(cid for cid, _ in found)
        hits = []
        for cid, score in found:
            row = rows.get(cid)
            if row is None:
                continue
            snippet, first = make_snippet(row.text, row.start_line, 0, params.snippet_lines)
            hits.append(Hit(row.path, row.start_line, row.end_line, row.language, score, "semantic",
                            snippet, first, row.start_line))
        return hits

    def _allowed_ids(self, snap: Snapshot, chunk_filter: ChunkFilter) -> set[int]:
        cache = self._filter_cache
        if cache is None or cache[0] != snap.generation:
            rows = snap.conn.execute("SELECT id, path, language FROM chunks").fetchall()
            cache = (snap.generation, rows)
            self._filter_cache = cache
        return {cid for cid, path, language in cache[1] if chunk_filter.accepts(path, language)}

    # -- full text ------------------------------------------------------------------------------
    def _fts(self, snap: Snapshot, params, chunk_filter, limit, *, any_term: bool = False) -> list[Hit]:
        """All-terms matches first (`--fts` is precise); for a query of several words, when they are
        fewer than `limit`, chunks holding some of the words (BM25, OR) fill the rest, so a sentence
        never comes back empty. `any_term` (hybrid's full-text side, `--any-term`) ranks by the OR
        query alone (ADR 0013)."""
        if params.regex:
            return self._regex(snap, params, chunk_filter, limit)
        how = {"case_sensitive": params.case_sensitive, "edit_distance": params.edit_distance,
               "names": fts_store.has_names(snap.loaded.fts)}
        either = fts_store.build_any_term_query(params.text, **how,
                                                grams=fts_store.has_name_grams(snap.loaded.fts))
        if either is None:
            raise UsageError(f"{params.text!r} has no words to search for; use --regex to match punctuation")
        pattern = None if params.edit_distance else terms_pattern(params.text, case_sensitive=params.case_sensitive)
        hits: list[Hit] = []
        taken: set[int] = set()
        if not (any_term or params.any_term):
            hits = self._fts_hits(snap, params, chunk_filter, fts_store.build_query(params.text, **how), limit,
                                  pattern, taken)
            if not is_description(params.text):
                return hits  # a name (`load_settings`) is an exact lookup: nothing partial after it
        if len(hits) < limit:
            hits += self._fts_hits(snap, params, chunk_filter, either, limit - len(hits), pattern, taken)
        return hits

    def _fts_hits(self, snap: Snapshot, params, chunk_filter, query, limit, pattern, taken: set[int]) -> list[Hit]:
        """Up to `limit` hits of `query` that pass the filters and are not in `taken` (updated)."""
        # Filters and --min-score drop hits after the search: ask for more then (and more again below).
        narrowing = chunk_filter.active or params.min_score is not None
        want = (limit + len(taken)) * (4 if narrowing else 1)
        total = max(fts_store.num_docs(snap.loaded.fts), 1)
        while True:
            found = fts_store.search(snap.loaded.fts, query, min(want, total))
            rows = snap.chunks(cid for cid, _ in found if cid not in taken)
            hits, ids = [], []
            for cid, score in found:
                row = rows.get(cid)
                if row is None or cid in taken or not chunk_filter.accepts(row.path, row.language):
                    continue
                if params.min_score is not None and score < params.min_score:
                    continue
                hits.append(self._text_hit(row, score, pattern, params.snippet_lines))
                ids.append(cid)
            if len(hits) >= limit or len(found) < want or want >= total:
                taken.update(ids[:limit])
                return hits[:limit]
            want *= 4

    def _regex(self, snap: Snapshot, params, chunk_filter, limit) -> list[Hit]:
        pattern = re.compile(params.text, re.MULTILINE | (0 if params.case_sensitive else re.IGNORECASE))
        scored = []
        for row in snap.iter_chunks():
            if not chunk_filter.accepts(row.path, row.language):
                continue
            count = sum(1 for _ in pattern.finditer(row.text))
            if count and (params.min_score is None or count >= params.min_score):
                scored.append((count, row))
        scored.sort(key=lambda item: (-item[0], item[1].path, item[1].start_line))
        return [self._text_hit(row, float(count), pattern, params.snippet_lines, regex=True)
                for count, row in scored[:limit]]

    @staticmethod
    def _text_hit(row, score: float, pattern, snippet_lines: int, *, regex: bool = False) -> Hit:
        # A regex may span lines: its first match. Words: the line holding most of them.
        offset = first_matching_line(row.text, pattern) if regex else best_matching_line(row.text, pattern)
        snippet, first = make_snippet(row.text, row.start_line, offset, snippet_lines)
        return Hit(row.path, row.start_line, row.end_line, row.language, score, "fts", snippet, first,
                   row.start_line + offset)

    # -- hybrid ---------------------------------------------------------------------------------
    def _hybrid(self, snap: Snapshot, params, chunk_filter, vector) -> list[Hit]:
        depth = candidate_depth(params.limit)
        allowed = self._allowed_ids(snap, chunk_filter) if chunk_filter.active else None
        # The kNN search (in-memory, releases the GIL) runs beside the Tantivy search; the SQLite
        # connection of the snapshot is only ever used from this thread.
        with ThreadPoolExecutor(max_workers=1) as pool:
            knn = pool.submit(snap.loaded.vectors.search, vector, depth, params.ef, allowed)
            try:
                fts_hits = self._fts(snap, params, chunk_filter, depth, any_term=True)
            except UsageError:
                fts_hits = []  # nothing word-like to match: the semantic side still answers
            semantic_hits = self._semantic_hits(snap, params, knn.result())
        return reciprocal_rank_fusion(semantic_hits, fts_hits, params.limit)
