"""Full text on code (ADR 0013): all-terms hits first, any-term BM25 filling the rest, `--any-term`,
and an index of the older analysis refused until `cidx index --fts-only` rebuilds it."""

from __future__ import annotations

import shutil

import pytest
import tantivy

from cidx.config import Config, write_config
from cidx.fastpath.errors import StoreCorruptError
from cidx.indexer import run_index
from cidx.fastpath.params import parse_query_args
from cidx.search.engine import SearchEngine
from cidx.store.layout import IndexLayout
from cidx.store.reader import IndexReader
from tests.conftest import git, run_cidx

FILES = {
    # "retry" many times and nothing else: the best any-term (OR) match for "retry later"
    "many.py": "retry = retry or retry\nretry(retry, retry)\nretry()\n",
    # the only chunk holding both words, in a long chunk: a weaker BM25 score than many.py
    "both.py": ("def send_with_jitter(request, session, timeout, headers, cookies, proxies):\n"
                "    # retry later\n"
                "    return session.send(request, timeout=timeout, headers=headers, cookies=cookies, proxies=proxies)\n"),
    "jitter.py": "jitter = 0.1\n",
    "server.py": "class HTTPServer:\n    def parseRequestLine(self, line):\n        return line.split()\n",
}


def make_repo(root, embedder) -> Config:
    root.mkdir(parents=True)
    for name, text in FILES.items():
        (root / name).write_text(text)
    git(root, "init", "-q")
    config = Config(root=root)
    write_config(config)
    run_index(config, embedder)
    return config


@pytest.fixture(scope="module")
def repo(tmp_path_factory, embedder):
    return make_repo(tmp_path_factory.mktemp("words") / "repo", embedder)


def paths(config, embedder, *argv):
    engine = SearchEngine(IndexReader(IndexLayout(config.index_dir)), lambda: embedder)
    return [h.path for h in engine.query(parse_query_args(list(argv))).hits]


def test_all_terms_matches_rank_before_any_term_matches(repo, embedder):
    assert paths(repo, embedder, "retry jitter", "--fts") == ["both.py", "many.py", "jitter.py"]
    assert paths(repo, embedder, "retry jitter", "--fts", "-l", "1") == ["both.py"]


def test_a_name_is_an_exact_lookup_with_nothing_partial_after_it(repo, embedder):
    assert paths(repo, embedder, "send_with_jitter", "--fts") == ["both.py"]
    assert paths(repo, embedder, "sendWithJitter", "--fts") == []  # a name is looked up whole
    assert paths(repo, embedder, "retry_jitter", "--fts") == []  # both.py holds the words, not the name
    assert paths(repo, embedder, "retry jitter", "--fts")[0] == "both.py"  # a description: the words
    assert paths(repo, embedder, "retry_soon", "--fts", "--any-term")[0] == "many.py"


def test_any_term_ranks_by_bm25_alone(repo, embedder):
    # both.py holds both words, so it comes first by default; --any-term ranks by BM25: many.py.
    assert paths(repo, embedder, "retry later", "--fts")[0] == "both.py"
    assert paths(repo, embedder, "retry later", "--fts", "--any-term")[0] == "many.py"


def test_a_sentence_is_not_empty_and_finds_split_identifiers(repo, embedder):
    assert paths(repo, embedder, "where is the http server parsing a request line", "--fts")[0] == "server.py"
    assert paths(repo, embedder, "parse request line", "--fts")[0] == "server.py"  # all three words
    assert paths(repo, embedder, "parse line", "--fts") == ["server.py"]
    assert paths(repo, embedder, "HTTPServer", "--fts") == ["server.py"]


def test_min_score_and_limit_apply_to_the_filled_hits_too(repo, embedder):
    assert paths(repo, embedder, "retry jitter", "--fts", "--min-score", "1000") == []
    assert len(paths(repo, embedder, "retry jitter", "--fts", "-l", "2")) == 2


def _replace_with_v1_index(directory):
    """What an index of the previous analysis looks like: fields content/content_cs."""
    shutil.rmtree(directory)
    directory.mkdir()
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    sb.add_text_field("content", stored=False)
    sb.add_text_field("content_cs", stored=False)
    old = tantivy.Index(sb.build(), path=str(directory))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    writer.commit()
    writer.wait_merging_threads()


def test_an_index_of_the_older_analysis_says_to_rebuild_and_fts_only_does(tmp_path, embedder):
    config = make_repo(tmp_path / "repo", embedder)
    layout = IndexLayout(config.index_dir)
    generation = max(g for g, _ in layout.generation_files())
    _replace_with_v1_index(layout.fts_dir(generation))
    with pytest.raises(StoreCorruptError, match="older text analysis.*--fts-only"):
        paths(config, embedder, "HTTPServer", "--fts")
    out = run_cidx("query", "HTTPServer", "--fts", cwd=config.root, env={"CIDX_NO_DAEMON": "1"})
    assert out.returncode != 0 and "cidx index --fts-only" in out.stderr and "Traceback" not in out.stderr
    (config.root / "jitter.py").write_text("jitter = 0.2\n")
    with pytest.raises(StoreCorruptError, match="--fts-only"):  # never v2 documents beside v1 ones
        run_index(config, embedder)
    run_index(config, embedder, fts_only=True)
    assert paths(config, embedder, "http server", "--fts") == ["server.py"]
    run_index(config, embedder)  # incremental indexing works again on the rebuilt text index
    # the function named send_with_jitter first (its name holds the word), then the new file
    assert paths(config, embedder, "jitter", "--fts") == ["both.py", "jitter.py"]
