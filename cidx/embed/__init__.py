"""Embedding providers: `make_embedder(cfg)` returns an Embedder (see base.py).

Provider modules are imported lazily so that importing this package costs nothing until an
embedder is actually built (the CLI's fast path must not load numpy or tokenizers).
"""

from __future__ import annotations

from pathlib import Path

from cidx.config import EmbeddingConfig
from cidx.embed.base import Embedder
from cidx.fastpath.errors import EmbeddingError

__all__ = ["Embedder", "make_embedder"]


def make_embedder(cfg: EmbeddingConfig, *, cache_dir: Path | None = None) -> Embedder:
    """Build the configured embedder. Local: loads the model now (the daemon keeps it warm).
    HTTP: reads the API key from the environment but makes no request until embed()."""
    if cfg.provider == "local":
        from cidx.embed.local_minilm import LocalMiniLM

        return LocalMiniLM(model=cfg.model, batch_size=cfg.batch_size, cache_dir=cache_dir)
    if cfg.provider == "voyage":
        from cidx.embed.http_providers import VoyageEmbedder

        return VoyageEmbedder(cfg)
    if cfg.provider == "openai":
        from cidx.embed.http_providers import OpenAICompatibleEmbedder

        return OpenAICompatibleEmbedder(cfg)
    raise EmbeddingError(
        f"unknown embedding provider {cfg.provider!r}; set embedding.provider to local, voyage or openai"
    )
