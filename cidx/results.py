"""What a search returns, as plain data that crosses the wire as one JSON string.

Stdlib-only: the fast client path decodes and renders these without importing the search code.
"""

from __future__ import annotations

import json
from collections import namedtuple

# namedtuples, not dataclasses: the fast path decodes these and dataclasses would cost ~15 ms there.
# Hit: path (relative to the repository root, POSIX separators), start_line, end_line, language,
# score, source ("semantic", "fts" or "semantic+fts"), snippet, snippet_start_line, match_line (the
# best-matching line, for `path:line` output).
Hit = namedtuple("Hit", "path start_line end_line language score source snippet snippet_start_line match_line",
                 defaults=("", 0, 0))

_QueryResultBase = namedtuple("_QueryResultBase", "mode generation hits timings_ms", defaults=((), None))


class QueryResult(_QueryResultBase):
    """mode, generation, hits (tuple of Hit), timings_ms (phase -> milliseconds, for the breakdown)."""

    __slots__ = ()

    def to_wire(self) -> str:
        data = self._asdict()
        data["hits"] = [h._asdict() for h in self.hits]
        data["timings_ms"] = self.timings_ms or {}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_wire(cls, payload: str) -> "QueryResult":
        data = json.loads(payload)
        hits = tuple(Hit(**h) for h in data.pop("hits"))
        return cls(hits=hits, **data)

    def to_user_json(self) -> str:
        """The documented `--json` output: stable keys, no timings."""
        return json.dumps(
            {
                "mode": self.mode,
                "generation": self.generation,
                "hits": [
                    {
                        "path": h.path,
                        "start_line": h.start_line,
                        "end_line": h.end_line,
                        "line": h.match_line or h.start_line,
                        "language": h.language,
                        "score": round(h.score, 6),
                        "source": h.source,
                        "snippet": h.snippet,
                    }
                    for h in self.hits
                ],
            },
            indent=2,
        )
