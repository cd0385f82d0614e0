"""What a search returns, as plain data that crosses the wire as nested tuples.

Imports next to nothing: the fast client path decodes and renders these without importing the
search code, nor even the json package (cidx/fastpath/lightjson.py writes `--json`; ADR 0009).
"""

from collections import namedtuple

from cidx.fastpath import lightjson

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

    # On the wire: (mode, generation, (hit tuple, ...), ((phase, ms), ...)), plain immutable data
    # (DESIGN.md §3), in field order; the version handshake guarantees both sides agree on it.
    def to_wire(self) -> tuple:
        timings = tuple((str(k), float(v)) for k, v in (self.timings_ms or {}).items())
        return (self.mode, self.generation, tuple(tuple(h) for h in self.hits), timings)

    @classmethod
    def from_wire(cls, payload) -> "QueryResult":
        """Raises ValueError when the payload does not have the shape to_wire gives."""
        try:
            mode, generation, hits, timings = payload
            return cls(mode=mode, generation=generation, hits=tuple(Hit(*h) for h in hits),
                       timings_ms=dict(timings))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"malformed query result from the daemon: {exc}") from None

    def to_user_json(self) -> str:
        """The documented `--json` output: stable keys, no timings."""
        return lightjson.dumps(
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
        )
