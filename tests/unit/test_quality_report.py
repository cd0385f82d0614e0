"""The quality benchmark's evaluation and run-to-run comparison (benchmarks/quality.py,
benchmarks/quality_report.py) on constructed results, and its command line's bad-input errors."""

from __future__ import annotations

import pytest

from benchmarks import quality
from benchmarks.quality_corpus import Query
from benchmarks.quality_report import compare

QUERIES = [Query("a.py::f", "Parse one thing here.", "a.py", 10, 20),
           Query("b.py::g", "Write the other thing.", "b.py", 1, 5)]


def _searched(results_by_mode):
    return {mode: {"results": results, "seconds": 0.5, "errors": []} for mode, results in results_by_mode.items()}


def test_evaluate_ranks_each_query_per_mode():
    summary, per_query = quality.evaluate(QUERIES, _searched({
        "semantic": [[("a.py", 15, 30)], [("a.py", 1, 5), ("b.py", 6, 9)]],  # hit at 1; b.py adjacent: miss
        "fts": [[], [("b.py", 1, 2)]],
    }))
    assert per_query[0]["rank"] == {"semantic": 1, "fts": None}
    assert per_query[1]["rank"] == {"semantic": None, "fts": 1}
    assert per_query[1]["file_rank"] == {"semantic": 2, "fts": 1}
    assert per_query[0]["top"] == {"semantic": "a.py:15-30", "fts": None}
    assert summary["semantic"]["mrr@10"] == pytest.approx(0.5)
    assert summary["semantic"]["file_recall@10"] == pytest.approx(1.0)
    assert summary["fts"]["no_results"] == 1 and summary["fts"]["ms_per_query"] == pytest.approx(250.0)
    assert summary["semantic"]["mean_result_lines"] == pytest.approx((16 + 5 + 4) / 3)


def test_compare_uses_only_the_queries_both_runs_share():
    _, old_rows = quality.evaluate(QUERIES, _searched({"semantic": [[("x.py", 1, 2)], [("b.py", 1, 5)]]}))
    extra = Query("c.py::h", "Only in the new run.", "c.py", 1, 3)
    new_summary, new_rows = quality.evaluate([QUERIES[0], extra], _searched({
        "semantic": [[("a.py", 1, 9), ("a.py", 10, 11)], [("c.py", 1, 1)]]}))
    deltas, moves = compare({"queries": old_rows, "meta": {"git": "abc"}},
                            {"queries": new_rows, "summary": new_summary})
    # Only a.py::f is common: missed before, found at rank 2 now.
    assert deltas["rows"] == [["semantic", "1", "0.000 -> 0.500 (+0.500)", "0.000 -> 0.000 (+0.000)",
                               "0.000 -> 1.000 (+1.000)", "0.000 -> 1.000 (+1.000)"]]
    assert moves["rows"] == [["semantic", "1", "1", "0", "0", "0"]]


@pytest.mark.parametrize("argv, message", [
    (["--modes", "semantic,bm25"], "unknown mode(s) bm25"),
    (["--max-queries", "0"], "--max-queries must be at least 1"),
    (["--corpus", "/nonexistent/tree"], "no such file or directory"),
    (["--baseline", "TMP/missing.json"], "No such file or directory"),
    (["--baseline", "TMP/bad.json"], "bad.json: Expecting property name"),
    (["--baseline", "TMP/other.json"], "not a quality.json"),
])
def test_bad_arguments_are_one_line_errors(argv, message, capsys, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"sections": {}}')
    argv = [a.replace("TMP", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exc:
        quality.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
