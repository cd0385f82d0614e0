"""The fusion replay (benchmarks/quality_fusion.py): its first row must be hybrid as shipped (the
fusion's own constants and candidate depth), or the grid around it would be measured from the wrong
point."""

from __future__ import annotations

import random

from benchmarks import quality_fusion as qf
from cidx.search import fusion


def _candidates(seed: int) -> dict:
    rng = random.Random(seed)
    keys = [(f"f{rng.randrange(5)}.py", line, line + rng.randrange(1, 9)) for line in range(1, 800, 7)]
    semantic = rng.sample(keys, 60)
    fts = rng.sample(keys, rng.randrange(0, 60))
    return {"semantic": [[*k, 1.0 - i / 100] for i, k in enumerate(semantic)],
            "fts": [[*k, 30.0 - i / 3] for i, k in enumerate(fts)], "exact": {}}


def test_the_shipped_row_uses_the_shipped_constants_and_depth():
    for seed in range(50):
        cands = _candidates(seed)
        assert qf.shipped(cands) == qf.rrf(cands, fusion.RRF_K, fusion.FTS_WEIGHT, fusion.candidate_depth(10))


def test_each_side_alone_and_an_empty_text_side():
    cands = _candidates(1)
    cands["fts"] = []
    assert qf.shipped(cands) == [tuple(x[:3]) for x in cands["semantic"][:10]]
    assert qf.minmax(cands, 0.8)[:10] == qf.shipped(cands)
