"""The Embedder protocol every provider implements, plus the shared normalisation helper.

Others (indexer, search, daemon) code against this protocol only; `name` identifies the vector
space and is stored in the index, so two embedders with the same name must produce comparable
vectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # keep `import cidx.embed.base` free of numpy for the fast client path
    import numpy


@runtime_checkable
class Embedder(Protocol):
    name: str  # e.g. "local:all-MiniLM-L6-v2", "openai:text-embedding-3-small@http://host/v1"
    dim: int  # set at construction when known, otherwise by the first embed() that returns

    def embed(self, texts: Sequence[str]) -> "numpy.ndarray":
        """float32 (len(texts), dim), rows L2-normalised; empty input -> (0, dim)."""
        ...

    def embed_query(self, text: str) -> "numpy.ndarray":
        """float32 (dim,), L2-normalised."""
        ...


def l2_normalise(vectors: "numpy.ndarray") -> "numpy.ndarray":
    """Row-normalise in float32; an all-zero row stays zero instead of becoming NaN."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))
