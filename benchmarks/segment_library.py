"""hnswlib (what cidx uses) against usearch (memory-mapped `view`) for one segment, side by side in
one run on the same vectors: build, save + fsync, load (and usearch's view), k=10 query latency and
recall@10 against exact search, RSS growth of the loaded index. ADR 0020 records the decision.

usearch is not a cidx dependency: run this in an environment that has it, e.g.

    python -m venv /tmp/u && /tmp/u/bin/pip install usearch hnswlib numpy
    /tmp/u/bin/python benchmarks/segment_library.py --vectors 100000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The repository's own helpers (numpy and the standard library only, so the usearch venv above runs them).
if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.scale_corpus import exact_topk, recall_at_k, vm_status  # noqa: E402
from cidx.store.layout import fsync_file  # noqa: E402

DIM, M, EF_C, EF_S, K = 384, 16, 200, 96, 10


def clustered(n: int, seed: int) -> np.ndarray:
    """Topic + noise unit vectors (like benchmarks/scale_corpus.py's `clustered`)."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((max(n // 200, 1), DIM)).astype(np.float32)
    x = topics[rng.integers(0, len(topics), n)] + 0.8 * rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def query_stats(search, queries) -> tuple[float, list[list[int]]]:
    lat, found = [], []
    for q in queries:
        ids, s = timed(lambda: search(q))
        lat.append(s)
        found.append(ids)
    return statistics.median(lat) * 1e3, found


def run_hnswlib(x, ids, queries, out: Path) -> dict:
    import hnswlib
    idx = hnswlib.Index(space="cosine", dim=DIM)
    idx.init_index(max_elements=len(x), ef_construction=EF_C, M=M)
    _, build = timed(lambda: idx.add_items(x, ids))
    path = out / "h.bin"
    _, save = timed(lambda: (idx.save_index(str(path)), fsync_file(path)))
    del idx
    before = vm_status()
    loaded = hnswlib.Index(space="cosine", dim=DIM)
    _, load = timed(lambda: loaded.load_index(str(path), max_elements=0))
    grew = vm_status() - before
    loaded.set_ef(EF_S)
    med, found = query_stats(lambda q: loaded.knn_query(q.reshape(1, -1), k=K)[0][0].tolist(), queries)
    return {"build_s": build, "save_s": save, "load_s": load, "rss_mb": grew / 1e6, "query_ms": med,
            "found": found, "disk_mb": path.stat().st_size / 1e6}


def run_usearch(x, ids, queries, out: Path, view: bool) -> dict:
    from usearch.index import Index
    idx = Index(ndim=DIM, metric="cos", dtype="f32", connectivity=M, expansion_add=EF_C, expansion_search=EF_S)
    _, build = timed(lambda: idx.add(ids, x))
    path = out / "u.usearch"
    _, save = timed(lambda: (idx.save(str(path)), fsync_file(path)))
    del idx
    before = vm_status()
    loaded, load = timed(lambda: Index.restore(str(path), view=view))
    loaded.expansion_search = EF_S
    grew_after_load = vm_status() - before
    med, found = query_stats(lambda q: loaded.search(q, K).keys.tolist(), queries)
    return {"build_s": build, "save_s": save, "load_s": load, "rss_mb": grew_after_load / 1e6,
            "rss_after_queries_mb": (vm_status() - before) / 1e6, "query_ms": med, "found": found,
            "disk_mb": path.stat().st_size / 1e6}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vectors", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=200)
    args = p.parse_args()
    x = clustered(args.vectors, seed=1)
    ids = np.arange(1, len(x) + 1, dtype=np.int64)
    rng = np.random.default_rng(2)
    queries = x[rng.integers(0, len(x), args.queries)] + 0.3 * rng.standard_normal((args.queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = ids[exact_topk(x, queries, K)].tolist()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows.append(("hnswlib (load)", run_hnswlib(x, ids, queries, out)))
        rows.append(("usearch (restore)", run_usearch(x, ids, queries, out, view=False)))
        rows.append(("usearch (view, mmap)", run_usearch(x, ids, queries, out, view=True)))
    print(f"== one segment of {len(x):,} vectors, {DIM} dims, M={M}, ef_construction {EF_C}, ef_search {EF_S}, "
          f"{args.queries} queries ==")
    print(f"{'library':<22} {'build s':>8} {'save+fsync ms':>14} {'load ms':>8} {'RSS +MB':>8} "
          f"{'query ms':>9} {'recall@10':>9} {'disk MB':>8}")
    for name, r in rows:
        print(f"{name:<22} {r['build_s']:>8.1f} {r['save_s'] * 1e3:>14.0f} {r['load_s'] * 1e3:>8.1f} "
              f"{r['rss_mb']:>8.0f} {r['query_ms']:>9.3f} {recall_at_k(r['found'], exact, K):>9.4f} {r['disk_mb']:>8.0f}")


if __name__ == "__main__":
    main()
