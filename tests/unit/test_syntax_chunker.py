"""The syntax-aware chunker on one fixture per language: definition boundaries, nested classes,
decorators, oversized definitions, fallbacks, line endings, coverage, determinism."""

from __future__ import annotations

import pytest

from cidx.source import grammars
from cidx.source.chunker import chunk_text, split_lines
from cidx.source.syntax_chunker import chunk_source
from tests.unit.syntax_fixtures import (DEFINITION_CHARS, EXPECTED, GROUP_CHARS, HUGE_SIGNATURES, marker_line,
                                        source)

LANGUAGES = sorted(EXPECTED)


def chunks_of(text: str, language: str):
    return chunk_source(text, language, group_chars=GROUP_CHARS, definition_chars=DEFINITION_CHARS)


def test_every_language_with_a_grammar_is_covered_here():
    assert set(LANGUAGES) == set(grammars.GRAMMARS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_fixture_parses_without_errors(language):
    parser = grammars.parser_for(language)
    assert parser is not None, f"grammar for {language} missing from the environment"
    tree = parser.parse(source(language).encode())
    assert not tree.root_node.has_error


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_definition_is_one_chunk_with_its_enclosing_names(language):
    text = source(language)
    chunks = chunks_of(text, language)
    for name, context in EXPECTED[language].items():
        start, end = marker_line(text, f"{name}-start"), marker_line(text, f"{name}-end")
        matching = [c for c in chunks if c.start_line == start]
        assert len(matching) == 1, (name, [(c.start_line, c.end_line, c.context) for c in chunks])
        chunk = matching[0]
        assert (chunk.end_line, chunk.context, chunk.signature) == (end, context, ""), name


@pytest.mark.parametrize("language", ["python", "typescript", "java", "rust"])
def test_decorators_and_attributes_stay_with_their_definition(language):
    text = source(language)
    decorator = {"python": "@decorator(option=True)", "typescript": "@logged  // gamma-start",
                 "java": "@Override", "rust": "#[inline]"}[language]
    line = marker_line(text, decorator)
    owners = [c for c in chunks_of(text, language) if c.start_line <= line <= c.end_line]
    assert len(owners) == 1 and owners[0].context[-1].split()[-1] in {"alpha", "gamma"}
    assert owners[0].start_line <= line < owners[0].end_line  # the definition follows in the same chunk


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_oversized_definition_is_split_with_overlap_and_carries_its_signature(language):
    text = source(language)
    lines = split_lines(text)
    signature_line = next(i + 1 for i, line in enumerate(lines) if line.strip() == HUGE_SIGNATURES[language])
    pieces = [c for c in chunks_of(text, language) if c.context and c.context[-1].endswith(" huge")]
    assert len(pieces) >= 3
    assert pieces[0].start_line <= signature_line and pieces[0].signature == ""
    for before, after in zip(pieces, pieces[1:]):
        assert after.start_line <= before.end_line  # overlapping windows
        assert after.start_line > signature_line and after.signature == HUGE_SIGNATURES[language]
    assert all(len(p.text) <= 800 for p in pieces)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_non_blank_line_is_in_a_chunk_and_chunk_text_is_its_lines(language):
    text = source(language)
    lines = split_lines(text)
    chunks = chunks_of(text, language)
    covered = set()
    for chunk in chunks:
        assert chunk.text == "\n".join(lines[chunk.start_line - 1:chunk.end_line])
        assert chunk.text.strip() and lines[chunk.start_line - 1].strip() and lines[chunk.end_line - 1].strip()
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    assert {i + 1 for i, line in enumerate(lines) if line.strip()} <= covered


@pytest.mark.parametrize("language", LANGUAGES)
def test_default_limits_give_each_small_definition_its_own_chunk_deterministically(language):
    text = source(language, fill_lines=1, huge_lines=3)
    first, second = chunk_source(text, language), chunk_source(text, language)
    assert first == second
    assert not [c.context for c in first if c.context and ", " in c.context[-1]]  # never two definitions
    covered = {n for c in first for n in range(c.start_line, c.end_line + 1)}
    assert {i + 1 for i, line in enumerate(split_lines(text)) if line.strip()} <= covered


def test_packing_definitions_is_the_measured_alternative():
    text = "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n\n\nclass C:\n    x = 1\n"
    alone = chunk_source(text, "python")
    assert [(c.start_line, c.end_line, c.context) for c in alone] == [
        (1, 5, ("def a",)), (8, 9, ("def b",)), (12, 13, ("class C",))]  # module code joins its neighbour
    packed = chunk_source(text, "python", pack_definitions=True)
    assert [(c.start_line, c.end_line, c.context) for c in packed] == [(1, 13, ("def a, def b, class C",))]


def test_a_small_class_of_several_methods_gives_each_method_its_own_chunk():
    """A class that fits in one chunk but holds several definitions (an interface of stubs) is cut
    between them, as a large one is: its header line joins the first member. One method: one chunk."""
    text = ("class Transport:\n    __slots__ = ()\n\n    def get_pid(self):\n        raise NotImplementedError\n\n"
            "    @property\n    def closed(self):\n        return False\n\n\nclass One:\n    def only(self):\n"
            "        return 1\n")
    chunks = chunk_source(text, "python")
    assert [(c.start_line, c.end_line, c.context) for c in chunks] == [
        (1, 5, ("class Transport", "def get_pid")), (7, 9, ("class Transport", "def closed")),
        (12, 14, ("class One",))]
    packed = chunk_source(text, "python", pack_definitions=True)  # the packing alternative keeps classes whole
    assert [(c.start_line, c.end_line) for c in packed] == [(1, 14)]


def test_a_small_class_is_cut_between_its_members_in_brace_languages_too():
    text = "class Pair {\n  int a() { return 1; }\n  int b() { return 2; }\n}\n"
    chunks = chunk_source(text, "java")
    assert [(c.start_line, c.end_line, c.context[-1]) for c in chunks] == [(1, 2, "method a"), (3, 4, "method b")]


@pytest.mark.parametrize("text", [
    "def broken(:\n    return (\n\nclass Fine:\n    pass\n",
    "x = [1, 2\n" * 50,
    "\x00\x01\x02 binary-ish \xff\n",
])
def test_a_file_that_does_not_parse_falls_back_to_line_windows(text):
    assert chunk_source(text, "python") == chunk_text(text)


def test_a_missing_grammar_falls_back_to_line_windows(monkeypatch):
    monkeypatch.setattr(grammars, "GRAMMARS", {**grammars.GRAMMARS, "python": ("tree_sitter_absent_x", "language")})
    monkeypatch.setattr(grammars, "_languages", {})
    text = source("python")
    assert grammars.parser_for("python") is None
    assert chunk_source(text, "python") == chunk_text(text)


@pytest.mark.parametrize("language", [None, "markdown", "csharp"])
def test_languages_without_a_grammar_use_line_windows(language):
    text = "# Title\n\nSome words here.\n" * 30
    assert chunk_source(text, language) == chunk_text(text)


def test_empty_and_blank_files_give_no_chunks():
    assert chunk_source("", "python") == [] and chunk_source("\n\n  \n", "python") == []


def test_mixed_line_endings_keep_the_line_numbers_of_split_lines():
    # BOM, CRLF and LF lines, a lone CR and a form feed inside the code, U+2028 and multi-byte
    # characters before later definitions: tree-sitter's byte offsets must map to split_lines' lines.
    pad = "    total = total + 1  # ünïcödé padding ✓\n" * 12
    text = ("\ufeffimport os\r\n\r\n"
            "def first(total):\r\n" + pad.replace("\n", "\r\n") + "    return 'a\rb'\r\n\n\n"
            "\x0c\n"
            "def second(total):  # \u2028 a line separator in a comment\n" + pad + "    return total\n\n\n"
            "class Third:\r\n    def method(self):\n" + pad.replace("    ", "        ") + "        return 3\r\n")
    lines = split_lines(text)
    chunks = chunk_source(text, "python", group_chars=400, definition_chars=800)
    for chunk in chunks:
        assert chunk.text == "\n".join(lines[chunk.start_line - 1:chunk.end_line])
    starts = {c.context[-1]: c.start_line for c in chunks if c.context}
    assert lines[starts["def first"] - 1] == "def first(total):"
    assert lines[starts["def second"] - 1].startswith("def second(total):")
    assert lines[starts["class Third"] - 1] == "class Third:"
    covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
    assert {i + 1 for i, line in enumerate(lines) if line.strip()} <= covered


def test_deep_nesting_is_cut_by_windows_not_recursion():
    text = "x = (" * 300 + "1" + ")" * 300 + "\n" + "y = " + " + ".join(f"v{i}" for i in range(3000)) + "\n"
    chunks = chunk_source(text, "python")
    assert chunks and all(len(c.text) <= 800 for c in chunks)
    assert "".join(c.text for c in chunks if c.start_line == 2).replace(" ", "").count("+") == 2999


def test_grammars_load_only_when_a_file_is_chunked():
    import subprocess
    import sys

    code = ("import sys, cidx.daemon.service, cidx.cli, cidx.indexer, cidx.search.engine\n"
            "print(sorted(m for m in sys.modules if m.startswith('tree_sitter')))\n"
            "from cidx.source.syntax_chunker import chunk_source\n"
            "chunk_source('def f():\\n    return 1\\n', 'python')\n"
            "print(sorted(m for m in sys.modules if m.startswith('tree_sitter')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and "tree_sitter_python" in out[1] and "tree_sitter_go" not in out[1]
