"""Retrieval metrics of the quality benchmark (DESIGN.md §8), pure functions over plain data.

A query has one target: a file path and an inclusive 1-based line span (the function, decorators
included). A result is (path, start_line, end_line), inclusive, as cidx reports chunks. A result is a
hit when it is in the target's file and shares at least one line with the span: a chunk that ends on
the line before the function starts is a miss. Ranks are 1-based; None means not in the top k.
"""

from __future__ import annotations

from typing import Iterable, Sequence

K = 10


def overlaps(result: Sequence, path: str, start_line: int, end_line: int) -> bool:
    r_path, r_start, r_end = result[0], result[1], result[2]
    return r_path == path and r_start <= end_line and r_end >= start_line


def hit_rank(results: Sequence[Sequence], path: str, start_line: int, end_line: int, k: int = K) -> int | None:
    """1-based rank of the first result overlapping the target span among the first k, else None."""
    for rank, result in enumerate(results[:k], start=1):
        if overlaps(result, path, start_line, end_line):
            return rank
    return None


def file_rank(results: Sequence[Sequence], path: str, k: int = K) -> int | None:
    """1-based rank of the first result in the target's file among the first k, else None."""
    for rank, result in enumerate(results[:k], start=1):
        if result[0] == path:
            return rank
    return None


def mrr(ranks: Iterable[int | None], k: int = K) -> float:
    """Mean reciprocal rank at k: 1/rank for a hit within k, 0 otherwise; NaN for no queries."""
    values = [1.0 / r if r is not None and r <= k else 0.0 for r in ranks]
    return sum(values) / len(values) if values else float("nan")


def recall_at(ranks: Iterable[int | None], k: int) -> float:
    """Share of queries whose target is found within the first k results (one target per query, so
    this is also success@k); NaN for no queries."""
    values = [1.0 if r is not None and r <= k else 0.0 for r in ranks]
    return sum(values) / len(values) if values else float("nan")


def summarize(ranks: Sequence[int | None], file_ranks: Sequence[int | None], k: int = K) -> dict:
    """The figures the benchmark reports for one mode."""
    if len(ranks) != len(file_ranks):
        raise ValueError("ranks and file_ranks must have one entry per query")
    return {"n": len(ranks), f"mrr@{k}": mrr(ranks, k), "recall@1": recall_at(ranks, 1),
            f"recall@{k}": recall_at(ranks, k), f"file_recall@{k}": recall_at(file_ranks, k)}
