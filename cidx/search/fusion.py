"""Hybrid search: weighted reciprocal rank fusion of the semantic and full-text lists.

RRF needs no score calibration between cosine similarity and BM25 (they are not comparable), and is
robust when one side is empty. Plain RRF (equal weights, k = 60, Cormack et al. 2009) made hybrid
worse than semantic alone on the dev set: the semantic side is much the stronger one, so its votes
weigh more, and k and the candidate depth are tuned too. The values below come from the dev set
(DESIGN.md §8, ADR 0013); benchmarks/quality.py re-measures them.
"""

from __future__ import annotations

from cidx.fastpath.results import Hit

# Tuned on the dev set (ADR 0013), re-tuned with every change of either side. With the names field
# (full text any-term R@10 0.63): k 10, full-text weight 0.7, depth 50, the middle of a plateau
# (k 5-10, weight 0.6-0.8, depth 50-100: MRR@10 0.482-0.496, R@10 0.774-0.786 on the dev set).
RRF_K = 10  # small k: rank 1 counts much more than rank 10 (k = 60 flattens that difference away)
SEMANTIC_WEIGHT = 1.0
FTS_WEIGHT = 0.7  # the semantic side is the stronger one (MRR@10 0.448 against 0.40)
DEPTH_PER_LIMIT = 5  # candidates per side: max(DEPTH_PER_LIMIT x limit, MIN_DEPTH)
MIN_DEPTH = 50


def candidate_depth(limit: int) -> int:
    """How many hits each side contributes: more than shown, since fusion reorders them."""
    return max(limit * DEPTH_PER_LIMIT, MIN_DEPTH)


def _key(hit: Hit) -> tuple[str, int, int]:
    return (hit.path, hit.start_line, hit.end_line)


def reciprocal_rank_fusion(semantic: list[Hit], fts: list[Hit], limit: int, k: float = RRF_K,
                           semantic_weight: float = SEMANTIC_WEIGHT, fts_weight: float = FTS_WEIGHT) -> list[Hit]:
    """Each side gives a hit at rank r the vote weight / (k + r); hits are ranked by their votes."""
    scores: dict[tuple, float] = {}
    sources: dict[tuple, set[str]] = {}
    best: dict[tuple, Hit] = {}
    for side, hits, weight in (("semantic", semantic, semantic_weight), ("fts", fts, fts_weight)):
        seen_here: set[tuple] = set()
        for rank, hit in enumerate(hits, start=1):
            key = _key(hit)
            if key in seen_here:  # a list should not vote twice for one chunk
                continue
            seen_here.add(key)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
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
