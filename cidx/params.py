"""The one typed description of a query: parsed once, used by the CLI, the fast path, the wire and
the search code.

Stdlib-only (argparse, json) because the fast client path parses `cidx query ...` with it before
deciding whether to talk to the daemon. The click CLI hands the raw `query` arguments to
`parse_query_args`, so there is no second parser anywhere.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import namedtuple

from cidx.errors import UsageError

MODES = ("semantic", "fts", "hybrid")
ACCURACY_EF = {"fast": 32, "balanced": 96, "high": 400}
MAX_LIMIT = 1000
MAX_QUERY_CHARS = 10_000
OUTPUT_FORMATS = ("rich", "quiet", "json")


# An immutable record built on namedtuple rather than a dataclass: the fast path imports this module
# and dataclasses costs ~15 ms there (it imports inspect). Fields, in order:
#   text, mode (semantic|fts|hybrid), limit, languages, exclude_languages, path_filters,
#   exclude_paths, min_score, accuracy, edit_distance (FTS fuzzy; --fuzzy alone means 1),
#   case_sensitive, regex, snippet_lines (0 = paths only), output (rich|quiet|json: rendering only,
#   never changes which hits are found)
_QueryParamsBase = namedtuple(
    "_QueryParamsBase",
    "text mode limit languages exclude_languages path_filters exclude_paths min_score accuracy edit_distance "
    "case_sensitive regex snippet_lines output",
    defaults=("semantic", 10, (), (), (), (), None, "balanced", 0, False, False, 3, "rich"),
)


class QueryParams(_QueryParamsBase):
    __slots__ = ()

    def validate(self) -> "QueryParams":
        if not self.text.strip():
            raise UsageError("empty query: give the text to search for, e.g. `cidx query \"parse config\"`")
        try:
            self.text.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError("the query is not valid UTF-8 (is the terminal's locale UTF-8?)") from None
        if len(self.text) > MAX_QUERY_CHARS:
            raise UsageError(f"query too long ({len(self.text)} characters; at most {MAX_QUERY_CHARS})")
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}; one of {', '.join(MODES)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise UsageError(f"--limit must be between 1 and {MAX_LIMIT} (got {self.limit})")
        if self.accuracy not in ACCURACY_EF:
            raise UsageError(f"--accuracy must be one of {', '.join(ACCURACY_EF)} (got {self.accuracy!r})")
        if not 0 <= self.edit_distance <= 2:
            raise UsageError(f"--edit-distance must be 0, 1 or 2 (got {self.edit_distance})")
        if not 0 <= self.snippet_lines <= 200:
            raise UsageError(f"--snippet-lines must be between 0 and 200 (got {self.snippet_lines})")
        if self.output not in OUTPUT_FORMATS:
            raise UsageError(f"unknown output format {self.output!r}")
        if self.min_score is not None and self.min_score != self.min_score:
            raise UsageError("--min-score must be a number")
        if self.regex:
            if self.mode != "fts":
                raise UsageError("--regex is a full-text search option: use it with --fts")
            if self.edit_distance:
                raise UsageError("--regex cannot be combined with --fuzzy/--edit-distance")
            try:
                re.compile(self.text, 0 if self.case_sensitive else re.IGNORECASE)
            except re.error as exc:
                raise UsageError(f"invalid regex {self.text!r}: {exc}") from None
        if self.mode == "semantic" and (self.edit_distance or self.case_sensitive):
            raise UsageError("--fuzzy, --edit-distance and --case-sensitive apply to --fts or --hybrid searches")
        return self

    @property
    def ef(self) -> int:
        return max(ACCURACY_EF[self.accuracy], self.limit)

    # The wire carries one JSON string (DESIGN.md §3: plain immutable data only).
    def to_wire(self) -> str:
        return json.dumps(self._asdict(), separators=(",", ":"))

    @classmethod
    def from_wire(cls, payload: str) -> "QueryParams":
        try:
            data = json.loads(payload)
            names = set(cls._fields)
            if not isinstance(data, dict) or not set(data) <= names:
                raise ValueError("unexpected fields")
            for key in ("languages", "exclude_languages", "path_filters", "exclude_paths"):
                if key in data:
                    data[key] = tuple(str(x) for x in data[key])
            return cls(**data).validate()
        except (ValueError, TypeError) as exc:
            raise UsageError(f"malformed query parameters: {exc}") from None


class _RaisingParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str):
        raise UsageError(f"cidx query: {message}")


def _int_arg(name: str):
    def convert(value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} expects a whole number, got {value!r}") from None
    return convert


def _float_arg(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--min-score expects a number, got {value!r}") from None


def build_query_parser() -> argparse.ArgumentParser:
    p = _RaisingParser(prog="cidx query", description="Search the repository's index.", add_help=True)
    p.add_argument("text", nargs="+", help="what to search for")
    p.add_argument("--fts", action="store_true", help="full-text search (Tantivy)")
    p.add_argument("--semantic", action="store_true", help="semantic search (the default; with --fts: hybrid)")
    p.add_argument("--hybrid", action="store_true", help="semantic and full-text, fused by reciprocal rank")
    p.add_argument("-l", "--limit", type=_int_arg("--limit"), default=10, help="number of hits (default 10)")
    p.add_argument("--language", action="append", default=[], help="only this language (repeatable)")
    p.add_argument("--exclude-language", action="append", default=[], help="skip this language (repeatable)")
    p.add_argument("--path-filter", action="append", default=[], help="only paths matching this glob (repeatable)")
    p.add_argument("--exclude-path", action="append", default=[], help="skip paths matching this glob (repeatable)")
    p.add_argument("--min-score", type=_float_arg, default=None, help="drop hits scoring below this")
    p.add_argument("--accuracy", choices=tuple(ACCURACY_EF), default="balanced", help="HNSW search effort")
    p.add_argument("--fuzzy", action="store_true", help="FTS: allow one typo per term")
    p.add_argument("--edit-distance", type=_int_arg("--edit-distance"), default=None, help="FTS: typos per term 0-2")
    p.add_argument("--case-sensitive", action="store_true", help="FTS: match case exactly")
    p.add_argument("--regex", action="store_true", help="FTS: TEXT is a regular expression over the chunk text")
    p.add_argument("--snippet-lines", type=_int_arg("--snippet-lines"), default=3, help="lines of context (0 = paths only)")
    p.add_argument("-q", "--quiet", action="store_true", help="print path:line only")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def parse_query_args(argv: list[str]) -> QueryParams:
    """Parse the arguments that follow `cidx query`. Raises UsageError with a one-line message."""
    ns = build_query_parser().parse_args(argv)
    if ns.hybrid or (ns.fts and ns.semantic):
        mode = "hybrid"
    elif ns.fts:
        mode = "fts"
    else:
        mode = "semantic"
    if ns.quiet and ns.json:
        raise UsageError("choose one of --quiet and --json")
    edit_distance = ns.edit_distance if ns.edit_distance is not None else (1 if ns.fuzzy else 0)
    return QueryParams(
        text=" ".join(ns.text),
        mode=mode,
        limit=ns.limit,
        languages=tuple(ns.language),
        exclude_languages=tuple(ns.exclude_language),
        path_filters=tuple(ns.path_filter),
        exclude_paths=tuple(ns.exclude_path),
        min_score=ns.min_score,
        accuracy=ns.accuracy,
        edit_distance=edit_distance,
        case_sensitive=ns.case_sensitive,
        regex=ns.regex,
        snippet_lines=ns.snippet_lines,
        output="json" if ns.json else ("quiet" if ns.quiet else "rich"),
    ).validate()
