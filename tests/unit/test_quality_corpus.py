"""The quality benchmark's corpus (benchmarks/quality_corpus.py): the docstring stripper keeps every
line where it was, the queries are the public functions' summaries aimed at their line spans, and
the workspace copy is only rewritten when it changes."""

from __future__ import annotations

import ast
import os
import textwrap

import pytest

from benchmarks import quality_corpus as qc

SOURCE = textwrap.dedent('''\
    """Module docstring.

    Two paragraphs.
    """
    import functools


    def only_doc():
        """Return nothing at all, documented."""


    @functools.lru_cache(maxsize=None)
    def decorated(x):
        """Compute the square of x.  More text here.

        Details.
        """
        return x * x


    async def fetch_page(url):
        """Fetch one page asynchronously over HTTP."""
        return url


    class Outer:
        """A public class."""

        class Inner:
            """A nested class.

            Spanning lines.
            """

            def method(self):
                """Inner method does the work, e.g. parsing."""
                return 1

        def visible(self):
            """Say hello to the caller politely."""

            def helper():
                """A local helper that is not public."""
                return 2

            return helper()

        def _hidden(self):
            """A private method with a docstring."""
            return 3


    class _Private:
        def method(self):
            """A method of a private class."""
            return 4


    def _private_function():
        """A private function with a docstring."""


    def one_liner(): "Do the one thing in one line."


    if True:
        def conditional():
            """Defined under an if at module level."""
            return 5


    def short():
        """Too short."""
        return 6
''')


def _docstrings(text: str) -> list:
    tree = ast.parse(text)
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                                        ast.AsyncFunctionDef)) and ast.get_docstring(n) is not None]


def test_strip_keeps_line_numbers_parses_and_leaves_no_docstring():
    stripped = qc.strip_docstrings(SOURCE)
    assert stripped.count("\n") == SOURCE.count("\n")
    assert _docstrings(SOURCE) and not _docstrings(stripped)
    assert qc.def_lines(ast.parse(stripped)) == qc.def_lines(ast.parse(SOURCE))
    qc.check_stripped(SOURCE, stripped)
    # Every line that held no docstring is unchanged.
    original, after = SOURCE.split("\n"), stripped.split("\n")
    assert after[11] == "@functools.lru_cache(maxsize=None)" and after[12] == "def decorated(x):"
    assert after[17] == "    return x * x"
    assert "docstring" not in stripped and "Compute the square" not in stripped
    # The only changed lines that are not blank now: bodies that were only a docstring (1-based).
    changed = [i for i, (a, b) in enumerate(zip(original, after), start=1) if a != b and b.strip()]
    assert changed == [9, 60, 63]
    assert after[8] == "    pass" and after[62] == "def one_liner(): pass"


def test_a_body_that_was_only_a_docstring_becomes_pass_on_its_first_line():
    text = 'def f():\n    """One.\n\n    Three.\n    """\nx = 1\n'
    assert qc.strip_docstrings(text) == "def f():\n    pass\n\n\n\nx = 1\n"
    assert qc.strip_docstrings('class C: "doc"\n') == "class C: pass\n"
    assert qc.strip_docstrings('def g(): "doc"; return 1\n') == "def g(): pass; return 1\n"


def test_nested_classes_and_async_defs_are_stripped():
    stripped = qc.strip_docstrings(SOURCE)
    tree = ast.parse(stripped)
    names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.AsyncFunctionDef))}
    assert {"Outer", "Inner", "fetch_page"} <= names
    inner = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "Inner")
    assert ast.get_docstring(inner) is None and inner.body[0].lineno == 35  # `def method` where it was
    fetch = next(n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef))
    assert isinstance(fetch.body[0], ast.Return) and fetch.body[0].lineno == 23


def test_parenthesized_docstring_crlf_and_non_ascii():
    text = 'def f():\r\n    ("é part one "\r\n     "part two")\r\n    return 1\r\n'
    stripped = qc.strip_docstrings(text)
    assert stripped == "def f():\r\n\r\n\r\n    return 1\r\n"
    text = 'x = "é"; y = 1\ndef g():  # é\n    """Doc with é."""  # trailing comment\n'
    assert qc.strip_docstrings(text).split("\n")[2] == "    pass"
    qc.check_stripped(text, qc.strip_docstrings(text))


def test_not_python_raises_syntax_error():
    with pytest.raises(SyntaxError):
        qc.strip_docstrings("def (:\n")


def test_queries_are_public_function_summaries_with_their_spans():
    queries = qc.extract_queries(SOURCE, "pkg/mod.py")
    by_name = {q.qualname: q for q in queries}
    assert sorted(by_name) == ["Outer.Inner.method", "Outer.visible", "conditional", "decorated",
                               "fetch_page", "one_liner", "only_doc"]
    assert by_name["decorated"].text == "Compute the square of x."
    assert (by_name["decorated"].start_line, by_name["decorated"].end_line) == (12, 18)  # decorator included
    assert by_name["Outer.Inner.method"].text == "Inner method does the work, e.g. parsing."
    assert (by_name["only_doc"].start_line, by_name["only_doc"].end_line) == (8, 9)
    assert by_name["fetch_page"].id == "pkg/mod.py::fetch_page" and by_name["fetch_page"].path == "pkg/mod.py"


def test_first_sentence():
    assert qc.first_sentence("Return the\n   value.  Then more.") == "Return the value."
    assert qc.first_sentence("No period here\nbut two lines\n\nSecond paragraph.") == "No period here but two lines"
    assert qc.first_sentence("Split a URL (i.e. a string) into parts. Rest.") == \
        "Split a URL (i.e. a string) into parts."
    assert qc.first_sentence("Is it done? Yes.") == "Is it done?"
    assert qc.first_sentence("Uses os.path.join to build it.") == "Uses os.path.join to build it."


def test_duplicate_texts_are_dropped_entirely_and_sampling_is_deterministic():
    make = lambda i, text: qc.Query(f"m.py::f{i}", text, "m.py", i * 10 + 1, i * 10 + 5)  # noqa: E731
    queries = [make(0, "Return the value."), make(1, "Parse one header line."), make(2, "Return the value."),
               make(3, "Close the open stream now.")]
    kept = qc.drop_duplicate_texts(queries)
    assert [q.id for q in kept] == ["m.py::f1", "m.py::f3"]
    many = [make(i, f"Query number {i} here.") for i in range(50)]
    first, second = qc.sample(many, 10), qc.sample(list(reversed(many)), 10)
    assert len(first) == 10 and {q.id for q in first} == {q.id for q in second}
    assert first == sorted(first, key=lambda q: int(q.id.split("f")[-1]))  # original order kept
    assert qc.sample(many, None) == many and qc.sample(many, 100) == many


def test_prepare_writes_the_copy_once_and_prunes(tmp_path):
    src = tmp_path / "proj"
    (src / "pkg" / "tests").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text(SOURCE)
    (src / "pkg" / "tests" / "test_mod.py").write_text('def test_x():\n    """A test that is skipped."""\n')
    (src / "pkg" / "broken.py").write_text("def (:\n")
    (src / "pkg" / "notes.txt").write_text("not python")
    files = qc.corpus_files([src])
    assert [f.rel for f in files] == ["proj/pkg/broken.py", "proj/pkg/mod.py"]
    dest = tmp_path / "ws"
    (dest / ".code-indexer").mkdir(parents=True)
    (dest / ".code-indexer" / "keep").write_text("index")
    (dest / "stale.py").write_text("x = 1\n")
    prepared = qc.prepare(files, dest)
    assert prepared.files == 1 and prepared.written == 1 and len(prepared.skipped) == 1
    assert "proj/pkg/broken.py" in prepared.skipped[0]
    assert {q.path for q in prepared.queries} == {"proj/pkg/mod.py"}
    copy = dest / "proj" / "pkg" / "mod.py"
    assert copy.read_text() == qc.strip_docstrings(SOURCE)
    assert not (dest / "stale.py").exists() and (dest / ".code-indexer" / "keep").exists()
    os.utime(copy, ns=(1, 1_000_000_000))
    again = qc.prepare(files, dest)
    assert again.written == 0 and copy.stat().st_mtime_ns == 1_000_000_000  # untouched: cidx skips it


def test_two_corpora_with_the_same_name_are_refused(tmp_path):
    for parent in ("a", "b"):
        (tmp_path / parent / "lib").mkdir(parents=True)
        (tmp_path / parent / "lib" / "m.py").write_text("x = 1\n")
    with pytest.raises(qc.CorpusError):
        qc.corpus_files([tmp_path / "a" / "lib", tmp_path / "b" / "lib"])
    with pytest.raises(qc.CorpusError):
        qc.corpus_files([tmp_path / "missing"])


def test_the_check_set_shares_no_module_with_the_dev_set():
    """The check set stands in for the maintainers' held-out modules: nothing tuned on the dev set may
    be measured on a file of it (top-level packages and modules compared, so `xml` vs `xml.dom` counts)."""
    top = lambda part: part.split("/")[0].removesuffix(".py")  # noqa: E731
    assert not {top(p) for p in qc.CHECK_PARTS} & {top(p) for p in qc.DEV_PARTS}
    assert len(set(qc.CHECK_PARTS)) == len(qc.CHECK_PARTS)


def test_quality_takes_the_check_set_or_corpora_not_both(capsys):
    from benchmarks import quality

    assert quality.parse_args(["--check-set"]).check_set
    with pytest.raises(SystemExit):
        quality.parse_args(["--check-set", "--corpus", "."])
    assert "one" in capsys.readouterr().err
