"""The names a chunk defines or lives in (cidx/source/chunk_names.py), from real syntax chunks."""

from cidx.source.chunk_names import chunk_names
from cidx.source.syntax_chunker import chunk_source

PYTHON = '''\
import os


class Message:
    def get_payload(self, decode=False):
        def _helper(part):
            return part
        return _helper(self._payload)
'''

# Large enough (over 800 characters) for the class to be cut between its methods.
JAVA = "class Parser {\n" + "".join(
    f"    public int parseHeader{i}(String line) {{\n" + "        line = line.trim();\n" * 8 + "        return line.length();\n    }\n\n"
    for i in range(4)) + "}\n"

GO = '''\
package main

func (s *Server) ServeHTTP(w Writer, r *Request) {
    w.Write(nil)
}
'''


def names_by_line(text, language):
    return {c.start_line: chunk_names(c.context, c.text) for c in chunk_source(text, language)}


def test_python_method_names_its_class_itself_and_nested_helpers():
    names = names_by_line(PYTHON, "python")
    method = next(v for v in names.values() if "get_payload" in v)
    assert method.split() == ["Message", "get_payload", "_helper"]


def test_java_method_without_keyword_is_named_from_the_syntax_context():
    names = names_by_line(JAVA, "java")
    assert any(v.split() == ["Parser", "parseHeader2"] for v in names.values())


def test_go_method_receiver_is_skipped_over():
    names = names_by_line(GO, "go")
    assert any(v.split() == ["ServeHTTP"] for v in names.values())


def test_definitions_sharing_a_chunk_and_line_window_text():
    assert chunk_names(("class A, class B",), "") == "A B"
    assert chunk_names((), "x = 1\nfunction loadSettings(path) {\n}\n") == "loadSettings"
    assert chunk_names((), "no definitions here") == ""
