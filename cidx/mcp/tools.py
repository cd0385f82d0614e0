"""The three tools the MCP server offers, as plain JSON Schema: what agents read to call them.

Types and enums only; ranges and combinations (limit 1-1000, --regex only with fts, ...) are
checked by the one QueryParams (cidx/fastpath/params.py), whose messages are clearer than a schema's.
"""

from cidx.fastpath.params import ACCURACY_EF, MAX_LIMIT, MODES

def _strings(description: str) -> dict:
    # a string or a list: agents often pass one language as a plain string
    return {"type": ["string", "array"], "items": {"type": "string"},
            "description": f"{description} (a string or a list of strings)"}


SEARCH_INPUT = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "what to search for: a description of the code (semantic), "
                                                   "words or identifiers (fts), or a regex (fts with regex)"},
        "mode": {"type": "string", "enum": list(MODES), "default": "semantic",
                 "description": "semantic (meaning), fts (full text: all terms must match) or hybrid (both, fused)"},
        "limit": {"type": "integer", "default": 10, "description": f"number of results, 1-{MAX_LIMIT}"},
        "language": _strings("only these languages, e.g. python"),
        "exclude_language": _strings("skip these languages"),
        "path_filter": _strings("only paths matching these globs, e.g. src/*"),
        "exclude_path": _strings("skip paths matching these globs"),
        "min_score": {"type": "number", "description": "drop results scoring below this"},
        "accuracy": {"type": "string", "enum": list(ACCURACY_EF), "default": "balanced",
                     "description": "semantic search effort"},
        "case_sensitive": {"type": "boolean", "default": False, "description": "fts/hybrid: match case exactly"},
        "fuzzy": {"type": "boolean", "default": False, "description": "fts/hybrid: allow one typo per term"},
        "edit_distance": {"type": "integer", "description": "fts/hybrid: typos allowed per term, 0-2"},
        "any_term": {"type": "boolean", "default": False,
                     "description": "fts: rank chunks holding any of the words (BM25), not all of them"},
        "regex": {"type": "boolean", "default": False,
                  "description": "fts only: the query is a regular expression over the code"},
        "snippet_lines": {"type": "integer", "default": 3,
                          "description": "lines of code per result, 0-200 (0: locations only)"},
    },
    "required": ["query"],
    "additionalProperties": False,
}

_HIT = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "relative to the repository root"},
        "start_line": {"type": "integer"},
        "end_line": {"type": "integer"},
        "match_line": {"type": "integer", "description": "the best-matching line"},
        "language": {"type": "string"},
        "score": {"type": "number"},
        "source": {"type": "string", "description": "semantic, fts or semantic+fts"},
        "snippet": {"type": "string"},
        "snippet_start_line": {"type": "integer"},
    },
    "required": ["path", "start_line", "end_line", "match_line", "language", "score", "source", "snippet"],
}

_VIA = {
    "via_daemon": {"type": "boolean", "description": "false: the daemon was unavailable and cidx ran in-process"},
    "fallback_reason": {"type": ["string", "null"]},
}

SEARCH_OUTPUT = {
    "type": "object",
    "properties": {
        "results": {"type": "array", "items": _HIT},
        "query": {"type": "string"},
        "mode": {"type": "string"},
        "generation": {"type": ["integer", "null"], "description": "the index generation that answered"},
        **_VIA,
    },
    "required": ["results", "query", "mode", "generation", "via_daemon"],
}

STATUS_INPUT = {
    "type": "object",
    "properties": {"verify": {"type": "boolean", "default": False,
                              "description": "also check that the index's stores agree"}},
    "additionalProperties": False,
}

STATUS_OUTPUT = {
    "type": "object",
    "properties": {
        "root": {"type": "string"},
        "config": {"type": "string"},
        "provider": {"type": "string"},
        "model": {"type": "string"},
        "indexed": {"type": "boolean"},
        "generation": {"type": "integer"},
        "files": {"type": "integer"},
        "chunks": {"type": "integer"},
        "last_index_time": {"type": ["number", "null"]},
        "daemon_enabled": {"type": "boolean"},
        "daemon": {"type": ["object", "null"],
                   "description": "the running daemon's status; null when none runs; {hung: true} when stuck"},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["root", "config", "indexed", "daemon_enabled"],
}

INDEX_INPUT = {
    "type": "object",
    "properties": {
        "clear": {"type": "boolean", "default": False, "description": "rebuild everything from scratch"},
        "fts_only": {"type": "boolean", "default": False, "description": "rebuild only the full-text index"},
    },
    "additionalProperties": False,
}

INDEX_OUTPUT = {
    "type": "object",
    "properties": {
        "generation": {"type": "integer"},
        "files_total": {"type": "integer"},
        "files_indexed": {"type": "integer"},
        "files_unchanged": {"type": "integer"},
        "files_removed": {"type": "integer"},
        "chunks_indexed": {"type": "integer"},
        "chunks_embedded": {"type": "integer"},
        "chunks_cached": {"type": "integer"},
        "seconds": {"type": "number"},
        **_VIA,
    },
    "required": ["generation", "files_total", "files_indexed", "via_daemon"],
}

# name -> (description, input schema, output schema)
TOOLS = {
    "search": ("Search this repository's code index: semantic (by meaning), fts (full text, identifiers, "
               "regex) or hybrid. Returns ranked code locations with snippets.", SEARCH_INPUT, SEARCH_OUTPUT),
    "status": ("The repository's index (generation, files, chunks, last indexed) and daemon state.",
               STATUS_INPUT, STATUS_OUTPUT),
    "index": ("Build or update the index (incremental by default); reports progress when the call asks for it.",
              INDEX_INPUT, INDEX_OUTPUT),
}
