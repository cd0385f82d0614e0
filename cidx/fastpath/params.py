"""The one typed description of a query: parsed once, used by the CLI, the fast path, the wire and
the search code.

Imports next to nothing (ADR 0009) because the fast client path parses `cidx query ...` with it
before deciding whether to talk to the daemon. The click CLI hands the raw `query` arguments to
`parse_query_args`, so there is no second parser anywhere; cidx/fastpath/argv.py is its engine.
"""

from collections import namedtuple

from cidx.fastpath.argv import ArgvParser, Option
from cidx.fastpath.errors import UsageError

MODES = ("semantic", "fts", "hybrid")
ACCURACY_EF = {"fast": 32, "balanced": 96, "high": 400}
MAX_LIMIT = 1000
MAX_QUERY_CHARS = 10_000
OUTPUT_FORMATS = ("rich", "quiet", "json")


# A namedtuple rather than a dataclass: the fast path imports this module and dataclasses costs
# ~15 ms there (it imports inspect; ADR 0008). Fields, in order:
#   text, mode (semantic|fts|hybrid), limit, languages, exclude_languages, path_filters,
#   exclude_paths, min_score, accuracy, edit_distance (FTS fuzzy; --fuzzy alone means 1),
#   case_sensitive, regex, any_term (FTS: rank chunks holding any of the words, not all; ADR 0013),
#   snippet_lines (0 = paths only), output (rich|quiet|json: rendering only,
#   never changes which hits are found)
_QueryParamsBase = namedtuple(
    "_QueryParamsBase",
    "text mode limit languages exclude_languages path_filters exclude_paths min_score accuracy edit_distance "
    "case_sensitive regex any_term snippet_lines output",
    defaults=("semantic", 10, (), (), (), (), None, "balanced", 0, False, False, False, 3, "rich"),
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
            if self.any_term:
                raise UsageError("--regex cannot be combined with --any-term")
            import re  # only for --regex: `re` costs the fast path ~4 ms

            try:
                re.compile(self.text, 0 if self.case_sensitive else re.IGNORECASE)
            except re.error as exc:
                raise UsageError(f"invalid regex {self.text!r}: {exc}") from None
        if self.mode == "semantic" and (self.edit_distance or self.case_sensitive or self.any_term):
            raise UsageError("--fuzzy, --edit-distance, --case-sensitive and --any-term apply to --fts or --hybrid "
                             "searches")
        return self

    @property
    def ef(self) -> int:
        return max(ACCURACY_EF[self.accuracy], self.limit)

    # The wire carries the fields as one plain tuple (DESIGN.md §3: plain immutable data only), in
    # _fields order; client and daemon agree on that order because the handshake pins the version.
    def to_wire(self) -> tuple:
        return tuple(self)

    @classmethod
    def from_wire(cls, payload) -> "QueryParams":
        """The daemon's side: a peer's tuple, checked field by field before use."""
        if type(payload) is not tuple or len(payload) != len(cls._fields):
            raise UsageError(f"malformed query parameters: expected a tuple of {len(cls._fields)} fields")
        for name, value in zip(cls._fields, payload):
            if not _WIRE_TYPES[name](value):
                raise UsageError(f"malformed query parameters: bad {name} {value!r}"[:200])
        return cls(*payload).validate()


def _is_int(value) -> bool:
    return type(value) is int


def _is_strings(value) -> bool:
    return type(value) is tuple and all(type(item) is str for item in value)


_WIRE_TYPES = {
    "text": lambda v: type(v) is str, "mode": lambda v: type(v) is str, "limit": _is_int,
    "languages": _is_strings, "exclude_languages": _is_strings, "path_filters": _is_strings,
    "exclude_paths": _is_strings, "min_score": lambda v: v is None or type(v) in (int, float),
    "accuracy": lambda v: type(v) is str, "edit_distance": _is_int, "case_sensitive": lambda v: type(v) is bool,
    "regex": lambda v: type(v) is bool, "any_term": lambda v: type(v) is bool, "snippet_lines": _is_int, "output": lambda v: type(v) is str,
}


def _whole_number(name: str):
    def convert(value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{name} expects a whole number, got {value!r}") from None
    return convert


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"--min-score expects a number, got {value!r}") from None


# Every option of `cidx query`, once. `cidx query --help` is generated from this table.
QUERY_OPTIONS = (
    Option(("-h", "--help"), "help", "help", "show this help and exit"),
    Option(("--fts",), "fts", "flag", "full-text search (Tantivy)"),
    Option(("--semantic",), "semantic", "flag", "semantic search (the default; with --fts: hybrid)"),
    Option(("--hybrid",), "hybrid", "flag", "semantic and full-text, fused by reciprocal rank"),
    Option(("-l", "--limit"), "limit", "value", "number of hits (default 10)", "N", _whole_number("--limit")),
    Option(("--language",), "language", "append", "only this language (repeatable)", "LANG"),
    Option(("--exclude-language",), "exclude_language", "append", "skip this language (repeatable)", "LANG"),
    Option(("--path-filter",), "path_filter", "append", "only paths matching this glob (repeatable)", "GLOB"),
    Option(("--exclude-path",), "exclude_path", "append", "skip paths matching this glob (repeatable)", "GLOB"),
    Option(("--min-score",), "min_score", "value", "drop hits scoring below this", "SCORE", _number),
    Option(("--accuracy",), "accuracy", "value", "HNSW search effort (default balanced)", "", None,
           tuple(ACCURACY_EF)),
    Option(("--fuzzy",), "fuzzy", "flag", "FTS: allow one typo per term"),
    Option(("--edit-distance",), "edit_distance", "value", "FTS: typos per term 0-2", "N",
           _whole_number("--edit-distance")),
    Option(("--case-sensitive",), "case_sensitive", "flag", "FTS: match case exactly"),
    Option(("--regex",), "regex", "flag", "FTS: TEXT is a regular expression over the chunk text"),
    Option(("--any-term",), "any_term", "flag", "FTS: rank chunks holding any of the words (BM25), not all"),
    Option(("--snippet-lines",), "snippet_lines", "value", "lines of context (default 3; 0 = paths only)", "N",
           _whole_number("--snippet-lines")),
    Option(("-q", "--quiet"), "quiet", "flag", "print path:line only"),
    Option(("--json",), "json", "flag", "print one JSON document"),
)

QUERY_PARSER = ArgvParser("cidx query", "Search the repository's index.",
                          ("text", "what to search for (the words are joined with spaces)"), QUERY_OPTIONS)


def parse_query_args(argv: list[str]) -> QueryParams:
    """Parse the arguments that follow `cidx query`. Raises UsageError with a one-line message."""
    ns, words = QUERY_PARSER.parse(argv)
    if ns["hybrid"] or (ns["fts"] and ns["semantic"]):
        mode = "hybrid"
    elif ns["fts"]:
        mode = "fts"
    else:
        mode = "semantic"
    if ns["quiet"] and ns["json"]:
        raise UsageError("choose one of --quiet and --json")
    edit_distance = ns["edit_distance"] if ns["edit_distance"] is not None else (1 if ns["fuzzy"] else 0)
    return QueryParams(
        text=" ".join(words),
        mode=mode,
        limit=ns["limit"] if ns["limit"] is not None else 10,
        languages=tuple(ns["language"]),
        exclude_languages=tuple(ns["exclude_language"]),
        path_filters=tuple(ns["path_filter"]),
        exclude_paths=tuple(ns["exclude_path"]),
        min_score=ns["min_score"],
        accuracy=ns["accuracy"] or "balanced",
        edit_distance=edit_distance,
        case_sensitive=ns["case_sensitive"],
        regex=ns["regex"],
        any_term=ns["any_term"],
        snippet_lines=ns["snippet_lines"] if ns["snippet_lines"] is not None else 3,
        output="json" if ns["json"] else ("quiet" if ns["quiet"] else "rich"),
    ).validate()
