"""An OpenAI-compatible provider whose model size cidx does not know (any Ollama model), served by a
real local HTTP server; and what happens when the config's model no longer matches the index."""

from __future__ import annotations

import dataclasses

import pytest

from cidx.config import Config, EmbeddingConfig, write_config
from cidx.fastpath.errors import UsageError
from cidx.indexer import run_index
from cidx.fastpath.params import QueryParams
from cidx.services import make_embedder, run_query_standalone
from tests.conftest import run_cidx, write_fixture_repo
from tests.integration.test_embed_http import DIM, FakeServer


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def test_unknown_model_size_is_learned_and_indexing_works(tmp_path, server):
    root = write_fixture_repo(tmp_path / "repo")
    config = Config(root=root, embedding=EmbeddingConfig(provider="openai", model="nomic-embed-text",
                                                         base_url=server.url))
    write_config(config)
    summary = run_index(config, make_embedder(config))
    assert summary.files_indexed == 6
    result = run_query_standalone(config, QueryParams(text="sort numbers"))
    assert len(result.hits) == 7 and all(h.source == "semantic" for h in result.hits)  # every chunk
    assert {len(r["body"]["input"]) for r in server.requests} >= {1}  # probe, then batches
    assert DIM == 8


def _indexed_then_switched(tmp_path, server, embedder):
    """A repository indexed with the local model whose config then names another model."""
    root = write_fixture_repo(tmp_path / "repo")
    config = Config(root=root)
    write_config(config)
    run_index(config, embedder)
    switched = dataclasses.replace(config, embedding=EmbeddingConfig(provider="openai", model="other-model",
                                                                     base_url=server.url))
    write_config(switched)
    return root, switched


def test_query_with_another_model_than_the_index_is_refused(tmp_path, server, embedder):
    root, switched = _indexed_then_switched(tmp_path, server, embedder)
    with pytest.raises(UsageError, match=r"built with local:all-MiniLM-L6-v2\S* but the config uses openai:other-model.*cidx index --clear"):
        run_query_standalone(switched, QueryParams(text="sort numbers"))
    # full-text needs no model: it still answers
    assert run_query_standalone(switched, QueryParams(text="circleArea", mode="fts")).hits[0].path == "src/geometry.js"
    out = run_cidx("query", "sort numbers", cwd=root)
    assert out.returncode == 2 and "cidx index --clear" in out.stderr and out.stderr.count("\n") == 1


def test_index_clear_rebuilds_an_index_of_another_model(tmp_path, server, embedder):
    """The refusal says `cidx index --clear`: that command must then work (e.g. after the default
    local engine became int8, ADR 0017), and the old model's vectors must be gone."""
    root, switched = _indexed_then_switched(tmp_path, server, embedder)
    summary = run_index(switched, make_embedder(switched), clear=True)
    assert summary.files_indexed == 6
    hits = run_query_standalone(switched, QueryParams(text="sort numbers")).hits
    assert len(hits) == 7 and all(h.source == "semantic" for h in hits)
