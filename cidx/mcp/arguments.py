"""A tool call's JSON arguments -> the one QueryParams (cidx/fastpath/params.py), or a clear UsageError.

The JSON types are checked against the tool's published schema (cidx/mcp/tools.py), then
QueryParams.validate() checks values and combinations exactly as for `cidx query`; its messages
name CLI options (--limit), which are reworded into the tool's argument names (limit).
"""

import re

from cidx.fastpath.errors import UsageError
from cidx.mcp.tools import INDEX_INPUT, SEARCH_INPUT, STATUS_INPUT
from cidx.fastpath.params import QueryParams

_validators: dict = {}


def _check_types(tool: str, schema: dict, arguments) -> dict:
    from jsonschema import Draft202012Validator

    validator = _validators.get(tool)
    if validator is None:
        validator = _validators[tool] = Draft202012Validator(schema)
    arguments = {} if arguments is None else arguments
    error = next(iter(sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))), None)
    if error is not None:
        where = ".".join(str(part) for part in error.path)
        message = f"invalid {tool} arguments: " + (f"{where}: " if where else "") + error.message
        raise UsageError(message if len(message) <= 300 else message[:299] + "…")
    return arguments


def _strings(value) -> tuple:
    return (value,) if isinstance(value, str) else tuple(value or ())


def _in_tool_words(message: str) -> str:
    """'--regex ... use it with --fts' -> 'regex ... use it with mode "fts"'."""
    message = re.sub(r"--(fts|hybrid|semantic)\b", r'mode "\1"', message)
    return re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_"), message)


def search_params(arguments) -> QueryParams:
    args = _check_types("search", SEARCH_INPUT, arguments)
    edit_distance = args.get("edit_distance")
    if edit_distance is None:
        edit_distance = 1 if args.get("fuzzy") else 0
    try:
        return QueryParams(
            text=args["query"],
            mode=args.get("mode", "semantic"),
            limit=int(args.get("limit", 10)),  # int(): JSON may send 5.0, which the schema accepts
            languages=_strings(args.get("language")),
            exclude_languages=_strings(args.get("exclude_language")),
            path_filters=_strings(args.get("path_filter")),
            exclude_paths=_strings(args.get("exclude_path")),
            min_score=args.get("min_score"),
            accuracy=args.get("accuracy", "balanced"),
            edit_distance=int(edit_distance),
            case_sensitive=bool(args.get("case_sensitive", False)),
            regex=bool(args.get("regex", False)),
            any_term=bool(args.get("any_term", False)),
            snippet_lines=int(args.get("snippet_lines", 3)),
            output="json",
        ).validate()
    except UsageError as exc:
        raise UsageError(_in_tool_words(exc.message)) from None


def status_options(arguments) -> dict:
    args = _check_types("status", STATUS_INPUT, arguments)
    return {"verify": bool(args.get("verify", False))}


def index_options(arguments) -> dict:
    args = _check_types("index", INDEX_INPUT, arguments)
    clear, fts_only = bool(args.get("clear", False)), bool(args.get("fts_only", False))
    if clear and fts_only:
        raise UsageError("choose one of clear and fts_only")
    return {"clear": clear, "fts_only": fts_only}
