"""The query options of the spec's RPC interface (`query(project_path, query, limit, **kwargs)` and
friends, docs/clients.md): keyword arguments under the long CLI option names, with `_` for `-`,
turned into the one QueryParams. Types are checked with params.py's own wire-type table and values
by QueryParams.validate(), so a kwarg means exactly what the same CLI option means (ADR 0014).
"""

from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import _WIRE_TYPES, QueryParams

# kwarg (a QUERY_OPTIONS dest) -> QueryParams field
LIST_KWARGS = {"language": "languages", "exclude_language": "exclude_languages",
               "path_filter": "path_filters", "exclude_path": "exclude_paths"}
SCALAR_KWARGS = {"limit": "limit", "min_score": "min_score", "accuracy": "accuracy",
                 "edit_distance": "edit_distance", "case_sensitive": "case_sensitive", "regex": "regex",
                 "any_term": "any_term", "snippet_lines": "snippet_lines"}
KWARGS = tuple(sorted([*LIST_KWARGS, *SCALAR_KWARGS, "fuzzy"]))

_MODE_HINT = ("the method is the mode: query (semantic), query_fts or query_hybrid; "
              "drop the {name} option")
# CLI options that are no query options here, each with the reason given to the caller.
NOT_KWARGS = {
    "help": "help is not an option of the RPC interface; see docs/clients.md",
    "fts": _MODE_HINT, "semantic": _MODE_HINT, "hybrid": _MODE_HINT,
    "quiet": "the reply is always one JSON document (the CLI's --json); drop the {name} option",
    "json": "the reply is always one JSON document (the CLI's --json); drop the {name} option",
}
_EXPECTED = {"limit": "a whole number (int)", "min_score": "a number or None", "accuracy": "a string",
             "edit_distance": "a whole number (int)", "case_sensitive": "True or False",
             "regex": "True or False", "any_term": "True or False", "snippet_lines": "a whole number (int)"}
MAX_LIST_ITEMS = 100


def _show(value) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _strings(name: str, value, read_remote) -> tuple:
    """A str, or a tuple/list of str; `read_remote(value, most)` reads a sequence held by the
    caller (an rpyc netref to its list) into a tuple, or returns None for anything else."""
    if type(value) is str:
        items = (value,)
    elif type(value) in (tuple, list):
        items = tuple(value)
    else:
        items = read_remote(value, MAX_LIST_ITEMS) if read_remote is not None else None
        if items is None:
            raise UsageError(f"{name} must be a string or a list/tuple of strings; got {type(value).__name__}")
    if len(items) > MAX_LIST_ITEMS:
        raise UsageError(f"{name}: at most {MAX_LIST_ITEMS} values (got {len(items)})")
    if not _WIRE_TYPES[LIST_KWARGS[name]](items):
        raise UsageError(f"{name} must be a string or a list/tuple of strings; got {_show(items)}")
    return items


def params_from_kwargs(text, mode: str, kwargs: dict, *, read_remote=None) -> QueryParams:
    """QueryParams for a spec method (`mode` comes from the method), output "json": the reply is
    the document `cidx query ... --json` prints. Raises UsageError with one clear line."""
    if not _WIRE_TYPES["text"](text):
        raise UsageError(f"the query must be a string (got {type(text).__name__})")
    fields = {"text": text, "mode": mode, "output": "json"}
    fuzzy = False
    for name, value in kwargs.items():
        if name in LIST_KWARGS:
            fields[LIST_KWARGS[name]] = _strings(name, value, read_remote)
        elif name in SCALAR_KWARGS:
            if not _WIRE_TYPES[SCALAR_KWARGS[name]](value):
                raise UsageError(f"{name} must be {_EXPECTED[name]}; got {_show(value)}")
            fields[SCALAR_KWARGS[name]] = value
        elif name == "fuzzy":
            if type(value) is not bool:
                raise UsageError(f"fuzzy must be True or False; got {_show(value)}")
            fuzzy = value
        elif name in NOT_KWARGS:
            raise UsageError(NOT_KWARGS[name].format(name=name))
        else:
            raise UsageError(f"unknown option {name!r}; the options are: {', '.join(KWARGS)}"[:300])
    if fuzzy and "edit_distance" not in fields:
        fields["edit_distance"] = 1  # as `--fuzzy` alone on the command line
    return QueryParams(**fields).validate()
