"""Embedding providers: `make_embedder(cfg)` returns an Embedder (see base.py).

Provider modules are imported lazily so that importing this package costs nothing until an
embedder is actually built (the CLI's fast path must not load numpy or tokenizers).
"""

from __future__ import annotations

import os
from pathlib import Path

from cidx.config import EmbeddingConfig
from cidx.embed.base import Embedder
from cidx.fastpath.errors import EmbeddingError

__all__ = ["Embedder", "make_embedder"]


LOCAL_VARIANTS = ("int8", "fp32", "numpy")
DEFAULT_LOCAL_VARIANT = "int8"


def local_variant() -> str:
    """CIDX_EMBED_VARIANT picks the local engine: int8 (default) or fp32 ONNX Runtime, or the numpy
    reference. fp32 and numpy share one vector space; int8 is its own (ADR 0017)."""
    variant = os.environ.get("CIDX_EMBED_VARIANT", "").strip().lower() or DEFAULT_LOCAL_VARIANT
    if variant not in LOCAL_VARIANTS:
        raise EmbeddingError(f"CIDX_EMBED_VARIANT={variant!r} is not one of {', '.join(LOCAL_VARIANTS)}")
    return variant


def make_embedder(cfg: EmbeddingConfig, *, cache_dir: Path | None = None) -> Embedder:
    """Build the configured embedder. Local: loads the model now (the daemon keeps it warm).
    HTTP: reads the API key from the environment but makes no request until embed()."""
    if cfg.provider == "local":
        variant = local_variant()
        if variant == "numpy":  # the reference forward pass the ONNX graph is tested against
            from cidx.embed.local_minilm import LocalMiniLM

            return LocalMiniLM(model=cfg.model, batch_size=cfg.batch_size, cache_dir=cache_dir)
        from cidx.embed.onnx_minilm import OnnxMiniLM

        return OnnxMiniLM(model=cfg.model, batch_size=cfg.batch_size, cache_dir=cache_dir, variant=variant)
    if cfg.provider == "voyage":
        from cidx.embed.http_providers import VoyageEmbedder

        return VoyageEmbedder(cfg)
    if cfg.provider == "openai":
        from cidx.embed.http_providers import OpenAICompatibleEmbedder

        return OpenAICompatibleEmbedder(cfg)
    raise EmbeddingError(
        f"unknown embedding provider {cfg.provider!r}; set embedding.provider to local, voyage or openai"
    )
