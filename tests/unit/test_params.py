import pytest

from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import QueryParams, parse_query_args


def test_defaults():
    p = parse_query_args(["parse", "config"])
    assert p == QueryParams(text="parse config")
    assert p.mode == "semantic" and p.limit == 10 and p.ef == 96


@pytest.mark.parametrize("argv, mode", [
    (["x", "--fts"], "fts"), (["x", "--hybrid"], "hybrid"), (["x", "--fts", "--semantic"], "hybrid"),
    (["x", "--semantic"], "semantic"),
])
def test_modes(argv, mode):
    assert parse_query_args(argv).mode == mode


def test_every_option_is_parsed():
    p = parse_query_args(["a", "b", "--fts", "-l", "7", "--language", "python", "--language", "go",
                          "--exclude-language", "markdown", "--path-filter", "src/*", "--exclude-path", "tests/*",
                          "--min-score", "0.5", "--accuracy", "high", "--edit-distance", "2", "--case-sensitive",
                          "--snippet-lines", "0", "--json"])
    assert p == QueryParams(text="a b", mode="fts", limit=7, languages=("python", "go"),
                            exclude_languages=("markdown",), path_filters=("src/*",), exclude_paths=("tests/*",),
                            min_score=0.5, accuracy="high", edit_distance=2, case_sensitive=True, regex=False,
                            snippet_lines=0, output="json")
    assert parse_query_args(["a", "--fts", "--fuzzy"]).edit_distance == 1
    assert parse_query_args(["a", "-q"]).output == "quiet"
    assert parse_query_args(["a.*b", "--fts", "--regex"]).regex
    assert parse_query_args(["a", "b", "--fts", "--any-term"]).any_term
    assert parse_query_args(["a", "b", "--hybrid", "--any-term"]).any_term


@pytest.mark.parametrize("argv, fragment", [
    (["   "], "empty query"),
    (["x", "--limit", "0"], "--limit"),
    (["x", "--limit", "abc"], "whole number"),
    (["x", "--limit", "100000"], "--limit"),
    (["x", "--accuracy", "extreme"], "accuracy"),
    (["x", "--fts", "--edit-distance", "3"], "edit-distance"),
    (["(unclosed", "--fts", "--regex"], "invalid regex"),
    (["x", "--regex"], "--fts"),
    (["x", "--case-sensitive"], "--fts"),
    (["x", "--any-term"], "--fts"),
    (["x", "--fts", "--regex", "--any-term"], "--any-term"),
    (["x", "--json", "-q"], "one of"),
    (["x", "--no-such-option"], "unrecognized"),
    ([], "required"),
    (["x" * 10_001], "too long"),
])
def test_bad_input_is_one_usage_error(argv, fragment):
    with pytest.raises(UsageError) as err:
        parse_query_args(argv)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_wire_round_trip_is_a_plain_tuple():
    p = parse_query_args(["x", "--hybrid", "--language", "python", "--path-filter", "src/*", "--min-score", "0.2",
                          "--any-term"])
    wire = p.to_wire()
    assert type(wire) is tuple and QueryParams.from_wire(wire) == p


@pytest.mark.parametrize("junk", [
    '{"text": "x", "evil": 1}', "not a tuple", ("x",), tuple(QueryParams(text="x")) + ("extra",), None,
])
def test_wire_rejects_shapes_other_than_the_fields(junk):
    with pytest.raises(UsageError, match="malformed query parameters"):
        QueryParams.from_wire(junk)


@pytest.mark.parametrize("field, bad", [
    ("text", b"x"), ("limit", "10"), ("limit", True), ("limit", 1.5), ("languages", ["python"]),
    ("languages", ("python", 3)), ("min_score", "0.5"), ("case_sensitive", 1), ("any_term", 0), ("snippet_lines", None),
    ("output", None),
])
def test_wire_rejects_a_field_of_the_wrong_type(field, bad):
    payload = QueryParams(text="x")._replace(**{field: bad})
    with pytest.raises(UsageError, match=f"bad {field}"):
        QueryParams.from_wire(tuple(payload))


def test_wire_still_validates_values():
    with pytest.raises(UsageError, match="--limit"):
        QueryParams.from_wire(tuple(QueryParams(text="x", limit=0)))
