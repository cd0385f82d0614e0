"""Chunker: exact line numbers, full coverage, size limits, overlap, long lines, CRLF."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cidx.source.chunker import DEFAULT_MAX_CHARS, DEFAULT_MAX_LINES, DEFAULT_OVERLAP_LINES, Chunk, chunk_text


def _lines_of(text: str) -> list[str]:
    """The file's lines as an editor or `grep -n` numbers them: split on LF only, CRLF = LF."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a trailing newline ends the last line; it does not start a new one
    return lines


def _nonspace(s: str) -> str:
    return "".join(ch for ch in s if not ch.isspace())


def _check_invariants(text: str, chunks: list[Chunk], max_chars: int, max_lines: int) -> None:
    lines = _lines_of(text)
    if not text.strip():
        assert chunks == []
        return
    covered = set()
    pieces: dict[int, list[str]] = {}
    for c in chunks:
        assert 1 <= c.start_line <= c.end_line <= len(lines), c
        assert c.end_line - c.start_line + 1 <= max_lines
        assert len(c.text) <= max_chars, c
        assert c.text.strip(), c  # a whitespace-only chunk would only add a meaningless vector
        covered.update(range(c.start_line, c.end_line + 1))
        if c.start_line == c.end_line and c.text != lines[c.start_line - 1]:
            assert c.text in lines[c.start_line - 1]
            pieces.setdefault(c.start_line, []).append(c.text)  # a slice of an over-long line
        else:
            assert c.text.split("\n") == lines[c.start_line - 1 : c.end_line], c
    # every line with content is in some chunk (runs of blank lines may fall between chunks)
    assert covered >= {n for n, line in enumerate(lines, 1) if line.strip()}
    for line_no, parts in pieces.items():
        # slices in order rebuild the line; only whitespace-only slices may have been dropped
        assert _nonspace("".join(parts)) == _nonspace(lines[line_no - 1])
    # chunks come in file order, and no chunk is wholly inside its predecessor (no wasted embeddings)
    for a, b in zip(chunks, chunks[1:]):
        assert (a.start_line, a.end_line) <= (b.start_line, b.end_line)
        assert b.end_line > a.end_line or (a.start_line == b.start_line == b.end_line
                                           and len(lines[b.end_line - 1]) > max_chars)  # slices of one line


def _numbered(n: int, width: int = 10) -> str:
    return "".join(f"line {i:04d} " + "x" * (width - 10) + "\n" for i in range(1, n + 1))


def test_defaults_fit_minilm_window():
    # ~3.6 chars/token measured on stdlib code (docs/adr/0002-chunking.md); 256 tokens minus [CLS]/[SEP]
    assert DEFAULT_MAX_CHARS <= 900
    assert DEFAULT_MAX_LINES <= 40
    assert 1 <= DEFAULT_OVERLAP_LINES <= 8


def test_empty_and_whitespace_only_give_no_chunks():
    assert chunk_text("") == []
    assert chunk_text("\n\n   \n\t\n") == []
    assert chunk_text("\r\n \r\n") == []
    assert chunk_text("\ufeff") == []


def test_small_file_is_one_chunk_with_exact_lines():
    text = "import os\n\ndef f():\n    return 1\n"
    assert chunk_text(text) == [Chunk(1, 4, "import os\n\ndef f():\n    return 1")]


def test_no_trailing_newline_and_leading_blank_lines():
    assert chunk_text("\n\nx = 1") == [Chunk(1, 3, "\n\nx = 1")]


def test_line_limit_and_overlap():
    text = _numbered(100)
    chunks = chunk_text(text, max_chars=10_000, max_lines=20, overlap_lines=5)
    _check_invariants(text, chunks, 10_000, 20)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 20), (16, 35), (31, 50), (46, 65), (61, 80),
                                                           (76, 95), (91, 100)]
    assert chunks[1].text.startswith("line 0016 ")


def test_char_limit():
    text = _numbered(50, width=100)  # 100 chars + newline per line
    chunks = chunk_text(text, max_chars=1000, max_lines=40, overlap_lines=2)
    _check_invariants(text, chunks, 1000, 40)
    assert chunks[0] == Chunk(1, 9, "\n".join(_lines_of(text)[:9]))  # 9*100 + 8 newlines = 908 <= 1000
    assert chunks[1].start_line == 8  # two lines of overlap


def test_zero_overlap_partitions_lines():
    text = _numbered(30)
    chunks = chunk_text(text, max_chars=10_000, max_lines=10, overlap_lines=0)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 10), (11, 20), (21, 30)]


def test_overlap_never_stalls_with_tiny_windows():
    text = _numbered(10)
    chunks = chunk_text(text, max_chars=10_000, max_lines=1, overlap_lines=5)
    assert [(c.start_line, c.end_line) for c in chunks] == [(i, i) for i in range(1, 11)]


def test_overlap_is_at_most_half_a_window():
    # 30-char lines, 3 per 100-char window; 5 lines of overlap would make every chunk repeat two
    # thirds of the previous one (one new line per embedding); capped at half it advances two lines
    text = "".join(f"v{i:03d} = {'z' * 23}\n" for i in range(1, 31))
    chunks = chunk_text(text, max_chars=100, max_lines=40, overlap_lines=5)
    _check_invariants(text, chunks, 100, 40)
    assert [(c.start_line, c.end_line) for c in chunks[:3]] == [(1, 3), (3, 5), (5, 7)]


def test_long_single_line_is_split_and_keeps_its_line_number():
    minified = "var a=1;" * 500  # 4,000 chars on line 2
    text = "// header\n" + minified + "\n// footer\n"
    chunks = chunk_text(text, max_chars=1000, max_lines=40, overlap_lines=5)
    _check_invariants(text, chunks, 1000, 40)
    on_line_2 = [c for c in chunks if c.start_line == c.end_line == 2]
    assert len(on_line_2) >= 4
    assert "".join(c.text for c in on_line_2) == minified
    assert chunks[0] == Chunk(1, 1, "// header")
    assert chunks[-1] == Chunk(3, 3, "// footer")


def test_long_line_prefers_cutting_at_whitespace():
    for words in (" ".join(f"word{i:05d}" for i in range(400)), " ".join(f"f(x{i:04d})" for i in range(400))):
        chunks = chunk_text(words, max_chars=1000)
        assert len(chunks) >= 4
        for c in chunks[:-1]:
            assert c.text.endswith(" "), c.text[-20:]  # no identifier or call is cut in half
        assert "".join(c.text for c in chunks) == words


def test_long_line_without_whitespace_cuts_between_word_and_punctuation():
    line = "aaaaaaa." * 200  # 1,600 chars, no whitespace
    chunks = chunk_text(line, max_chars=500)
    assert all(c.text.endswith(".") for c in chunks)
    assert "".join(c.text for c in chunks) == line


def test_crlf_is_normalised_and_line_numbers_match_lf():
    lf = "a = 1\nb = 2\n\ndef f():\n    pass\n" * 30
    crlf = lf.replace("\n", "\r\n")
    assert chunk_text(crlf, max_chars=200) == chunk_text(lf, max_chars=200)
    assert all("\r" not in c.text for c in chunk_text(crlf, max_chars=200))


def test_only_lf_breaks_lines():
    # str.splitlines() would also break on \x0c, \x1c, \u2028 ... and shift every later line number
    text = "a\x0cb\nc\u2028d\ne\rf\ng\n"
    chunks = chunk_text(text)
    assert chunks == [Chunk(1, 4, "a\x0cb\nc\u2028d\ne\rf\ng")]


def test_bom_is_stripped():
    assert chunk_text("\ufeffx = 1\n") == [Chunk(1, 1, "x = 1")]


def test_prefers_to_cut_before_a_top_level_definition():
    body = "    x = 1\n" * 6
    text = "".join(f"def f{i}():\n{body}\n" for i in range(10))  # 8 lines per function
    chunks = chunk_text(text, max_chars=10_000, max_lines=20, overlap_lines=5)
    _check_invariants(text, chunks, 10_000, 20)
    lines = _lines_of(text)
    # each later chunk starts at a `def` rather than mid-body (a cut at line 20 would land mid-function);
    # no overlap is needed there: a match does not span a blank line between two top-level definitions
    for c in chunks[1:]:
        assert lines[c.start_line - 1].startswith("def "), c.start_line


def test_blank_runs_make_no_blank_chunks():
    text = "a = 1\n" + "\n" * 100 + "b = 2\n"
    chunks = chunk_text(text, max_chars=1000, max_lines=10, overlap_lines=2)
    _check_invariants(text, chunks, 1000, 10)
    assert [c.start_line for c in chunks][0] == 1 and chunks[-1].end_line == 102
    assert len(chunks) == 2


def test_deterministic():
    text = _numbered(333, width=37)
    assert chunk_text(text) == chunk_text(text)


def test_rejects_nonsense_limits():
    for kwargs in ({"max_chars": 0}, {"max_lines": 0}, {"overlap_lines": -1}):
        with pytest.raises(ValueError):
            chunk_text("x", **kwargs)


_line = st.text(alphabet=st.sampled_from("ab \t\r{}()é\u2028\x00\ufeff"), max_size=60)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.one_of(_line, st.just(""), st.text(alphabet="xy ", min_size=50, max_size=300)), max_size=60),
    trailing_newline=st.booleans(),
    crlf=st.booleans(),
    max_chars=st.integers(min_value=1, max_value=200),
    max_lines=st.integers(min_value=1, max_value=15),
    overlap=st.integers(min_value=0, max_value=10),
)
def test_property_exact_lines_full_coverage_and_limits(lines, trailing_newline, crlf, max_chars, max_lines, overlap):
    sep = "\r\n" if crlf else "\n"
    text = sep.join(lines) + (sep if trailing_newline and lines else "")
    chunks = chunk_text(text, max_chars=max_chars, max_lines=max_lines, overlap_lines=overlap)
    _check_invariants(text, chunks, max_chars, max_lines)
    assert chunks == chunk_text(text, max_chars=max_chars, max_lines=max_lines, overlap_lines=overlap)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400), max_chars=st.integers(min_value=1, max_value=80))
def test_property_arbitrary_unicode(text, max_chars):
    chunks = chunk_text(text, max_chars=max_chars, max_lines=7, overlap_lines=3)
    _check_invariants(text, chunks, max_chars, 7)
