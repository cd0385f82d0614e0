from cidx.fastpath.results import Hit
from cidx.search.fusion import (FTS_WEIGHT, MIN_DEPTH, RRF_K, SEMANTIC_WEIGHT, candidate_depth,
                                reciprocal_rank_fusion)


def hit(path, start=1, source="semantic", snippet=""):
    return Hit(path, start, start + 9, "python", 0.0, source, snippet)


def test_found_by_both_ranks_first_and_says_so():
    fused = reciprocal_rank_fusion([hit("a"), hit("b")], [hit("b", source="fts"), hit("c", source="fts")], 10)
    assert [h.path for h in fused] == ["b", "a", "c"]
    assert fused[0].source == "semantic+fts"
    assert fused[0].score == SEMANTIC_WEIGHT / (RRF_K + 2) + FTS_WEIGHT / (RRF_K + 1)
    assert [h.source for h in fused[1:]] == ["semantic", "fts"]


def test_one_side_empty_keeps_the_other_order():
    assert [h.path for h in reciprocal_rank_fusion([hit("x"), hit("y")], [], 10)] == ["x", "y"]
    assert [h.path for h in reciprocal_rank_fusion([], [hit("y", source="fts"), hit("x", source="fts")], 10)] == ["y", "x"]
    assert reciprocal_rank_fusion([], [], 10) == []


def test_ties_break_by_path_then_line_deterministically():
    fused = reciprocal_rank_fusion([hit("b")], [hit("a", source="fts")], 10, semantic_weight=1, fts_weight=1)
    assert [h.path for h in fused] == ["a", "b"]  # equal scores (both rank 1)


def test_duplicates_within_one_side_vote_once():
    fused = reciprocal_rank_fusion([hit("a"), hit("a")], [], 10)
    assert len(fused) == 1 and fused[0].score == SEMANTIC_WEIGHT / (RRF_K + 1)


def test_same_file_different_chunks_are_different_hits_and_limit_applies():
    fused = reciprocal_rank_fusion([hit("a", 1), hit("a", 11), hit("b")], [], 2)
    assert [(h.path, h.start_line) for h in fused] == [("a", 1), ("a", 11)]


def test_fts_snippet_is_kept_when_both_found_it():
    fused = reciprocal_rank_fusion([hit("a", snippet="sem")], [hit("a", source="fts", snippet="text")], 10)
    assert fused[0].snippet == "text"


def test_a_target_each_side_ranks_low_comes_first_when_both_found_it():
    """Neither side alone puts the target in its top 3; fused, it is first."""
    semantic = [hit("s1"), hit("s2"), hit("s3"), hit("target"), hit("s5")]
    fts = [hit(p, source="fts") for p in ("f1", "f2", "f3", "f4", "target")]
    fused = reciprocal_rank_fusion(semantic, fts, 3)
    assert fused[0].path == "target" and fused[0].source == "semantic+fts"


def test_the_weights_decide_between_the_sides():
    semantic, fts = [hit("s")], [hit("f", source="fts")]
    assert reciprocal_rank_fusion(semantic, fts, 2, semantic_weight=2, fts_weight=1)[0].path == "s"
    assert reciprocal_rank_fusion(semantic, fts, 2, semantic_weight=1, fts_weight=2)[0].path == "f"
    assert reciprocal_rank_fusion(semantic, fts, 2, k=0, semantic_weight=1, fts_weight=0.5)[0].score == 1.0


def test_k_flattens_the_rank_curve():
    """Small k: rank 1 on one side beats ranks 2 and 2 on both; large k: agreement wins."""
    semantic = [hit("a"), hit("both")]
    fts = [hit("b", source="fts"), hit("both", source="fts")]
    assert reciprocal_rank_fusion(semantic, fts, 3, k=0, semantic_weight=1, fts_weight=0.9)[0].path == "a"
    assert reciprocal_rank_fusion(semantic, fts, 3, k=60, semantic_weight=1, fts_weight=0.9)[0].path == "both"


def test_candidate_depth_grows_with_the_limit():
    assert candidate_depth(1) == MIN_DEPTH
    assert candidate_depth(1000) > 1000
