"""The HNSW vector index (hnswlib, cosine). Labels are chunk ids.

Each generation is its own file, written beside the old one (temp name, fsync, rename), so a crash
mid-write never touches the committed generation.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import hnswlib
import numpy as np

from cidx.fastpath.errors import StoreCorruptError
from cidx.store.layout import fsync_dir, fsync_file

M = 16
EF_CONSTRUCTION = 200


def new_index(dim: int, capacity: int) -> hnswlib.Index:
    index = hnswlib.Index(space="cosine", dim=dim)
    index.init_index(max_elements=max(capacity, 16), ef_construction=EF_CONSTRUCTION, M=M)
    return index


def load_index(path: Path, dim: int, *, extra_capacity: int = 0) -> hnswlib.Index:
    index = hnswlib.Index(space="cosine", dim=dim)
    try:
        index.load_index(str(path), max_elements=0)
        if extra_capacity:
            index.resize_index(index.get_current_count() + extra_capacity)
    except FileNotFoundError:
        raise
    except (RuntimeError, OSError, ValueError) as exc:
        raise StoreCorruptError(f"{path}: unreadable vector index ({exc}); run `cidx index --clear`") from None
    return index


def ensure_capacity(index: hnswlib.Index, needed: int) -> None:
    if index.get_current_count() + needed > index.get_max_elements():
        index.resize_index(max(index.get_current_count() + needed, index.get_max_elements() * 2))


def save_index(index: hnswlib.Index, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    index.save_index(str(tmp))
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)


class VectorSearcher:
    """Read side: kNN with a per-query ef. hnswlib keeps ef as index state, so setting it and
    searching must not interleave between threads; the lock covers only that sub-millisecond call."""

    def __init__(self, index: hnswlib.Index, live: int):
        self.index = index
        self.live = live  # elements not marked deleted (the chunk count of this generation)
        self._lock = threading.Lock()

    def search(self, vector: np.ndarray, k: int, ef: int, allowed=None) -> list[tuple[int, float]]:
        k = min(k, self.live, len(allowed) if allowed is not None else self.live)
        if k <= 0:
            return []
        flt = (lambda label: label in allowed) if allowed is not None else None
        with self._lock:
            self.index.set_ef(max(ef, k))
            try:
                labels, distances = self.index.knn_query(vector.reshape(1, -1), k=k, filter=flt)
            except RuntimeError:
                # hnswlib raises when fewer than k elements pass the filter: retry with what exists.
                labels, distances = self._knn_shrinking(vector, k, flt)
        return [(int(l), float(1.0 - d)) for l, d in zip(labels[0], distances[0])]

    def _knn_shrinking(self, vector, k, flt):
        while k > 1:
            k = max(1, k // 2)
            try:
                return self.index.knn_query(vector.reshape(1, -1), k=k, filter=flt)
            except RuntimeError:
                continue
        try:
            return self.index.knn_query(vector.reshape(1, -1), k=1, filter=flt)
        except RuntimeError:
            return np.zeros((1, 0), dtype=np.uint64), np.zeros((1, 0), dtype=np.float32)
