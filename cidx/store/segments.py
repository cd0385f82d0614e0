"""Which HNSW segments make up a generation, and which chunk ids inside them are deleted (ADR 0020).

A segment is one HNSW file, `hnsw-G.bin`, written once by the commit of generation G and never
rewritten. The `segments` table lists the live ones; `tombstones` lists chunk ids still present in
some live segment but no longer in `chunks` (deleted or replaced). Both change in the same SQLite
transaction as the chunk rows, so a reader's WAL snapshot sees exactly its generation's set.

Chunk ids are allocated in increasing order and every commit writes its new ids into one segment,
so each segment covers an id range [min_id, max_id] that no other live segment overlaps: a compaction
merges consecutive segments (every one beside the base, or all of them) into one covering their
ranges, and later deltas only hold larger ids.

An index written before segments has no `segments` table rows: its one file hnsw-N.bin (N the
committed generation) is read as the single segment holding every id (`legacy_segment`).
"""

from __future__ import annotations

import bisect
import sqlite3
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    generation INTEGER PRIMARY KEY, min_id INTEGER NOT NULL, max_id INTEGER NOT NULL,
    vectors INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (chunk_id INTEGER PRIMARY KEY);
"""


@dataclass(frozen=True)
class SegmentRow:
    generation: int  # the commit that wrote hnsw-<generation>.bin
    min_id: int
    max_id: int
    vectors: int  # vectors written into the file (live or not)


def create_tables(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'segments'").fetchone() is not None


def legacy_segment(state: dict) -> SegmentRow:
    return SegmentRow(int(state["generation"]), 1, max(int(state.get("next_chunk_id", 1)) - 1, 1), 0)


def load_segments(conn: sqlite3.Connection, state: dict) -> list[SegmentRow]:
    """The live segments of the generation `conn`'s transaction sees, oldest (the base) first.
    Readers never write, so an index from before segments may lack the tables: one legacy segment."""
    if _has_tables(conn):
        rows = [SegmentRow(*r) for r in conn.execute(
            "SELECT generation, min_id, max_id, vectors FROM segments ORDER BY min_id")]
        if rows:
            return rows
    if int(state.get("generation", 0)) and not int(state.get("segmented", 0)):
        return [legacy_segment(state)]
    return []


def load_tombstones(conn: sqlite3.Connection) -> frozenset[int]:
    if not _has_tables(conn):
        return frozenset()
    return frozenset(r[0] for r in conn.execute("SELECT chunk_id FROM tombstones"))


def replace_segments(conn: sqlite3.Connection, rows: list[SegmentRow]) -> None:
    """Inside the writer's commit transaction: `rows` become the live set."""
    conn.execute("DELETE FROM segments")
    conn.executemany("INSERT INTO segments(generation, min_id, max_id, vectors) VALUES (?,?,?,?)",
                     [(r.generation, r.min_id, r.max_id, r.vectors) for r in rows])


def add_tombstones(conn: sqlite3.Connection, ids) -> None:
    conn.executemany("INSERT OR IGNORE INTO tombstones(chunk_id) VALUES (?)", [(i,) for i in ids])


def clear_tombstones(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM tombstones")


def remove_tombstones(conn: sqlite3.Connection, ids) -> None:
    """Tombstones a compaction applied (their vectors left the merged segment or are marked in it)."""
    conn.executemany("DELETE FROM tombstones WHERE chunk_id = ?", [(i,) for i in ids])


def tombstones_per_segment(rows: list[SegmentRow], tombstones) -> list[int]:
    """How many of `tombstones` fall in each segment's id range (ranges are disjoint, sorted)."""
    starts = [r.min_id for r in rows]
    counts = [0] * len(rows)
    for chunk_id in tombstones:
        i = bisect.bisect_right(starts, chunk_id) - 1
        if i >= 0 and chunk_id <= rows[i].max_id:
            counts[i] += 1
    return counts
