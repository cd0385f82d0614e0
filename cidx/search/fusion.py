"""Hybrid search: reciprocal rank fusion of the semantic and full-text lists.

RRF needs no score calibration between cosine similarity and BM25 (they are not comparable), and is
robust when one side is empty. k=60 is the constant of Cormack et al. (2009).
"""

from __future__ import annotations

from cidx.fastpath.results import Hit

RRF_K = 60


def _key(hit: Hit) -> tuple[str, int, int]:
    return (hit.path, hit.start_line, hit.end_line)


def reciprocal_rank_fusion(semantic: list[Hit], fts: list[Hit], limit: int, k: int = RRF_K) -> list[Hit]:
    scores: dict[tuple, float] = {}
    sources: dict[tuple, set[str]] = {}
    best: dict[tuple, Hit] = {}
    for side, hits in (("semantic", semantic), ("fts", fts)):
        seen_here: set[tuple] = set()
        for rank, hit in enumerate(hits, start=1):
            key = _key(hit)
            if key in seen_here:  # a list should not vote twice for one chunk
                continue
            seen_here.add(key)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            sources.setdefault(key, set()).add(side)
            # Keep the full-text hit's snippet when both found it: it points at the matching line.
            if key not in best or side == "fts":
                best[key] = hit
    ordered = sorted(scores, key=lambda key: (-scores[key], key))
    return [
        best[key]._replace(score=scores[key],
                           source="+".join(s for s in ("semantic", "fts") if s in sources[key]))
        for key in ordered[:limit]
    ]
