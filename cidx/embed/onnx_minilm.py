"""all-MiniLM-L6-v2 on ONNX Runtime: the default local embedder (ADR 0017).

Same tokenisation (256-token window, no fixed padding) and pooling as the numpy reference
(LocalMiniLM, which it extends); the forward pass runs in ONNX Runtime, on a graph built from the same safetensors
(cidx/embed/onnx_build.py) and cached (cidx/embed/onnx_cache.py).

Two sessions over the same model file, because bulk and query work want opposite thread settings:
- queries (embed_query): one intra-op thread, created at start-up so the first query is warm. Many
  clients query the daemon at once; each runs on its own thread, and a multi-threaded pass per query
  oversubscribes the cores (ADR 0010: 2 BLAS threads took 212 q/s down to 31).
- bulk (embed): every core the process may use, created on first use (a query-only process never
  pays for it). Its threads do not spin-wait between batches, so a query arriving during indexing
  gets a core instead of competing with idle spinners.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from cidx.embed import onnx_cache
from cidx.embed.local_minilm import DIM, MODEL_NAME, LocalMiniLM, _sha256_of
from cidx.fastpath.errors import EmbeddingError

VARIANT_NAMES = {"fp32": f"local:{MODEL_NAME}", "int8": f"local:{MODEL_NAME}+int8"}


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class OnnxMiniLM(LocalMiniLM):
    """`variant` fp32 has the numpy reference's vector space (same name); int8 is its own space."""

    def __init__(self, model: str = MODEL_NAME, batch_size: int = 32, cache_dir: Path | None = None,
                 variant: str = "int8"):
        if variant not in VARIANT_NAMES:
            raise EmbeddingError(f"unknown local model variant {variant!r}; expected one of "
                                 f"{', '.join(VARIANT_NAMES)} or numpy")
        self.variant = variant
        self.name = VARIANT_NAMES[variant]
        self._bulk = None
        super().__init__(model=model, batch_size=batch_size, cache_dir=cache_dir)

    # -- engine ---------------------------------------------------------------------------------------
    def _load_engine(self) -> None:
        import onnxruntime  # deferred: the fast client path must never load it

        self._ort = onnxruntime
        self.model_path = self._ensure_model()
        try:
            self._query = self._session(threads=1)
        except Exception as exc:  # ORT raises its own exception types for an unloadable file
            # Valid per its sidecar yet unloadable (another ORT version, disk damage after the check):
            # build it once more rather than failing every query.
            onnx_cache.invalidate(self.model_path)
            self.model_path = self._ensure_model()
            try:
                self._query = self._session(threads=1)
            except Exception:
                raise EmbeddingError(f"{self.model_path}: ONNX Runtime cannot load the model ({exc}); "
                                     f"delete it so it is built again") from None

    def _ensure_model(self) -> Path:
        return onnx_cache.ensure_model(self.model_dir.parent, self.variant, onnx_cache.BUILDER_VERSION, self._build)

    def _build(self) -> bytes:
        source = self.model_dir / "model.safetensors"
        actual = _sha256_of(source)
        if actual != onnx_cache.SAFETENSORS_SHA256:
            raise EmbeddingError(f"{source}: sha256 {actual[:16]}... is not the verified weights' "
                                 f"{onnx_cache.SAFETENSORS_SHA256[:16]}...; delete {self.model_dir} so it is "
                                 f"unpacked again")
        from cidx.embed import onnx_build

        return onnx_build.build_bytes(self.variant, source)

    def _session(self, threads: int):
        ort = self._ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # errors only: ORT's warnings go to stderr otherwise
        if threads > 1:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])

    def _bulk_session(self):
        if self._bulk is None:
            self._bulk = self._session(threads=usable_cores())  # a benign race: at worst built twice
        return self._bulk

    # -- forward passes ---------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed_each(texts, self._bulk_session())

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed_each([text], self._query)[0]

    def _embed_each(self, texts: Sequence[str], session) -> np.ndarray:
        """One sequence per run, never a padded batch: int8 activations are quantized with one scale
        per run, so batch mates (and their padding) would change a vector (cosine down to 0.989
        against the same text alone, measured). Alone, a text always gets the same vector, in the
        index and as a query; and with no padding to compute, it was also the fastest (int8 on
        96 real chunks: 7.5 chunks/s one by one against 5.0 in length-sorted batches of 32)."""
        texts = list(texts)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            ids = np.array(encoding.ids, dtype=np.int32)[None, :]
            out[row] = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
        return out
