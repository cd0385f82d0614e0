"""Tables of the quality benchmark: the per-mode figures side by side, and the change against an
earlier run's JSON (summary deltas and the queries each mode won and lost, by query id)."""

from __future__ import annotations

from benchmarks import common
from benchmarks.quality_metrics import K, summarize

METRICS = (f"mrr@{K}", "recall@1", f"recall@{K}", f"file_recall@{K}")
HEADERS = ("MRR@10", "R@1", "R@10", "file R@10")


def _f3(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def summary_tables(meta: dict, summary: dict) -> list[dict]:
    index = meta["index"]
    rows = [[mode, s["n"], *(_f3(s[m]) for m in METRICS), s["no_results"], s["mean_result_lines"],
             f"{s['ms_per_query']:.1f}"] for mode, s in summary.items()]
    main = common.table(
        f"quality: {meta['corpus']} ({meta['queries_used']} queries, {index['files']} files, "
        f"{index['chunks']} chunks)",
        ["mode", "queries", *HEADERS, "no result", "lines/result", "ms/query"], rows,
        note=f"limit {K}; hit = a result chunk sharing a line with the function (decorators included); "
             "lines/result = mean lines of the chunks returned (bigger chunks overlap more functions); "
             "queries run in-process through cidx's SearchEngine (the daemon's code); "
             f"chunking {meta['chunking']}, embedding {meta['embedding']}, git {meta['git']}")
    summ = index.get("summary") or {}
    corpus = common.table(
        "quality: corpus and index",
        ["files", "rewritten", "queries found", "unique text", "used", "prepare s", "index s",
         "chunks embedded", "chunks cached"],
        [[meta["files"], meta["files_rewritten"], meta["queries_found"], meta["queries_unique"],
          meta["queries_used"], f"{meta['prepare_seconds']:.1f}", f"{index['seconds']:.1f}",
          summ.get("chunks_embedded", "-"), summ.get("chunks_cached", "-")]],
        note="index s = `CIDX_NO_DAEMON=1 cidx index` wall time (incremental after the first run); "
             f"workspace {meta['workspace']}")
    return [main, corpus]


def compare(old: dict, new: dict) -> list[dict]:
    """Each mode's figures before and after, recomputed over the queries both runs share (by id, so a
    sample or a changed corpus still compares like with like), and how many of those queries moved
    into or out of the top 10 or changed rank."""
    old_q = {q["id"]: q for q in old.get("queries", [])}
    pairs = [(old_q[q["id"]], q) for q in new["queries"] if q["id"] in old_q]
    rows, moves = [], []
    for mode in new["summary"]:
        both = [(a, b) for a, b in pairs if mode in a["rank"]]
        if not both:
            continue
        before = summarize([a["rank"][mode] for a, _ in both], [a["file_rank"][mode] for a, _ in both])
        after = summarize([b["rank"][mode] for _, b in both], [b["file_rank"][mode] for _, b in both])
        rows.append([mode, len(both), *(f"{before[m]:.3f} -> {after[m]:.3f} ({after[m] - before[m]:+.3f})"
                                         for m in METRICS)])
        won = lost = better = worse = 0
        for a, b in both:
            ra, rb = a["rank"][mode], b["rank"][mode]
            won += ra is None and rb is not None
            lost += ra is not None and rb is None
            better += ra is not None and rb is not None and rb < ra
            worse += ra is not None and rb is not None and rb > ra
        moves.append([mode, len(both), won, lost, better, worse])
    git = old.get("meta", {}).get("git", "?")
    deltas = common.table(f"quality: baseline (git {git}) -> this run, over the queries both ran",
                          ["mode", "queries", *HEADERS], rows, left=True)
    per_query = common.table("quality: queries that changed",
                             ["mode", "queries", "now found", "now missed", "rank up", "rank down"], moves)
    return [deltas, per_query]
