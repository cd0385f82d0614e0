"""The quality benchmark's metrics (benchmarks/quality_metrics.py) on a tiny constructed corpus whose
ranks are known by hand."""

from __future__ import annotations

import math

import pytest

from benchmarks import quality_metrics as qm

# Target: a.py lines 10-20 (a function, decorators included).
TARGET = ("a.py", 10, 20)


@pytest.mark.parametrize("result, expected", [
    (("a.py", 10, 20), True),      # exactly the span
    (("a.py", 1, 10), True),       # shares the first line
    (("a.py", 20, 30), True),      # shares the last line
    (("a.py", 12, 14), True),      # inside
    (("a.py", 1, 40), True),       # covers it
    (("a.py", 1, 9), False),       # ends on the line before: adjacent is a miss
    (("a.py", 21, 30), False),     # starts on the line after
    (("b.py", 10, 20), False),     # same lines, other file
    (("sub/a.py", 10, 20), False),  # same name, other directory
])
def test_overlap_rules(result, expected):
    assert qm.overlaps(result, *TARGET) is expected


def test_hit_rank_is_the_first_overlapping_result():
    results = [("b.py", 10, 20), ("a.py", 1, 9), ("a.py", 15, 30), ("a.py", 10, 20)]
    assert qm.hit_rank(results, *TARGET) == 3
    assert qm.file_rank(results, "a.py") == 2


def test_ranks_beyond_k_or_absent_are_none():
    results = [("b.py", 1, 5)] * 10 + [("a.py", 10, 20)]
    assert qm.hit_rank(results, *TARGET) is None           # 11th: outside the top 10
    assert qm.hit_rank(results, *TARGET, k=11) == 11
    assert qm.file_rank(results, "a.py") is None
    assert qm.hit_rank([], *TARGET) is None


def test_mrr_and_recall_on_known_ranks():
    ranks = [1, 2, None, 10]
    assert qm.mrr(ranks) == pytest.approx((1 + 0.5 + 0 + 0.1) / 4)
    assert qm.recall_at(ranks, 1) == pytest.approx(0.25)
    assert qm.recall_at(ranks, 2) == pytest.approx(0.5)
    assert qm.recall_at(ranks, 10) == pytest.approx(0.75)
    assert qm.mrr([11], k=10) == 0.0


def test_summarize_a_small_corpus():
    """Three queries over two files; hand-computed ranks."""
    queries = [("a.py", 10, 20), ("a.py", 30, 40), ("b.py", 5, 8)]
    results = {
        0: [("a.py", 10, 20), ("b.py", 1, 4)],                  # hit at 1
        1: [("b.py", 5, 8), ("a.py", 1, 29), ("a.py", 35, 50)],  # file at 2 (adjacent chunk), hit at 3
        2: [("a.py", 5, 8), ("b.py", 9, 12)],                   # file at 2 but adjacent: no hit
    }
    ranks = [qm.hit_rank(results[i], *q) for i, q in enumerate(queries)]
    file_ranks = [qm.file_rank(results[i], q[0]) for i, q in enumerate(queries)]
    assert ranks == [1, 3, None]
    assert file_ranks == [1, 2, 2]
    summary = qm.summarize(ranks, file_ranks)
    assert summary == {"n": 3, "mrr@10": pytest.approx((1 + 1 / 3) / 3), "recall@1": pytest.approx(1 / 3),
                       "recall@10": pytest.approx(2 / 3), "file_recall@10": pytest.approx(1.0)}


def test_no_queries_gives_nan_not_an_error():
    summary = qm.summarize([], [])
    assert summary["n"] == 0 and math.isnan(summary["mrr@10"]) and math.isnan(summary["recall@10"])


def test_summarize_rejects_mismatched_lists():
    with pytest.raises(ValueError):
        qm.summarize([1], [])
