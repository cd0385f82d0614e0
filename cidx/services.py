"""Building the warm objects a query or an index run needs, from a Config. Shared by the standalone
CLI and the daemon so both search with exactly the same code."""

from __future__ import annotations

from cidx.config import Config
from cidx.fastpath.params import QueryParams
from cidx.fastpath.results import QueryResult


def make_embedder(config: Config):
    from cidx.embed import make_embedder as factory

    return factory(config.embedding)


def make_engine(config: Config):
    from cidx.search.engine import SearchEngine
    from cidx.store.layout import IndexLayout
    from cidx.store.reader import IndexReader

    return SearchEngine(IndexReader(IndexLayout(config.index_dir)), lambda: make_embedder(config))


def run_query_standalone(config: Config, params: QueryParams) -> QueryResult:
    return make_engine(config).query(params)
