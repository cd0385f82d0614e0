"""Every `cidx query` option on a small repository with known answers. Each test fails without its
option: it checks something only that option produces."""

from __future__ import annotations

import hashlib
import json

import pytest

from cidx.config import Config, write_config
from cidx.fastpath.errors import UsageError
from cidx.indexer import run_index
from cidx.fastpath.params import parse_query_args
from cidx.search.engine import SearchEngine
from cidx.store import vectors
from cidx.store.layout import IndexLayout
from cidx.store.reader import IndexReader
from tests.conftest import run_cidx, write_fixture_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory, embedder):
    root = write_fixture_repo(tmp_path_factory.mktemp("q") / "repo")
    config = Config(root=root)
    write_config(config)
    run_index(config, embedder)
    return config


@pytest.fixture(scope="module")
def engine(repo, embedder):
    return SearchEngine(IndexReader(IndexLayout(repo.index_dir)), lambda: embedder)


def q(engine, *argv):
    return engine.query(parse_query_args(list(argv))).hits


def paths(hits):
    return [h.path for h in hits]


def test_semantic_finds_by_meaning(engine):
    assert paths(q(engine, "retry a web request with exponential backoff"))[0] == "src/http_client.py"
    assert paths(q(engine, "sort a list of numbers"))[0] == "lib/sorting.go"


def test_limit(engine):
    assert len(q(engine, "function")) == 7  # every chunk of the fixture (one per definition, ADR 0012)
    assert len(q(engine, "function", "--limit", "2")) == 2


def test_language_and_exclude_language(engine):
    assert set(paths(q(engine, "function", "--language", "go"))) == {"lib/sorting.go"}
    assert set(paths(q(engine, "function", "--language", "go", "--language", "javascript"))) == \
        {"lib/sorting.go", "src/geometry.js"}
    assert not {p for p in paths(q(engine, "function", "--exclude-language", "python")) if p.endswith(".py")}
    assert set(paths(q(engine, "circleArea", "--fts", "--language", "python"))) == set()


def test_path_filter_and_exclude_path(engine):
    assert {p.split("/")[0] for p in paths(q(engine, "configuration", "--path-filter", "src/*"))} == {"src"}
    assert {p.split("/")[0] for p in paths(q(engine, "configuration", "--path-filter", "src"))} == {"src"}
    assert not [p for p in paths(q(engine, "configuration", "--exclude-path", "src/*")) if p.startswith("src/")]
    assert paths(q(engine, "load_settings", "--fts", "--exclude-path", "tests/*")) == ["src/config_loader.py"]


def test_min_score(engine):
    scored = q(engine, "read the JSON configuration file")
    cut = (scored[0].score + scored[-1].score) / 2
    kept = q(engine, "read the JSON configuration file", "--min-score", str(cut))
    assert 0 < len(kept) < len(scored) and all(h.score >= cut for h in kept)


def test_accuracy_sets_the_search_effort(repo, embedder, monkeypatch):
    # The fixture's few vectors would form a flat segment (searched exactly, no ef): a graph here.
    monkeypatch.setattr(vectors, "FLAT_MAX", 0)
    graph_engine = SearchEngine(IndexReader(IndexLayout(repo.index_dir)), lambda: embedder)
    q(graph_engine, "sorting", "--accuracy", "high")
    (segment,) = graph_engine.reader._loaded.vectors.segments
    assert segment.index.ef == 400
    q(graph_engine, "sorting", "--accuracy", "fast")
    assert segment.index.ef == 32


def test_fts_all_terms_first_then_any_term(engine):
    assert paths(q(engine, "circleArea", "--fts")) == ["src/geometry.js"]
    # the chunk with both words first; rectangleArea's chunk (the word `area`) fills in after it
    assert paths(q(engine, "circleArea radius", "--fts"))[0] == "src/geometry.js"
    assert set(paths(q(engine, "circleArea radius", "--fts"))) == {"src/geometry.js"}
    # no chunk holds both: each holding one of them still answers (ADR 0013)
    assert set(paths(q(engine, "circleArea BubbleSort", "--fts"))) == {"src/geometry.js", "lib/sorting.go"}
    assert paths(q(engine, "circleArea BubbleSort", "--fts", "--any-term")) == \
        paths(q(engine, "circleArea BubbleSort", "--fts"))


def test_fts_finds_the_words_of_identifiers(engine):
    assert set(paths(q(engine, "circle area", "--fts"))) == {"src/geometry.js"}
    assert paths(q(engine, "bubble sort", "--fts")) == ["lib/sorting.go"]
    assert paths(q(engine, "http client", "--fts")) == ["src/http_client.py"]
    assert paths(q(engine, "parse config", "--fts"))[0] == "docs/notes.md"


def test_fts_with_a_sentence_is_not_empty(engine):
    assert paths(q(engine, "sort the integers in a slice quickly", "--fts"))[0] == "lib/sorting.go"


def test_fuzzy_and_edit_distance(engine):
    assert paths(q(engine, "cirkle", "--fts")) == []
    assert paths(q(engine, "cirkle", "--fts", "--fuzzy")) == ["src/geometry.js"]
    assert paths(q(engine, "cirkleAria", "--fts", "--edit-distance", "1")) == []  # a name is fuzzy whole
    assert paths(q(engine, "cirkleAria", "--fts", "--edit-distance", "2")) == ["src/geometry.js"]
    assert paths(q(engine, "cirkle aria", "--fts", "--fuzzy"))[0] == "src/geometry.js"  # one typo per word
    assert paths(q(engine, "cirkl", "--fts", "--edit-distance", "1")) == []
    assert paths(q(engine, "cirkl", "--fts", "--edit-distance", "2")) == ["src/geometry.js"]


def test_case_sensitive(engine):
    assert paths(q(engine, "parseconfig", "--fts")) == ["docs/notes.md"]
    assert paths(q(engine, "parseconfig", "--fts", "--case-sensitive")) == []
    assert paths(q(engine, "ParseConfig", "--fts", "--case-sensitive")) == ["docs/notes.md"]
    assert paths(q(engine, "Parse Config", "--fts", "--case-sensitive")) == ["docs/notes.md"]


def test_regex_spans_tokens_and_lines(engine):
    assert paths(q(engine, r"raise \w+Error\(\"config", "--fts", "--regex")) == ["src/config_loader.py"]
    assert set(paths(q(engine, r"raise \w+Error\(", "--fts", "--regex"))) == {"src/config_loader.py", "src/http_client.py"}
    hits = q(engine, r"return width \* height", "--fts", "--regex")
    assert paths(hits) == ["src/geometry.js"] and hits[0].match_line == 7
    assert paths(q(engine, r"(?s)def get.*giving up", "--fts", "--regex")) == ["src/http_client.py"]
    assert paths(q(engine, r"RAISE \w+ERROR", "--fts", "--regex", "--case-sensitive")) == []


def test_snippet_points_at_the_split_identifier(engine):
    hit = q(engine, "circle area", "--fts", "--snippet-lines", "1")[0]
    assert hit.snippet == "function circleArea(radius) {" and hit.match_line == 2


def test_snippet_lines(engine):
    assert all(h.snippet == "" for h in q(engine, "circleArea", "--fts", "--snippet-lines", "0"))
    hit = q(engine, "circleArea", "--fts", "--snippet-lines", "1")[0]
    assert hit.snippet == "function circleArea(radius) {" and hit.snippet_start_line == 2
    assert q(engine, "circleArea", "--fts", "--snippet-lines", "3")[0].snippet.count("\n") == 2


def test_hybrid_labels_each_hit_with_its_sources(engine):
    hits = q(engine, "BubbleSort sorts integers", "--hybrid")
    assert hits[0].path == "lib/sorting.go" and hits[0].source == "semantic+fts"
    assert {h.source for h in hits[1:]} <= {"semantic", "fts"} and len(hits) > 1
    assert paths(q(engine, "BubbleSort", "--fts", "--semantic"))[0] == "lib/sorting.go"


def test_hybrid_full_text_side_answers_a_sentence(engine):
    """Its full-text side is any-term BM25: a sentence no chunk holds whole still reaches it."""
    hits = q(engine, "sort the integers in a slice quickly", "--hybrid")
    assert hits[0].path == "lib/sorting.go" and hits[0].source == "semantic+fts"


def test_unknown_language_and_punctuation_only_fts_are_usage_errors(engine):
    with pytest.raises(UsageError, match="unknown language 'klingon'"):
        q(engine, "x", "--language", "klingon")
    with pytest.raises(UsageError, match="--regex"):
        q(engine, "()", "--fts")


# --- through the real CLI -----------------------------------------------------------------------

def test_quiet_prints_path_line(repo):
    out = run_cidx("query", "circleArea", "--fts", "-q", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "src/geometry.js:2\n"


def test_json_document(repo):
    out = run_cidx("query", "circleArea", "--fts", "--json", cwd=repo.root)
    doc = json.loads(out.stdout)
    assert doc["mode"] == "fts" and doc["hits"][0]["path"] == "src/geometry.js"
    assert set(doc["hits"][0]) == {"path", "start_line", "end_line", "line", "language", "score", "source", "snippet"}


def test_rich_output_from_a_subdirectory_shows_root_relative_paths(repo):
    out = run_cidx("query", "circleArea", "--fts", cwd=repo.root / "lib")
    assert out.returncode == 0, out.stderr
    assert "src/geometry.js:2" in out.stdout and "circleArea" in out.stdout


@pytest.mark.parametrize("argv, code, fragment", [
    (["query", "(x", "--fts", "--regex"], 2, "invalid regex"),
    (["query", "  "], 2, "empty query"),
    (["query", "x", "--limit", "0"], 2, "--limit"),
    (["query", "x", "--language", "klingon"], 2, "unknown language"),
])
def test_bad_queries_exit_non_zero_with_one_line(repo, argv, code, fragment):
    out = run_cidx(*argv, cwd=repo.root)
    assert out.returncode == code
    assert fragment in out.stderr and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_no_index_yet(tmp_path):
    write_config(Config(root=tmp_path))
    out = run_cidx("query", "x", cwd=tmp_path)
    assert out.returncode == 1 and "run `cidx index`" in out.stderr and out.stderr.count("\n") == 1


def test_queries_never_modify_the_index(repo):
    def digest():
        h = hashlib.sha256()
        for path in sorted(p for p in repo.index_dir.rglob("*") if p.is_file() and not p.name.endswith(("-shm", "-wal"))):
            h.update(path.name.encode() + path.read_bytes())
        return h.hexdigest()
    before = digest()
    for argv in (["x"], ["circleArea", "--fts"], ["sort", "--hybrid"], ["a.b", "--fts", "--regex"]):
        assert run_cidx("query", *argv, cwd=repo.root).returncode == 0
    assert digest() == before


@pytest.mark.parametrize("mode", [[], ["--hybrid"]])
def test_a_closing_period_does_not_change_the_vector_query(engine, mode):
    """A docstring-style sentence and the same words without its period rank alike (ADR 0013)."""
    plain = q(engine, "sort a list of numbers", *mode)
    sentence = q(engine, "sort a list of numbers.", *mode)
    assert [(h.path, h.start_line, round(h.score, 6)) for h in sentence] == \
        [(h.path, h.start_line, round(h.score, 6)) for h in plain]
