"""The embedded text: a header naming where the chunk lives, then the chunk's own lines."""

from __future__ import annotations

from cidx.source.chunk_header import embedded_text
from cidx.source.chunker import Chunk
from cidx.source.syntax_chunker import chunk_source


def test_header_is_the_path_then_the_enclosing_names_then_the_lines():
    chunk = Chunk(3, 4, "    def get(self):\n        return 1", ("class HttpClient", "def get"))
    assert embedded_text("src/http_client.py", chunk) == (
        "src/http_client.py > class HttpClient > def get\n    def get(self):\n        return 1")


def test_a_later_piece_of_a_split_definition_carries_its_signature_line():
    chunk = Chunk(40, 60, "        x = 1", ("class A", "def run"), "def run(self, job: Job) -> None:")
    assert embedded_text("a.py", chunk).split("\n") == [
        "a.py > class A > def run", "def run(self, job: Job) -> None:", "        x = 1"]


def test_a_chunk_outside_any_definition_is_headed_by_its_path_only():
    assert embedded_text("README.md", Chunk(1, 1, "# Title")) == "README.md\n# Title"


def test_the_chunk_text_itself_stays_the_source_lines():
    text = "class Store:\n    def commit(self):\n        return 1\n"
    chunks = chunk_source(text, "python")
    assert [c.text for c in chunks] == ["class Store:\n    def commit(self):\n        return 1"]
    assert embedded_text("store.py", chunks[0]) == "store.py > class Store\n" + chunks[0].text
