"""The spec interface's keyword options (long CLI names) become the one QueryParams, or a clear error."""

import pytest

from cidx.daemon.spec_options import KWARGS, NOT_KWARGS, params_from_kwargs
from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import QUERY_OPTIONS, parse_query_args


def same_as_cli(text, mode, kwargs, argv):
    mode_flags = {"semantic": [], "fts": ["--fts"], "hybrid": ["--hybrid"]}[mode]
    return params_from_kwargs(text, mode, kwargs) == parse_query_args([text, *mode_flags, *argv, "--json"])


@pytest.mark.parametrize("mode, kwargs, argv", [
    ("semantic", {}, []),
    ("semantic", {"limit": 5, "language": "python"}, ["-l", "5", "--language", "python"]),
    ("semantic", {"language": ("python", "go"), "exclude_path": ["tests/*"]},
     ["--language", "python", "--language", "go", "--exclude-path", "tests/*"]),
    ("semantic", {"min_score": 0.25, "accuracy": "high", "snippet_lines": 0},
     ["--min-score", "0.25", "--accuracy", "high", "--snippet-lines", "0"]),
    ("semantic", {"min_score": 1}, ["--min-score", "1"]),
    ("fts", {"fuzzy": True, "limit": 3}, ["--fuzzy", "-l", "3"]),
    ("fts", {"fuzzy": True, "edit_distance": 2}, ["--fuzzy", "--edit-distance", "2"]),
    ("fts", {"case_sensitive": True, "path_filter": "src/*"}, ["--case-sensitive", "--path-filter", "src/*"]),
    ("fts", {"regex": True, "exclude_language": ["go"]}, ["--regex", "--exclude-language", "go"]),
    ("hybrid", {"limit": 7, "fuzzy": False}, ["-l", "7"]),
    ("fts", {"any_term": True}, ["--any-term"]),
])
def test_kwargs_give_the_same_params_as_the_cli_with_json(mode, kwargs, argv):
    assert same_as_cli("load settings", mode, kwargs, argv)


def test_every_cli_option_is_a_kwarg_or_refused_on_purpose():
    dests = {opt.dest for opt in QUERY_OPTIONS}
    assert dests == set(KWARGS) | set(NOT_KWARGS)
    assert not set(KWARGS) & set(NOT_KWARGS)


@pytest.mark.parametrize("text, mode, kwargs, message", [
    (42, "semantic", {}, "the query must be a string (got int)"),
    (None, "fts", {}, "the query must be a string (got NoneType)"),
    ("x", "semantic", {"bogus": 1}, "unknown option 'bogus'"),
    ("x", "semantic", {"limit": "5"}, "limit must be a whole number (int); got str '5'"),
    ("x", "semantic", {"limit": True}, "limit must be a whole number (int); got bool True"),
    ("x", "semantic", {"limit": 0}, "--limit must be between 1 and 1000"),
    ("x", "semantic", {"limit": 5.0}, "limit must be a whole number"),
    ("x", "semantic", {"min_score": "high"}, "min_score must be a number"),
    ("x", "semantic", {"language": 3}, "language must be a string or a list/tuple of strings"),
    ("x", "semantic", {"language": ("python", 3)}, "language must be a string or a list/tuple of strings"),
    ("x", "semantic", {"language": ("py",) * 101}, "at most 100"),
    ("x", "semantic", {"fuzzy": 1}, "fuzzy must be True or False"),
    ("x", "semantic", {"accuracy": "max"}, "--accuracy must be one of fast, balanced, high"),
    ("x", "semantic", {"fts": True}, "the method is the mode"),
    ("x", "semantic", {"json": True}, "always one JSON document"),
    ("x", "semantic", {"text": "y"}, "unknown option 'text'"),
    ("(x", "fts", {"regex": True}, "invalid regex"),
    ("x", "semantic", {"regex": True}, "--regex is a full-text search option"),
    ("  ", "fts", {}, "empty query"),
])
def test_bad_input_is_one_clear_usage_error(text, mode, kwargs, message):
    with pytest.raises(UsageError) as caught:
        params_from_kwargs(text, mode, kwargs)
    assert message in caught.value.message
    assert "\n" not in caught.value.message and len(caught.value.message) < 400


def test_a_remote_sequence_is_read_through_the_given_reader():
    class Remote:  # stands for an rpyc netref to the client's list
        pass

    remote = Remote()
    params = params_from_kwargs("x", "semantic", {"language": remote},
                                read_remote=lambda value, most: ("python",) if value is remote else None)
    assert params.languages == ("python",)
    with pytest.raises(UsageError, match="language must be a string or a list/tuple"):
        params_from_kwargs("x", "semantic", {"language": object()}, read_remote=lambda value, most: None)
