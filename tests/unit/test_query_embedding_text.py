"""What the model embeds for a semantic query (ADR 0013, "Query text"): the query without its
closing sentence punctuation, and nothing else changed."""

from __future__ import annotations

import pytest

from cidx.search.query_embedding import embedding_text


@pytest.mark.parametrize("query, embedded", [
    ("Return True if lock is acquired.", "Return True if lock is acquired"),
    ("Why does the lock time out?", "Why does the lock time out"),
    ("close the socket;  ", "close the socket"),
    ("Stop the loop!..", "Stop the loop"),
    ("parse os.path.join arguments", "parse os.path.join arguments"),  # inner dots are identifiers
    ("call open()", "call open()"),  # brackets are code, kept
    ("Wait. Then retry.", "Wait. Then retry"),  # only the closing punctuation goes
    ("retry with backoff", "retry with backoff"),
])
def test_closing_sentence_punctuation_is_dropped(query, embedded):
    assert embedding_text(query) == embedded


@pytest.mark.parametrize("query", ["...", "?", " . "])
def test_a_query_of_punctuation_alone_is_embedded_as_given(query):
    assert embedding_text(query) == query
