"""The scale benchmark's helpers (benchmarks/scale_corpus.py): exact kNN by blocks, recall@k, the
snippet cutter, and the mapping from a search hit back to the live row it stands for."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import scale_corpus as sc


def _unit_rows(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    return sc.normalise(np.random.default_rng(seed).standard_normal((n, dim)))


@pytest.mark.parametrize("block", [1, 7, 64, 10_000])
def test_exact_topk_equals_full_sort_whatever_the_block(block):
    rows, queries = _unit_rows(300), _unit_rows(9, seed=1)
    expected = np.argsort(-(queries @ rows.T), axis=1, kind="stable")[:, :10]
    assert np.array_equal(sc.exact_topk(rows, queries, 10, block=block), expected)


def test_exact_topk_with_fewer_rows_than_k():
    rows = _unit_rows(4)
    got = sc.exact_topk(rows, rows[:1], 10)
    assert got.shape == (1, 4) and got[0, 0] == 0


def test_recall_counts_overlap_over_the_exact_set():
    exact = [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert sc.recall_at_k([[1, 2, 3, 4], [5, 6, 7, 8]], exact, 4) == 1.0
    assert sc.recall_at_k([[4, 3, 2, 1], [8, -1, 9, 5]], exact, 4) == pytest.approx((1.0 + 0.5) / 2)
    # Fewer hits than k (a filtered or tiny index) count as misses; -1 (a stale row) never matches.
    assert sc.recall_at_k([[1], [-1, -1]], exact, 4) == pytest.approx((0.25 + 0.0) / 2)
    # Only the first k of each list count.
    assert sc.recall_at_k([[9, 1, 2]], [[1, 2, 3]], 1) == 0.0


def test_recall_of_lists_of_different_lengths_is_an_error():
    with pytest.raises(ValueError):
        sc.recall_at_k([[1]], [[1], [2]], 1)


def test_snippets_are_whole_lines_within_bounds():
    lines = [f"line_{i} = compute(value_{i})  # note" for i in range(40)] + ["", "x" * 500]
    out = sc.snippets(lines, min_chars=100, max_chars=200)
    assert out and all(100 <= len(s) <= 200 for s in out)
    assert out[0].split("\n")[0] == lines[0]
    assert "" not in out[0].split("\n")


def test_row_of_follows_edits_and_rejects_stale_hits():
    corpus = sc.Corpus(250, seed=3, kind="clustered", pool=["a = 1"])
    f, c = 123, 5
    path, start = corpus.key(f, c)
    assert path == "pkg1/mod23.py"
    assert corpus.row_of(path, start) == f * sc.CHUNKS_PER_FILE + c
    corpus.version[f] += 1  # one line inserted at the top: the old start line is no live chunk
    assert corpus.row_of(path, start) == -1
    assert corpus.row_of(*corpus.key(f, c)) == f * sc.CHUNKS_PER_FILE + c
    assert corpus.row_of("pkg9/mod0.py", 1) == -1  # file 900 does not exist
    assert corpus.row_of("elsewhere.py", 1) == -1


def test_file_vectors_are_seeded_and_change_with_the_version():
    corpus = sc.Corpus(10, seed=3, kind="clustered", pool=["a = 1"])
    first = corpus.vectors(4)
    assert first.shape == (sc.CHUNKS_PER_FILE, sc.DIM) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, corpus.vectors(4))
    corpus.version[4] += 1
    assert not np.allclose(first, corpus.vectors(4))
    # Clustered: chunks of one file are closer to each other than to another package's file.
    other = sc.Corpus(200, seed=3, kind="clustered", pool=["a"]).vectors(150)
    same = float(np.mean(first[0] @ first[1:].T))
    assert same > 0.5 > float(np.mean(first @ other.T))
