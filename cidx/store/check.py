"""Consistency check of the committed generation: the three stores agree chunk for chunk.

Used by the crash tests (an index must open and agree after kill -9 at any instant) and available to
users as `cidx status --verify`.
"""

from __future__ import annotations

import numpy as np

from cidx.store import fts, metadata, vectors
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
        index = vectors.load_index(layout.hnsw_path(generation), int(state["dim"]))
        try:
            if ids:
                found = np.asarray(index.get_items(ids))
                if found.shape != (len(ids), int(state["dim"])):
                    problems.append("vector index does not hold every chunk")
        except RuntimeError as exc:
            problems.append(f"vector index is missing chunks: {exc}")
        text_index = fts.open_reader(layout.fts_dir(generation))
        if fts.num_docs(text_index) != len(ids):
            problems.append(f"full-text index has {fts.num_docs(text_index)} documents for {len(ids)} chunks")
        conn.execute("ROLLBACK")
        return problems
    finally:
        conn.close()
