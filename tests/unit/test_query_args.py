"""cidx/fastpath/argv.py against argparse: the same command lines give the same QueryParams or the same error.

The reference is the argparse parser cidx used before (ADR 0009), read with parse_intermixed_args
so that words may follow options (`cidx query parse --fts config`).
"""

import argparse

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import ACCURACY_EF, QUERY_OPTIONS, QUERY_PARSER, QueryParams, parse_query_args


class _Raising(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"cidx query: {message}")


def _int_arg(name):
    def convert(value):
        try:
            return int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} expects a whole number, got {value!r}") from None
    return convert


def _float_arg(value):
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--min-score expects a number, got {value!r}") from None


def reference_parser() -> argparse.ArgumentParser:
    p = _Raising(prog="cidx query")
    p.add_argument("text", nargs="+")
    p.add_argument("--fts", action="store_true")
    p.add_argument("--semantic", action="store_true")
    p.add_argument("--hybrid", action="store_true")
    p.add_argument("-l", "--limit", type=_int_arg("--limit"), default=10)
    p.add_argument("--language", action="append", default=[])
    p.add_argument("--exclude-language", action="append", default=[])
    p.add_argument("--path-filter", action="append", default=[])
    p.add_argument("--exclude-path", action="append", default=[])
    p.add_argument("--min-score", type=_float_arg, default=None)
    p.add_argument("--accuracy", choices=tuple(ACCURACY_EF), default="balanced")
    p.add_argument("--fuzzy", action="store_true")
    p.add_argument("--edit-distance", type=_int_arg("--edit-distance"), default=None)
    p.add_argument("--case-sensitive", action="store_true")
    p.add_argument("--regex", action="store_true")
    p.add_argument("--any-term", action="store_true")
    p.add_argument("--snippet-lines", type=_int_arg("--snippet-lines"), default=3)
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--json", action="store_true")
    return p


def reference_parse(argv) -> QueryParams:
    ns = reference_parser().parse_intermixed_args(argv)
    mode = "hybrid" if ns.hybrid or (ns.fts and ns.semantic) else ("fts" if ns.fts else "semantic")
    if ns.quiet and ns.json:
        raise UsageError("choose one of --quiet and --json")
    return QueryParams(
        text=" ".join(ns.text), mode=mode, limit=ns.limit, languages=tuple(ns.language),
        exclude_languages=tuple(ns.exclude_language), path_filters=tuple(ns.path_filter),
        exclude_paths=tuple(ns.exclude_path), min_score=ns.min_score, accuracy=ns.accuracy,
        edit_distance=ns.edit_distance if ns.edit_distance is not None else (1 if ns.fuzzy else 0),
        case_sensitive=ns.case_sensitive, regex=ns.regex, any_term=ns.any_term, snippet_lines=ns.snippet_lines,
        output="json" if ns.json else ("quiet" if ns.quiet else "rich"),
    ).validate()


UNRECOGNIZED = "cidx query: unrecognized arguments:"


def outcome(parse, argv):
    try:
        return ("ok", parse(list(argv)))
    except UsageError as exc:
        # argparse also lists the words that follow an unknown option when its second pass has no
        # positional left to give them to; cidx lists the unknown options only
        # (test_unrecognized_lists_the_unknown_options), so only the kind of error is compared.
        return ("error", UNRECOGNIZED if exc.message.startswith(UNRECOGNIZED) else exc.message)


FLAGS = [f for opt in QUERY_OPTIONS if opt.kind != "help" for f in opt.flags]
words = st.one_of(
    st.sampled_from(FLAGS),
    st.sampled_from(["--lim", "--ex", "--exclude-l", "--acc", "--fu", "--js", "--an", "--l", "-qq", "-ql", "-ql5", "-q5",
                     "-l5", "-l=3", "--limit=4", "--fts=", "--fts=1", "-q=", "--", "-", "-x", "--nope", "-7",
                     "-0.5", "-.5", "-1e3", "- x", "-- y", "fast", "high", "extreme", "nan", "3", "0", "1001",
                     "2", "src/*", "parse", "config", "a=b", "", " "]),
    st.text(alphabet="abc-=.1 ", max_size=5),
)


@settings(max_examples=600)
@given(st.lists(words, max_size=7).filter(lambda argv: "--" not in argv))
@example(["parse", "--fts", "config"])
@example(["x", "-qz5"])
def test_same_result_or_error_as_argparse(argv):
    assert outcome(parse_query_args, argv) == outcome(reference_parse, argv)


@pytest.mark.parametrize("argv, text, mode", [
    (["--", "--fts"], "--fts", "semantic"),
    (["x", "--", "-l", "5"], "x -l 5", "semantic"),
    (["--", "a", "--", "b"], "a -- b", "semantic"),
    (["a", "--fts", "--", "-b"], "a -b", "fts"),
])
def test_after_double_dash_every_word_is_text(argv, text, mode):
    # POSIX: after `--` every word is an operand. argparse's intermixed parsing mishandles `--`
    # (it drops a second one, and `-- --fts` is "text required"), so these cases are checked here
    # rather than against it: the only places where cidx deliberately differs.
    params = parse_query_args(argv)
    assert (params.text, params.mode) == (text, mode)


def test_an_option_value_cannot_be_the_double_dash():
    with pytest.raises(UsageError, match="argument -l/--limit: expected one argument"):
        parse_query_args(["x", "-l", "--", "5"])


def test_unrecognized_lists_the_unknown_options():
    with pytest.raises(UsageError) as err:
        parse_query_args(["a", "-x", "b", "--nope"])
    assert err.value.message == f"{UNRECOGNIZED} -x --nope"


def test_words_may_follow_options():
    assert parse_query_args(["parse", "--fts", "config", "-l", "3", "file"]).text == "parse config file"


def test_help_lists_every_option_and_exits_zero(capsys):
    with pytest.raises(SystemExit) as done:
        parse_query_args(["x", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: cidx query")
    for opt in QUERY_OPTIONS:
        for flag in opt.flags:
            assert flag in text
    assert "{fast,balanced,high}" in text


def test_help_is_the_parser_help(capsys):
    with pytest.raises(SystemExit):
        parse_query_args(["-h"])
    assert capsys.readouterr().out == QUERY_PARSER.format_help()
