"""Tool arguments -> the one QueryParams (cidx/mcp/arguments.py), and their error messages."""

from __future__ import annotations

import pytest

from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import QueryParams, parse_query_args

jsonschema = pytest.importorskip("jsonschema", reason="the argument checks use jsonschema, part of cidx[mcp]")
from cidx.mcp.arguments import index_options, search_params, status_options  # noqa: E402


@pytest.mark.parametrize("arguments, argv", [
    ({"query": "parse config"}, ["parse config"]),
    ({"query": "load_settings", "mode": "fts", "limit": 3, "language": "python", "path_filter": ["src/*", "lib/*"]},
     ["load_settings", "--fts", "-l", "3", "--language", "python", "--path-filter", "src/*", "--path-filter", "lib/*"]),
    ({"query": "retry", "mode": "hybrid", "exclude_language": ["go"], "exclude_path": "tests/*", "min_score": 0.5,
      "accuracy": "high", "snippet_lines": 0}, ["retry", "--hybrid", "--exclude-language", "go", "--exclude-path",
                                                "tests/*", "--min-score", "0.5", "--accuracy", "high",
                                                "--snippet-lines", "0"]),
    ({"query": "circlArea", "mode": "fts", "fuzzy": True, "case_sensitive": True},
     ["circlArea", "--fts", "--fuzzy", "--case-sensitive"]),
    ({"query": "circlArea", "mode": "fts", "fuzzy": True, "edit_distance": 2},
     ["circlArea", "--fts", "--edit-distance", "2"]),  # edit_distance wins over fuzzy, as on the command line
    ({"query": r"def \w+", "mode": "fts", "regex": True}, [r"def \w+", "--fts", "--regex"]),
    ({"query": "parse the config", "mode": "fts", "any_term": True}, ["parse the config", "--fts", "--any-term"]),
    ({"query": "x", "limit": 5.0}, ["x", "-l", "5"]),  # JSON has one number type; 5.0 is the integer 5
])
def test_arguments_mean_what_the_cli_options_mean(arguments, argv):
    assert search_params(arguments) == parse_query_args(argv + ["--json"])


def test_the_result_is_a_validated_query_params():
    params = search_params({"query": "x", "mode": "fts", "edit_distance": 1})
    assert isinstance(params, QueryParams) and QueryParams.from_wire(params.to_wire()) == params


@pytest.mark.parametrize("arguments, message", [
    (None, "invalid search arguments: 'query' is a required property"),
    ({"query": 3}, "invalid search arguments: query: 3 is not of type 'string'"),
    ({"query": "x", "limit": True}, "limit: True is not of type 'integer'"),
    ({"query": "x", "limit": 2.5}, "limit: 2.5 is not of type 'integer'"),
    ({"query": "x", "snippet_lines": 500}, "snippet_lines must be between 0 and 200 (got 500)"),
    ({"query": "x", "mode": "fts", "regex": True, "fuzzy": True}, "regex cannot be combined with fuzzy/edit_distance"),
    ({"query": "x", "case_sensitive": True}, 'apply to mode "fts" or mode "hybrid" searches'),
    ({"query": "x", "any_term": True}, 'apply to mode "fts" or mode "hybrid" searches'),
    ({"query": "x", "limit": "9" * 1000}, "…"),  # long instances are cut: one readable line
])
def test_bad_arguments_are_one_clear_line(arguments, message):
    with pytest.raises(UsageError) as raised:
        search_params(arguments)
    assert message in raised.value.message and "\n" not in raised.value.message
    assert len(raised.value.message) <= 300


def test_status_and_index_options():
    assert status_options(None) == {"verify": False} and status_options({"verify": True}) == {"verify": True}
    assert index_options({}) == {"clear": False, "fts_only": False}
    assert index_options({"fts_only": True}) == {"clear": False, "fts_only": True}
    for bad, message in (({"clear": True, "fts_only": True}, "choose one of clear and fts_only"),
                         ({"force": True}, "'force' was unexpected")):
        with pytest.raises(UsageError, match=message):
            index_options(bad)
