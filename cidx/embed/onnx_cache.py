"""The built ONNX model, cached beside the unpacked weights and never used half-written.

File: <cache root>/all-MiniLM-L6-v2.<safetensors sha256[:16]>.b<BUILDER_VERSION>.<variant>.onnx, with
a sidecar <file>.json recording its sha256, size and mtime. A new builder version or other weights get
another name, so nothing stale is ever picked up.

Crash and concurrency safety:
- Building happens under an exclusive flock on <file>.lock (released by the kernel if the builder is
  killed), so two first runs build once: the second waits, then finds the first one's file.
- The model is written to a temp file in the same directory, fsynced, then os.replace'd into place;
  the sidecar is written the same way afterwards. A kill at any point leaves either no model, or a
  model without a matching sidecar: both mean "build again". Stale temp files are removed by the
  next builder (under the lock, so never one still being written).
- Before use, the model must match its sidecar: size and mtime (cheap, every load), or, if the file
  was touched or copied, its full sha256. A truncated or damaged file is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from cidx.fastpath.errors import EmbeddingError
from cidx.store import failpoints

# Bump whenever the graph (onnx_build.py) or the quantization changes: it is part of the cached file's
# name, so a new builder never uses a model an older one wrote.
BUILDER_VERSION = 1
# sha256 of model.safetensors inside the verified archive (ADR 0003's 0872f5d7... zip).
SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_WRITE_BLOCK = 1 << 20


def cached_model_path(cache_root: Path, variant: str, builder_version: int,
                      source_sha256: str = SAFETENSORS_SHA256) -> Path:
    return Path(cache_root) / f"all-MiniLM-L6-v2.{source_sha256[:16]}.b{builder_version}.{variant}.onnx"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_WRITE_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_valid(path: Path) -> bool:
    """The model at `path` is exactly what its sidecar says was written."""
    try:
        info = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        st = path.stat()
        if st.st_size != info["size"]:
            return False
        if st.st_mtime_ns == info["mtime_ns"]:
            return True
        return _sha256_of(path) == info["sha256"]  # touched or copied: the content decides
    except (OSError, ValueError, KeyError, TypeError):
        return False


def invalidate(path: Path) -> None:
    """Mark a cached model unusable (e.g. ORT could not load it) so the next ensure() rebuilds it."""
    try:
        os.unlink(_sidecar(path))
    except FileNotFoundError:
        pass


@contextmanager
def _build_lock(path: Path):
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a concurrent builder; a killed one releases it
        yield
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes, *, failpoint: str | None = None) -> os.stat_result:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            half = len(data) // 2
            fh.write(data[:half])
            if failpoint:
                fh.flush()
                failpoints.reached(failpoint)  # crash tests: die with a half-written temp file
            fh.write(data[half:])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path.stat()
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(path: Path) -> None:
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        try:
            os.unlink(stale)
        except OSError:
            pass


def ensure_model(cache_root: Path, variant: str, builder_version: int, build) -> Path:
    """Path of a valid cached model, building it first if needed: `build()` returns its bytes."""
    path = cached_model_path(cache_root, variant, builder_version)
    if is_valid(path):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _build_lock(path):
            if is_valid(path):  # another process built it while we waited for the lock
                return path
            _remove_stale_temps(path)
            _remove_stale_temps(_sidecar(path))
            data = build()
            st = _write_atomically(path, data, failpoint="onnx_mid_write")
            info = {"sha256": hashlib.sha256(data).hexdigest(), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                    "variant": variant, "builder_version": builder_version, "source_sha256": SAFETENSORS_SHA256}
            failpoints.reached("onnx_before_sidecar")
            _write_atomically(_sidecar(path), json.dumps(info).encode("utf-8"))
            _fsync_dir(path.parent)
            return path
    except OSError as exc:
        raise EmbeddingError(f"cannot write the ONNX model into {path.parent} ({exc.strerror or exc}); "
                             f"set CIDX_MODEL_CACHE to a writable directory") from None
