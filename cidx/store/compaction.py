"""Compaction: segments merged, tombstones applied, in two tiers (ADR 0020).

A delta commit costs what changed; the price is one more segment for every query to ask and
tombstones to skip. Merging costs a load and a save of the segment merged into, in the writer and
then in every reader that refreshes: at 1M chunks the base takes ~2 s to load, which a daemon's
next query waits for (hnswlib holds the GIL while it loads). So merges are tiered:

- **minor**: every segment but the base merged into one (the largest of them loaded, the others'
  live vectors added, their tombstones marked deleted in it). The base is not touched; its
  tombstones stay in the table. Runs when there are more than MAX_DELTAS segments beside the base.
- **major**: everything merged into a new base. Runs when the segments beside the base hold a
  tenth of the base's vectors (amortised: a vector is merged into the base about ten times at most)
  or when the base's tombstones pass a fifth of its vectors; and when forced.

A merge loads its target file, adds the other segments' live vectors and marks the tombstones in
its range deleted; when the marked-deleted vectors inside a new base outnumber the live ones, the
base is rebuilt from the live vectors instead.
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

# More segments beside the base than this and a query asks too many indexes. The variable is for
# tests that need a compaction from a few commits (like CIDX_INDEX_BATCH_FILES for commits).
MAX_DELTAS = int(os.environ.get("CIDX_MAX_DELTAS", "24"))
DELTA_SHARE = 0.10  # vectors beside the base per base vector before a major merge
MIN_DELTA_VECTORS = 2000  # below this a small repository's deltas wait for MAX_DELTAS
TOMBSTONE_SHARE = 0.20  # tombstones in the base per base vector: they cost every query over-fetching
REBUILD_SHARE = 1.0  # marked-deleted vectors inside the base per live chunk before a rebuild
_ADD_STEP = 50_000  # vectors fetched and added at a time: bounds the temporary copies


@dataclass(frozen=True)
class Plan:
    major: bool  # everything into a new base; else every segment but the base into one
    tombstones: frozenset[int]
    live: int  # chunk rows of the committed generation


def kind_needed(rows: list[SegmentRow], tombstones, live: int) -> str | None:
    """'major', 'minor' or None for the live segments `rows` (base first) and their tombstones."""
    base, others = rows[0], rows[1:]
    other_vectors = sum(r.vectors for r in others)
    base_vectors = max(base.vectors, live - other_vectors, 1)
    in_base = segments.tombstones_per_segment(rows, tombstones)[0]
    if other_vectors >= max(DELTA_SHARE * base_vectors, MIN_DELTA_VECTORS) \
            or in_base > max(TOMBSTONE_SHARE * base_vectors, 64):
        return "major"
    if len(others) > MAX_DELTAS:
        return "minor"
    return None


def plan(conn: sqlite3.Connection, rows: list[SegmentRow], *, force: bool, minor: bool = False) -> Plan | None:
    """What to merge, or None when nothing needs (or, forced, could gain from) merging. `force`
    merges now: everything, or with `minor` everything but the base."""
    if not rows:
        return None
    tombstones = segments.load_tombstones(conn)
    if force and minor:
        return Plan(False, tombstones, 0) if len(rows) > 2 else None
    if len(rows) == 1 and not tombstones:
        return None
    live = metadata.count_rows(conn)[1]
    kind = "major" if force else kind_needed(rows, tombstones, live)
    if kind is None:
        return None
    return Plan(kind == "major", tombstones, live)


def merge(layout: IndexLayout, conn: sqlite3.Connection, rows: list[SegmentRow], plan: Plan, *, dim: int,
          deleted_vectors: int, generation: int) -> tuple[hnswlib.Index, list[SegmentRow], int, list[int]]:
    """The merged index (not yet saved) as the segment of generation `generation`; the live
    segment list after the merge; the vectors marked deleted inside the base; and the tombstones
    the merge applied (they leave the table)."""
    merged_rows = rows if plan.major else rows[1:]
    target = max(merged_rows, key=lambda r: r.vectors) if not plan.major else rows[0]
    index = vectors.load_index(layout.hnsw_path(target.generation), dim,
                               extra_capacity=sum(r.vectors for r in merged_rows if r is not target))
    for row in merged_rows:
        if row is target:
            continue
        # The live chunks of its range: tombstones and ids a minor merge already marked deleted
        # inside it (get_items refuses those) are not chunks any more.
        ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE id BETWEEN ? AND ? ORDER BY id",
                                          (row.min_id, row.max_id))]
        if ids:
            source = vectors.load_index(layout.hnsw_path(row.generation), dim)
            _add(index, source, ids)
            del source
    applied = [t for t in plan.tombstones if any(r.min_id <= t <= r.max_id for r in merged_rows)]
    marked = 0
    for chunk_id in applied:
        if target.min_id <= chunk_id <= target.max_id:
            try:
                index.mark_deleted(chunk_id)
                marked += 1
            except RuntimeError:  # already marked (an index from before segments): nothing to do
                pass
    deleted = deleted_vectors
    if plan.major:
        deleted += marked
        if deleted > max(1000, REBUILD_SHARE * plan.live):
            index, deleted = _rebuild(index, conn, dim), 0
    row = SegmentRow(generation, min(r.min_id for r in merged_rows), max(r.max_id for r in merged_rows),
                     index.get_current_count())
    return index, ([row] if plan.major else [rows[0], row]), deleted, applied


def _add(target: hnswlib.Index, source: hnswlib.Index, ids: list[int]) -> None:
    for start in range(0, len(ids), _ADD_STEP):
        part = ids[start:start + _ADD_STEP]
        target.add_items(np.asarray(source.get_items(part), dtype=np.float32), np.asarray(part, dtype=np.int64))


def _rebuild(index: hnswlib.Index, conn: sqlite3.Connection, dim: int) -> hnswlib.Index:
    """Too many tombstones inside the base slow search and waste memory: a fresh index of the live
    vectors (every live chunk is in `index` once the other segments are merged into it)."""
    live_ids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
    fresh = vectors.new_index(dim, len(live_ids) + 1024)
    _add(fresh, index, live_ids)
    return fresh
