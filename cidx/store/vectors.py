"""HNSW segments (hnswlib, cosine; labels are chunk ids) and the search over a generation's segments.

Each segment is its own file, written once beside the others (temp name, fsync, rename), so a
crash mid-write never touches a committed one (ADR 0001, ADR 0020).
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


def save_index(index: hnswlib.Index, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    index.save_index(str(tmp))
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)


# Tombstoned ids are dropped from a graph segment's answer by over-fetching: ask for k + up to
# OVERFETCH_MAX more and drop the dead ones; if fewer than k live ones are left (many dead near the
# query), ask again with a filter callback, which hnswlib calls per candidate under the GIL (ADR 0020:
# the callback on every query cost +25% at 100 tombstones in a 100k base).
OVERFETCH_MAX = 16
# A segment of at most this many vectors (a one-file commit's delta) is searched exactly, all such
# segments of a generation in one matrix product: asking 20 small HNSW graphs one by one cost 0.3 ms
# a query at 100k chunks (1.8x a compacted index), one product over 400 rows costs ~20 us (ADR 0020).
FLAT_MAX = 2048


class SegmentSearcher:
    """kNN over one HNSW segment. hnswlib keeps ef as index state, so setting it and searching must
    not interleave between threads; the lock covers only that sub-millisecond call. A segment object
    is shared by every generation that lists it (the daemon reuses it across refreshes)."""

    def __init__(self, index: hnswlib.Index):
        self.index = index
        self.count = index.get_current_count()  # the file is never rewritten: fixed
        self._lock = threading.Lock()

    def search(self, vector: np.ndarray, k: int, ef: int, flt=None) -> list[tuple[int, float]]:
        k = min(k, self.count)
        if k <= 0:
            return []
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


class FlatSegment:
    """A small segment held as its (unit) vectors and ids, for exact search (FLAT_MAX)."""

    def __init__(self, index: hnswlib.Index):
        ids = [int(i) for i in index.get_ids_list()]
        try:
            rows = index.get_items(ids) if ids else []
        except RuntimeError:  # a merged base keeps marked-deleted vectors, which get_items refuses
            ids, rows = self._live(index, ids)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.matrix = np.asarray(rows, dtype=np.float32).reshape(len(ids), index.dim)
        self.count = len(ids)

    @staticmethod
    def _live(index: hnswlib.Index, ids: list[int]) -> tuple[list[int], list]:
        live, rows = [], []
        for i in ids:
            try:
                rows.append(index.get_items([i])[0])
                live.append(i)
            except RuntimeError:
                continue
        return live, rows


def load_segment(path: Path, dim: int) -> SegmentSearcher | FlatSegment:
    index = load_index(path, dim)
    return FlatSegment(index) if index.get_current_count() <= FLAT_MAX else SegmentSearcher(index)


class _FlatSet:
    """Every flat segment of one generation as one matrix, tombstoned rows left out."""

    def __init__(self, parts: list[FlatSegment], tombstones: frozenset):
        ids = np.concatenate([p.ids for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        matrix = np.concatenate([p.matrix for p in parts]) if parts else None
        if tombstones and len(ids):
            alive = ~np.isin(ids, np.fromiter(tombstones, dtype=np.int64, count=len(tombstones)))
            ids, matrix = ids[alive], matrix[alive]
        self.ids, self.matrix = ids, matrix

    def search(self, vector: np.ndarray, k: int, allowed=None) -> list[tuple[int, float]]:
        if not len(self.ids):
            return []
        norm = float(np.linalg.norm(vector))
        scores = self.matrix @ (vector.reshape(-1).astype(np.float32) / (norm or 1.0))
        candidates = np.arange(len(self.ids))
        if allowed is not None:
            candidates = np.flatnonzero(np.fromiter((int(i) in allowed for i in self.ids), dtype=bool,
                                                    count=len(self.ids)))
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        return [(int(self.ids[i]), float(scores[i])) for i in candidates]


class VectorSearcher:
    """Read side of one generation: every live segment is asked, the answers merged by score, and
    tombstoned ids (deleted or replaced chunks still inside an older segment) dropped."""

    def __init__(self, segments: list, live: int, tombstones: frozenset, dead_per_segment: list[int]):
        graphs = [(s, d) for s, d in zip(segments, dead_per_segment) if isinstance(s, SegmentSearcher)]
        self.segments, self.dead = [s for s, _ in graphs], [d for _, d in graphs]
        self.flat = _FlatSet([s for s in segments if isinstance(s, FlatSegment)], tombstones)
        self.live = live  # chunks of this generation
        self.tombstones = tombstones

    def search(self, vector: np.ndarray, k: int, ef: int, allowed=None) -> list[tuple[int, float]]:
        k = min(k, self.live, len(allowed) if allowed is not None else self.live)
        if k <= 0:
            return []
        hits: list[tuple[int, float]] = self.flat.search(vector, k, allowed)
        for segment, dead in zip(self.segments, self.dead):
            if allowed is not None:  # allowed ids come from the live chunk rows: no tombstone in it
                hits += segment.search(vector, k, ef, lambda label: label in allowed)
            elif dead == 0:
                hits += segment.search(vector, k, ef)
            else:
                hits += self._without_tombstones(segment, vector, k, ef, dead)
        if len(self.segments) != 1 or len(self.flat.ids):
            hits.sort(key=lambda h: -h[1])
        return hits[:k]

    def _without_tombstones(self, segment: SegmentSearcher, vector, k: int, ef: int, dead: int):
        tomb = self.tombstones
        extra = min(dead, OVERFETCH_MAX)
        found = segment.search(vector, k + extra, ef)
        live = [h for h in found if h[0] not in tomb]
        if len(live) >= k or extra == dead or len(found) < k + extra:
            return live  # the k best live ones, or every live one the segment has
        return segment.search(vector, k, ef, lambda label: label not in tomb)
