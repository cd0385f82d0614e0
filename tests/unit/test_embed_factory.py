"""make_embedder: provider selection and configuration errors, all without touching the network."""

from __future__ import annotations

import socket

import pytest

from cidx.config import EmbeddingConfig
from cidx.embed import make_embedder
from cidx.embed.http_providers import OpenAICompatibleEmbedder, VoyageEmbedder
from cidx.fastpath.errors import EmbeddingError


@pytest.fixture
def no_network(monkeypatch):
    """Any socket connect during the test fails it: construction must stay offline."""

    def refuse(*_a, **_k):
        raise AssertionError("network touched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_voyage_requires_its_key(monkeypatch, no_network):
    monkeypatch.delenv("VOYAGE_API_KEY", raising=False)
    with pytest.raises(EmbeddingError, match=r"VOYAGE_API_KEY"):
        make_embedder(EmbeddingConfig(provider="voyage", model="voyage-code-3"))


def test_voyage_custom_key_env(monkeypatch, no_network):
    monkeypatch.delenv("MY_VOYAGE", raising=False)
    with pytest.raises(EmbeddingError, match=r"MY_VOYAGE"):
        make_embedder(EmbeddingConfig(provider="voyage", model="voyage-code-3", api_key_env="MY_VOYAGE"))


def test_voyage_constructs_offline(monkeypatch, no_network):
    monkeypatch.setenv("VOYAGE_API_KEY", "k")
    emb = make_embedder(EmbeddingConfig(provider="voyage", model="voyage-code-3"))
    assert isinstance(emb, VoyageEmbedder)
    assert emb.name == "voyage:voyage-code-3"
    assert emb.dim == 1024  # known from the model name


def test_openai_constructs_offline_without_key(monkeypatch, no_network):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    emb = make_embedder(EmbeddingConfig(provider="openai", model="nomic-embed-text",
                                        base_url="http://localhost:11434/v1/"))
    assert isinstance(emb, OpenAICompatibleEmbedder)
    assert emb.name == "openai:nomic-embed-text@http://localhost:11434/v1"
    assert emb.dim == 0  # unknown until the first response


def test_openai_explicit_key_env_must_exist(monkeypatch, no_network):
    monkeypatch.delenv("LMSTUDIO_KEY", raising=False)
    with pytest.raises(EmbeddingError, match="LMSTUDIO_KEY"):
        make_embedder(EmbeddingConfig(provider="openai", model="m", base_url="http://h/v1",
                                      api_key_env="LMSTUDIO_KEY"))


def test_openai_requires_base_url(no_network):
    with pytest.raises(EmbeddingError, match="base_url"):
        make_embedder(EmbeddingConfig(provider="openai", model="m", base_url=None))


def test_unknown_provider(no_network):
    with pytest.raises(EmbeddingError, match="provider"):
        make_embedder(EmbeddingConfig(provider="sentencepiece"))


def test_local_rejects_other_models(no_network, tmp_path):
    with pytest.raises(EmbeddingError, match="all-MiniLM-L6-v2"):
        make_embedder(EmbeddingConfig(provider="local", model="bge-small"), cache_dir=tmp_path)
