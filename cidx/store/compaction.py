"""Compaction: every live segment merged into one new base, tombstones applied (ADR 0020).

A delta commit costs what changed; the price is one more segment for every query to ask and
tombstones to skip. When the deltas pass a threshold, the writer merges them into a new base: the
base file is loaded, the deltas' live vectors added, the tombstoned ids marked deleted, and the
result written as the segment of a new generation (same chunks, same full text). Merging into the
loaded base costs a load and a save of it plus the insertion of the deltas, not a rebuild; when the
marked-deleted vectors inside it outnumber the live ones, the base is rebuilt from the live vectors.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

import hnswlib
import numpy as np

from cidx.store import metadata, segments, vectors
from cidx.store.layout import IndexLayout
from cidx.store.segments import SegmentRow

# More deltas than this and a query asks too many indexes. The variable is for tests that need a
# compaction from a few commits (like CIDX_INDEX_BATCH_FILES for commits).
MAX_DELTAS = int(os.environ.get("CIDX_MAX_DELTAS", "24"))
DELTA_SHARE = 0.10  # delta vectors per base vector: amortised, each vector is merged ~10x at most
MIN_DELTA_VECTORS = 2000  # below this a small repository's deltas wait for MAX_DELTAS
TOMBSTONE_SHARE = 0.20  # tombstones per live chunk: dead entries cost every query over-fetching
REBUILD_SHARE = 1.0  # marked-deleted vectors inside the base per live chunk before a rebuild
_ADD_STEP = 50_000  # vectors fetched and added at a time: bounds the temporary copies


@dataclass(frozen=True)
class Plan:
    tombstones: frozenset[int]
    live: int  # chunk rows of the committed generation


def needed(rows: list[SegmentRow], tombstones: int, live: int) -> bool:
    deltas = rows[1:]
    delta_vectors = sum(d.vectors for d in deltas)
    base_vectors = max(rows[0].vectors, live - delta_vectors, 1)
    return (len(deltas) > MAX_DELTAS
            or delta_vectors >= max(DELTA_SHARE * base_vectors, MIN_DELTA_VECTORS)
            or tombstones > max(TOMBSTONE_SHARE * live, 64))


def plan(conn: sqlite3.Connection, rows: list[SegmentRow], *, force: bool) -> Plan | None:
    """What to merge, or None when nothing needs (or, forced, could gain from) merging."""
    if not rows:
        return None
    tombstones = segments.load_tombstones(conn)
    if len(rows) == 1 and not tombstones:
        return None
    live = metadata.count_rows(conn)[1]
    if not force and not needed(rows, len(tombstones), live):
        return None
    return Plan(tombstones, live)


def merge(layout: IndexLayout, conn: sqlite3.Connection, rows: list[SegmentRow], plan: Plan, *, dim: int,
          deleted_vectors: int, generation: int) -> tuple[hnswlib.Index, SegmentRow, int]:
    """The merged index (not yet saved), its segment row as generation `generation`, and how many
    vectors inside it are marked deleted."""
    base_row, deltas = rows[0], rows[1:]
    base = vectors.load_index(layout.hnsw_path(base_row.generation), dim,
                              extra_capacity=sum(d.vectors for d in deltas))
    for row in deltas:
        ids = [i for i in range(row.min_id, row.max_id + 1) if i not in plan.tombstones]
        if ids:
            delta = vectors.load_index(layout.hnsw_path(row.generation), dim)
            _add(base, delta, ids)
            del delta
    marked = 0
    for chunk_id in plan.tombstones:
        if base_row.min_id <= chunk_id <= base_row.max_id:
            try:
                base.mark_deleted(chunk_id)
                marked += 1
            except RuntimeError:  # already marked (an index from before segments): nothing to do
                pass
    deleted = deleted_vectors + marked
    if deleted > max(1000, REBUILD_SHARE * plan.live):
        base, deleted = _rebuild(base, conn, dim), 0
    row = SegmentRow(generation, min(r.min_id for r in rows), max(r.max_id for r in rows),
                     base.get_current_count())
    return base, row, deleted


def _add(target: hnswlib.Index, source: hnswlib.Index, ids: list[int]) -> None:
    for start in range(0, len(ids), _ADD_STEP):
        part = ids[start:start + _ADD_STEP]
        target.add_items(np.asarray(source.get_items(part), dtype=np.float32), np.asarray(part, dtype=np.int64))


def _rebuild(index: hnswlib.Index, conn: sqlite3.Connection, dim: int) -> hnswlib.Index:
    """Too many tombstones inside the base slow search and waste memory: a fresh index of the live
    vectors (every live chunk is in `index` once the deltas are merged into it)."""
    live_ids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
    fresh = vectors.new_index(dim, len(live_ids) + 1024)
    _add(fresh, index, live_ids)
    return fresh
