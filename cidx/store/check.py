"""Consistency check of the committed generation: the three stores agree chunk for chunk.

Used by the crash tests (an index must open and agree after kill -9 at any instant) and available to
users as `cidx status --verify`.
"""

from __future__ import annotations

import bisect

import numpy as np

from cidx.store import fts, metadata, segments, vectors
from cidx.store.layout import IndexLayout


def verify_index(layout: IndexLayout) -> list[str]:
    """Problems found in the committed generation; [] means consistent."""
    conn = metadata.connect(layout.sqlite_path)
    try:
        conn.execute("BEGIN")
        state = metadata.get_state(conn)
        generation = int(state.get("generation", 0))
        if generation == 0:
            return []
        problems = []
        ids = [r[0] for r in conn.execute("SELECT id FROM chunks")]
        paths_with_chunks = {r[0] for r in conn.execute("SELECT DISTINCT path FROM chunks")}
        manifest = metadata.load_manifest(conn)
        if not paths_with_chunks <= set(manifest):
            problems.append(f"chunks for files missing from the manifest: {sorted(paths_with_chunks - set(manifest))[:5]}")
        problems += _check_segments(layout, conn, state, ids)
        text_index = fts.open_reader(layout.fts_dir(generation))
        if fts.num_docs(text_index) != len(ids):
            problems.append(f"full-text index has {fts.num_docs(text_index)} documents for {len(ids)} chunks")
        conn.execute("ROLLBACK")
        return problems
    finally:
        conn.close()


def _check_segments(layout: IndexLayout, conn, state: dict, ids: list[int]) -> list[str]:
    """Every chunk's vector is in the one segment whose id range holds it; no chunk is tombstoned."""
    rows = segments.load_segments(conn, state)
    tombstones = segments.load_tombstones(conn)
    if tombstones & set(ids):
        return ["live chunks are marked deleted (tombstones)"]
    problems, dim, ids = [], int(state["dim"]), sorted(ids)
    covered = 0
    for row in rows:
        mine = ids[bisect.bisect_left(ids, row.min_id):bisect.bisect_right(ids, row.max_id)]
        covered += len(mine)
        index = vectors.load_index(layout.hnsw_path(row.generation), dim)
        try:
            if mine and np.asarray(index.get_items(mine)).shape != (len(mine), dim):
                problems.append(f"segment {row.generation} does not hold every chunk of its range")
        except RuntimeError as exc:
            problems.append(f"segment {row.generation} is missing chunks: {exc}")
    if covered != len(ids):
        problems.append(f"{len(ids) - covered} chunks lie in no segment")
    return problems
