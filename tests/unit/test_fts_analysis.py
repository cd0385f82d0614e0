"""The full-text analysis (cidx/fastpath/analysis.py): identifiers whole and split into their words, and
the same analysis at index and at query time (ADR 0013)."""

import pytest
import tantivy
from hypothesis import given
from hypothesis import strategies as st

from cidx.store import fts
from cidx.fastpath.analysis import (STOP_WORDS, any_term_terms, index_terms, is_description, name_grams,
                                    query_gram_words, query_words, split_identifier)


@pytest.mark.parametrize("token, parts", [
    ("parse_config", ["parse", "config"]),
    ("parseConfig", ["parse", "Config"]),
    ("ParseConfig", ["Parse", "Config"]),
    ("HTTPServer", ["HTTP", "Server"]),
    ("getHTTPResponse", ["get", "HTTP", "Response"]),
    ("IOError", ["IO", "Error"]),
    ("parseURLs", ["parse", "URLs"]),  # a plural acronym stays one word
    ("utf8", ["utf", "8"]),
    ("sha256sum", ["sha", "256", "sum"]),
    ("MAX_RETRY_COUNT", ["MAX", "RETRY", "COUNT"]),
    ("__init__", ["init"]),
    ("_private_name", ["private", "name"]),
    ("naïveParser", ["naïve", "Parser"]),  # non-ASCII letters follow the same rules
    ("ÉtatCivil", ["État", "Civil"]),
    ("config", ["config"]),
    ("HTTP", ["HTTP"]),
    ("_", ["_"]),
    ("8080", ["8080"]),
])
def test_split_identifier(token, parts):
    assert split_identifier(token) == parts


def test_index_terms_keep_each_run_whole_then_its_words():
    assert index_terms("def parseConfig(path): return HTTPServer(path)", lowercase=True).split() == [
        "def", "parseconfig", "parse", "config", "path", "return", "httpserver", "http", "server", "path"]
    assert index_terms("parseConfig x", lowercase=False).split() == ["parseConfig", "parse", "Config", "x"]


def test_very_long_runs_are_not_terms():
    assert index_terms("a" * 101 + " ok", lowercase=True) == "ok"


def test_query_words_are_analysed_like_the_index():
    assert query_words("parse_config HTTPServer parse_config", lowercase=True) == [
        ("parse_config", ("parse", "config")), ("httpserver", ("http", "server"))]
    assert query_words("config", lowercase=True) == [("config", ())]


def test_any_term_terms_drop_stop_words_unless_nothing_else_is_left():
    assert any_term_terms("Return the fields of this dataclass", lowercase=True) == [
        "return", "fields", "dataclass"]
    assert any_term_terms("is not", lowercase=True) == ["is", "not"]
    assert any_term_terms("is_valid", lowercase=True) == ["is_valid", "valid"]
    assert "return" not in STOP_WORDS and "class" not in STOP_WORDS and "self" not in STOP_WORDS


def test_a_description_has_two_words_besides_stop_words():
    assert is_description("retry with backoff") and is_description("parse config")
    assert not is_description("load_settings") and not is_description("parseConfig")
    assert not is_description("the config") and not is_description("config config")


identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)


@given(st.lists(identifier, min_size=1, max_size=5), st.booleans())
def test_every_query_term_is_an_index_term_of_the_same_text(words, lowercase):
    """The same analysis at index and query time: a chunk holding the query's identifiers holds
    every term the query asks for, exact and any-term alike."""
    text = " ".join(words)
    indexed = set(index_terms(text, lowercase=lowercase).split())
    for whole, parts in query_words(text, lowercase=lowercase):
        assert whole in indexed and set(parts) <= indexed
    assert set(any_term_terms(text, lowercase=lowercase)) <= indexed


@pytest.fixture
def index(tmp_path):
    writer = fts.FtsGenerationWriter(None, tmp_path / "fts")
    for chunk_id, text in enumerate(["def parse_config(path): pass", "class HTTPServer: pass",
                                     "parseConfig = load()", "the config of the parser"]):
        writer.add(chunk_id, f"f{chunk_id}.py", text)
    writer.commit()
    return fts.open_reader(tmp_path / "fts")


def found(index, query):
    return [cid for cid, _ in fts.search(index, query, 10)]


def test_words_find_identifiers_in_every_style(index):
    query = fts.build_query("parse config", case_sensitive=False, edit_distance=0)
    assert sorted(found(index, query)) == [0, 2]
    assert found(index, fts.build_query("http server", case_sensitive=False, edit_distance=0)) == [1]


def test_a_description_finds_other_spellings_and_ranks_the_exact_one_first(index):
    query = fts.build_query("parseConfig load", case_sensitive=False, edit_distance=0)
    assert found(index, query) == [2]  # only chunk 2 has load
    query = fts.build_query("parse_config path", case_sensitive=False, edit_distance=0)
    assert found(index, query) == [0]
    query = fts.build_query("parseConfig config", case_sensitive=False, edit_distance=0)
    assert found(index, query)[0] == 2 and sorted(found(index, query)) == [0, 2]


def test_a_name_is_looked_up_whole(index):
    assert found(index, fts.build_query("parseConfig", case_sensitive=False, edit_distance=0)) == [2]
    assert found(index, fts.build_query("parse_config", case_sensitive=False, edit_distance=0)) == [0]
    # a plain word still finds the identifiers it is part of
    assert sorted(found(index, fts.build_query("config", case_sensitive=False, edit_distance=0))) == [0, 2, 3]


def test_case_sensitive_field_splits_too_and_keeps_case(index):
    assert found(index, fts.build_query("Config", case_sensitive=True, edit_distance=0)) == [2]
    assert sorted(found(index, fts.build_query("config", case_sensitive=True, edit_distance=0))) == [0, 3]


def test_any_term_query_ranks_partial_matches(index):
    assert found(index, fts.build_query("parser config loader", case_sensitive=False, edit_distance=0)) == []
    assert set(found(index, fts.build_any_term_query("the parser config loader", case_sensitive=False,
                                                      edit_distance=0))) == {0, 2, 3}


def test_an_index_of_the_older_analysis_is_refused_not_misread(tmp_path):
    """A v1 index (fields content/content_cs) would silently miss split words: it must say how to fix it."""
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    sb.add_text_field("content", stored=False)
    sb.add_text_field("content_cs", stored=False)
    (tmp_path / "old").mkdir()
    old = tantivy.Index(sb.build(), path=str(tmp_path / "old"))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    writer.commit()
    writer.wait_merging_threads()
    with pytest.raises(fts.StoreCorruptError, match="--fts-only"):
        fts.open_reader(tmp_path / "old")
    with pytest.raises(fts.StoreCorruptError, match="--fts-only"):
        fts.FtsGenerationWriter(tmp_path / "old", tmp_path / "next")
    assert fts.ANALYZER_ID == "v4"


def _v2_index(directory, docs):
    """An index as v2 wrote it: words/words_cs, no names field."""
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    for field in (fts.FIELD, fts.FIELD_CS):
        sb.add_text_field(field, stored=False, tokenizer_name="terms", index_option="freq")
    directory.mkdir()
    index = tantivy.Index(sb.build(), path=str(directory))
    index.register_tokenizer("terms", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    for chunk_id, text in enumerate(docs):
        doc = tantivy.Document()
        doc.add_unsigned("chunk_id", chunk_id)
        doc.add_text(fts.FIELD, fts.index_terms(text, lowercase=True))
        doc.add_text(fts.FIELD_CS, fts.index_terms(text, lowercase=False))
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()


def test_a_v2_index_still_answers_without_the_names_but_is_not_extended(tmp_path):
    """Between the upgrade and the rebuild that the next `cidx index` does, full-text queries keep
    working on the old generation; v3 documents are never added beside v2 ones."""
    _v2_index(tmp_path / "v2", ["def parse_config(path): pass", "the config of the parser"])
    index = fts.open_reader(tmp_path / "v2")
    assert not fts.has_names(index)
    query = fts.build_any_term_query("parse the config", case_sensitive=False, edit_distance=0,
                                     names=fts.has_names(index))
    assert sorted(found(index, query)) == [0, 1]
    with pytest.raises(fts.StoreCorruptError, match="--fts-only"):
        fts.FtsGenerationWriter(tmp_path / "v2", tmp_path / "next")


def test_a_word_in_a_definition_name_outranks_the_same_word_in_a_body(tmp_path):
    """The names field (ADR 0013): `load` the function's name beats `load` called in a longer body,
    in every query form; without the field's boost the body-only chunk wins (it says load twice)."""
    writer = fts.FtsGenerationWriter(None, tmp_path / "fts")
    writer.add(0, "a.py", "def settings(): return load(path) or load(default)", names="settings")
    writer.add(1, "b.py", "def load_settings(path): return read(path)", names="load_settings")
    writer.commit()
    index = fts.open_reader(tmp_path / "fts")
    assert fts.has_names(index)
    how = {"case_sensitive": False, "edit_distance": 0}
    for names, first in ((True, 1), (False, 0)):
        assert found(index, fts.build_any_term_query("load the settings", **how, names=names))[0] == first
        assert found(index, fts.build_query("load settings", **how, names=names))[0] == first
    # Case-sensitive queries search words_cs only: names are lower-cased and never boost them.
    assert found(index, fts.build_query("load settings", case_sensitive=True, edit_distance=0, names=True))[0] == 0


def test_name_grams_are_the_4_grams_of_each_distinct_word_of_the_names():
    """Grams come from the words (`is_closed` and `isClosed` give the same ones as `is closed`), never
    across a word boundary, and a word repeated in the names counts once; a 4-letter word is its own
    gram, a shorter one has none."""
    assert name_grams("isclosed") == "iscl sclo clos lose osed"
    assert name_grams("HTTPResponse sendfile") == "http resp espo spon pons onse send endf ndfi dfil file"
    assert name_grams("put_header putHeader") == "head eade ader"
    assert name_grams("Message get") == "mess essa ssag sage"  # `get`: too short for a gram
    assert name_grams("") == "" and name_grams("a_b get_id") == ""


def test_query_gram_words_are_the_words_of_four_letters_or_more_without_stop_words():
    assert query_gram_words("True if the connection is closed.") == ["true", "connection", "closed"]
    assert query_gram_words("Get a header_value, or None") == ["header", "value", "none"]
    assert query_gram_words("is it on") == []


def _names_index(tmp_path, docs):
    writer = fts.FtsGenerationWriter(None, tmp_path / "fts")
    for chunk_id, (text, names) in enumerate(docs):
        writer.add(chunk_id, f"f{chunk_id}.py", text, names=names)
    writer.commit()
    return fts.open_reader(tmp_path / "fts")


def test_a_query_word_inside_a_run_together_name_is_found_by_its_grams(tmp_path):
    """`closed` is not a term of `def isclosed` (one lower-case run, nothing to split), so word terms
    cannot find it; its grams can, and only in the any-term query: `--fts` stays precise."""
    index = _names_index(tmp_path, [("def isclosed(self): return self.fp is None", "HTTPResponse isclosed"),
                                    ("def fileno(self): return self.fp.fileno()", "HTTPResponse fileno"),
                                    ("def close(self): pass", "HTTPResponse close")])
    assert fts.has_name_grams(index)
    how = {"case_sensitive": False, "edit_distance": 0, "names": True}
    assert found(index, fts.build_any_term_query("connection closed", **how)) == []
    # `close` shares two of `closed`'s three grams: found too, after the name holding all three
    assert found(index, fts.build_any_term_query("connection closed", **how, grams=True)) == [0, 2]
    # a word that is also a whole name still ranks that name first: grams add to the term match
    assert found(index, fts.build_any_term_query("close it", **how, grams=True))[0] == 2
    # grams are lower-case and whole-word: no gram clauses for case-sensitive or fuzzy queries
    assert found(index, fts.build_any_term_query("closed", case_sensitive=True, edit_distance=0, names=True,
                                                 grams=True)) == []
    assert found(index, fts.build_any_term_query("closed", case_sensitive=False, edit_distance=1, names=True,
                                                 grams=True)) == [2]


def test_a_v3_index_answers_without_grams_and_is_rebuilt_not_extended(tmp_path):
    """A v3 index (names, no name grams) keeps answering until the next `cidx index` rebuilds it."""
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    for field in (fts.FIELD, fts.FIELD_CS, fts.NAMES):
        sb.add_text_field(field, stored=False, tokenizer_name="terms", index_option="freq")
    (tmp_path / "v3").mkdir()
    old = tantivy.Index(sb.build(), path=str(tmp_path / "v3"))
    old.register_tokenizer("terms", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    doc = tantivy.Document()
    doc.add_unsigned("chunk_id", 7)
    doc.add_text(fts.FIELD, fts.index_terms("def isclosed(self): return closed", lowercase=True))
    doc.add_text(fts.NAMES, "isclosed")
    writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()
    index = fts.open_reader(tmp_path / "v3")
    assert fts.has_names(index) and not fts.has_name_grams(index)
    query = fts.build_any_term_query("closed connection", case_sensitive=False, edit_distance=0, names=True,
                                     grams=fts.has_name_grams(index))
    assert found(index, query) == [7]
    with pytest.raises(fts.StoreCorruptError, match="--fts-only"):
        fts.FtsGenerationWriter(tmp_path / "v3", tmp_path / "next")
