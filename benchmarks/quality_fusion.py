"""Fusion replay (issue 14, ADR 0013): how hybrid's fusion choices score, without re-running queries.

    python benchmarks/quality_fusion.py [--corpus PATH ... | --check-set] [--out DIR] [--grid] [--recollect]

Builds (or reuses) the same workspace as benchmarks/quality.py, then collects once, per query:
the semantic side's candidates (HNSW, the shipped ef, depth 100) and the exact cosine of every chunk,
and the full-text side's any-term BM25 candidates (depth 100). Fusion functions are then replayed
offline over those lists, and MRR@10 / R@1 / R@10 / file R@10 printed per function, side by side.
The shipped fusion (cidx.search.fusion) is always the first row, so its replay can be checked
against quality.py's hybrid figures. Candidates are cached in OUT/fusion-<label>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402
from benchmarks import quality as qb  # noqa: E402
from benchmarks import quality_corpus as qc  # noqa: E402
from benchmarks import quality_metrics as qm  # noqa: E402

DEPTH = 100


def collect(root: Path, queries: list[qc.Query]) -> list[dict]:
    """Per query: each side's candidates as hybrid gets them (the engine's semantic search and its
    any-term full-text search, depth 100) and the exact cosine of every chunk. A key is path:start:end."""
    from cidx.config import load_config
    from cidx.fastpath.errors import UsageError
    from cidx.fastpath.params import QueryParams
    from cidx.services import make_engine

    engine = make_engine(load_config(root / ".code-indexer" / "config.json"))
    with engine.reader.snapshot() as snap:
        rows = {row.id: (row.path, row.start_line, row.end_line) for row in snap.iter_chunks()}
        vectors = snap.loaded.vectors
    out = []
    for q in queries:
        semantic = engine.query(QueryParams(q.text, "semantic", DEPTH, snippet_lines=0)).hits
        try:
            fts = engine.query(QueryParams(q.text, "fts", DEPTH, any_term=True, snippet_lines=0)).hits
        except UsageError:
            fts = ()
        exact = vectors.search(engine.query_vector(q.text), len(rows), len(rows))
        out.append({"semantic": [[h.path, h.start_line, h.end_line, h.score] for h in semantic],
                    "exact": {"%s:%d:%d" % rows[c]: round(s, 6) for c, s in exact if c in rows},
                    "fts": [[h.path, h.start_line, h.end_line, h.score] for h in fts]})
    engine.evict()
    return out


def _hits(entries):
    from cidx.fastpath.results import Hit

    return [Hit(p, s, e, "python", score, "x", "", s, s) for p, s, e, score in entries]


def evaluate(queries, ranked_lists) -> dict:
    ranks = [qm.hit_rank(r, q.path, q.start_line, q.end_line) for q, r in zip(queries, ranked_lists)]
    files = [qm.file_rank(r, q.path) for q, r in zip(queries, ranked_lists)]
    return qm.summarize(ranks, files)


def shipped(cands):
    from cidx.search import fusion

    return rrf(cands, fusion.RRF_K, fusion.FTS_WEIGHT, fusion.candidate_depth(qm.K))


def rrf(cands, k=10.0, w=0.7, depth=50):
    """The shipped fusion function with other settings (semantic weight 1)."""
    from cidx.search import fusion

    hits = fusion.reciprocal_rank_fusion(_hits(cands["semantic"][:depth]), _hits(cands["fts"][:depth]), qm.K,
                                         k=k, fts_weight=w)
    return [(h.path, h.start_line, h.end_line) for h in hits]


def convex(cands, alpha=0.8, depth=50, exact_cos=False):
    """Bruch et al. 2023 (TM2C2): each side's score over the query's best, theoretical minimum 0 for BM25
    and -1 for cosine; a candidate missing from one side gets that side's lowest retrieved score, or
    (exact_cos) its own cosine."""
    sem = {(p, s, e): v for p, s, e, v in cands["semantic"][:depth]}
    lex = {(p, s, e): v for p, s, e, v in cands["fts"][:depth]}
    if not sem:
        return [k for k in list(lex)[:qm.K]]
    top_cos, low_cos = max(sem.values()), min(sem.values())
    top_bm = max(lex.values()) if lex else 1.0
    low_bm = min(lex.values()) if lex else 0.0
    scores = {}
    for key in set(sem) | set(lex):
        cos = sem.get(key)
        if cos is None:
            cos = cands["exact"].get(f"{key[0]}:{key[1]}:{key[2]}", low_cos) if exact_cos else low_cos
        bm = lex.get(key, 0.0 if exact_cos else low_bm)
        scores[key] = alpha * (cos + 1) / (top_cos + 1) + (1 - alpha) * bm / (top_bm or 1.0)
    return sorted(scores, key=lambda key: (-scores[key], key))[:qm.K]


def minmax(cands, alpha=0.8, depth=50):
    """Observed min-max per side (MM in Bruch et al.); missing = that side's minimum (0 after scaling)."""
    sem = {(p, s, e): v for p, s, e, v in cands["semantic"][:depth]}
    lex = {(p, s, e): v for p, s, e, v in cands["fts"][:depth]}

    def scaled(side):
        if not side:
            return {}
        lo, hi = min(side.values()), max(side.values())
        return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in side.items()}

    sem, lex = scaled(sem), scaled(lex)
    scores = {key: alpha * sem.get(key, 0.0) + (1 - alpha) * lex.get(key, 0.0) for key in set(sem) | set(lex)}
    return sorted(scores, key=lambda key: (-scores[key], key))[:qm.K]


def variants(grid: bool):
    yield "shipped (fusion.reciprocal_rank_fusion)", shipped
    yield "semantic alone", lambda c: [tuple(x[:3]) for x in c["semantic"][:qm.K]]
    yield "fts any-term alone", lambda c: [tuple(x[:3]) for x in c["fts"][:qm.K]]
    yield "rrf k10 w0.7 d50", lambda c: rrf(c)
    for depth in (50, 100):
        for alpha in ((0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9) if grid else (0.7, 0.8)):
            yield f"convex a{alpha} d{depth}", lambda c, a=alpha, d=depth: convex(c, a, d)
            yield f"convex+cos a{alpha} d{depth}", lambda c, a=alpha, d=depth: convex(c, a, d, exact_cos=True)
            yield f"minmax a{alpha} d{depth}", lambda c, a=alpha, d=depth: minmax(c, a, d)
    if grid:
        for k in (5, 10, 20):
            for w in (0.5, 0.7, 0.9, 1.0):
                for depth in (50, 100):
                    yield f"rrf k{k} w{w} d{depth}", lambda c, k=k, w=w, d=depth: rrf(c, k, w, d)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, action="append", default=None)
    p.add_argument("--check-set", action="store_true", help="the held-out-like check set (quality.py)")
    p.add_argument("--out", type=Path, default=common.BENCH_DIR / "out")
    p.add_argument("--grid", action="store_true", help="every fusion setting, not just the main ones")
    p.add_argument("--recollect", action="store_true", help="query again even if candidates are cached")
    args = p.parse_args(argv)
    blas = qb.single_threaded_blas()
    out_dir = args.out.resolve()
    label, files, spec = qb.corpus_for(args.corpus, args.check_set)
    root = qb.workspace_dir(out_dir, label, spec)
    prepared = qc.prepare(files, root)
    queries = qc.drop_duplicate_texts(prepared.queries)
    cache = out_dir / f"fusion-{label}.json"
    if cache.exists() and not args.recollect:
        candidates = json.loads(cache.read_text())
    else:
        qb.index_workspace(root, blas)
        t0 = time.perf_counter()
        candidates = collect(root, queries)
        common.log(f"fusion: collected {len(queries)} queries in {time.perf_counter() - t0:.0f}s")
        common.write_json(cache, candidates)
    print(f"{label}: {len(queries)} queries\n")
    print(f"| fusion | MRR@10 | R@1 | R@10 | file R@10 |\n| --- | --- | --- | --- | --- |")
    for name, fn in variants(args.grid):
        s = evaluate(queries, [fn(c) for c in candidates])
        print(f"| {name} | {s['mrr@10']:.3f} | {s['recall@1']:.3f} | {s['recall@10']:.3f} | {s['file_recall@10']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
