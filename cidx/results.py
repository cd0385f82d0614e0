"""What a search returns, as plain data that crosses the wire as one JSON string.

Stdlib-only: the fast client path decodes and renders these without importing the search code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Hit:
    path: str  # relative to the repository root, POSIX separators
    start_line: int
    end_line: int
    language: str
    score: float
    source: str  # "semantic", "fts" or "semantic+fts" (hybrid: found by both)
    snippet: str = ""
    snippet_start_line: int = 0
    match_line: int = 0  # the best-matching line (FTS/regex), for `path:line` output


@dataclass(frozen=True)
class QueryResult:
    mode: str
    generation: int
    hits: tuple[Hit, ...] = ()
    timings_ms: dict = field(default_factory=dict)  # phase -> milliseconds, for the perf breakdown

    def to_wire(self) -> str:
        data = asdict(self)
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
