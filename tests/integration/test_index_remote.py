"""Indexing through an HTTP provider keeps its requests full and in flight even when every file is
small: the indexer hands the provider chunks of many files per call (ADR 0018)."""

from __future__ import annotations

import pytest

from cidx.config import Config, EmbeddingConfig, write_config
from cidx.indexer import EMBED_SLICE, embed_slice, run_index
from cidx.services import make_embedder
from tests.conftest import git
from tests.integration.test_embed_http import FakeServer, max_overlap


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def test_small_files_share_full_requests_with_k_in_flight(tmp_path, server):
    root = tmp_path / "repo"
    root.mkdir()
    for i in range(24):
        (root / f"m{i:02d}.py").write_text(f"def f_{i}():\n    return {i}\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    config = Config(root=root, embedding=EmbeddingConfig(provider="openai", model="nomic-embed-text",
                                                         base_url=server.url, batch_size=3,
                                                         max_concurrent_requests=4))
    write_config(config)
    embedder = make_embedder(config)
    assert embed_slice(embedder) == EMBED_SLICE  # 3 x 4 is less than the default slice
    server.latency = 0.2
    summary = run_index(config, embedder)
    assert summary.files_indexed == 24 and summary.chunks_embedded == 24
    sizes = [len(r["body"]["input"]) for r in server.requests[1:]]  # after the dimension probe
    assert sizes == [3] * 8  # one file per request would have been 24 requests of 1
    assert max_overlap(server.spans[1:]) == 4


def test_the_slice_grows_with_the_providers_preferred_batch(tmp_path, server):
    config = EmbeddingConfig(provider="openai", model="m", base_url=server.url, batch_size=32,
                             max_concurrent_requests=8)
    assert embed_slice(make_embedder(Config(root=tmp_path, embedding=config))) == 256
