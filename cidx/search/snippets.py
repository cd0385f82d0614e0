"""The lines shown under each hit: around the best-matching line, at most N of them."""

from __future__ import annotations

import re

from cidx.fastpath.analysis import split_identifier, terms_pattern  # noqa: F401 (terms_pattern: re-export)


def first_matching_line(text: str, pattern: re.Pattern | None) -> int:
    """0-based line offset of the first match inside the chunk (0 when nothing matches)."""
    if pattern is None:
        return 0
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) if m else 0


def best_matching_line(text: str, pattern: re.Pattern | None) -> int:
    """0-based offset of the line holding the most distinct query terms (the first such line), 0
    when none does: for `circle area`, the line with circleArea rather than a comment about areas.
    One pass of the pattern over the whole chunk (hybrid builds up to 50 of these per query)."""
    if pattern is None:
        return 0
    covered: dict[int, set[str]] = {}
    line, scanned = 0, 0
    for m in pattern.finditer(text):
        line += text.count("\n", scanned, m.start())
        scanned = m.start()
        found = m.group(0)
        words = covered.setdefault(line, set())
        words.add(found.lower())  # `circleArea` covers circlearea, circle and area
        words.update(part.lower() for part in split_identifier(found))
    best, best_count = 0, 0
    for offset in sorted(covered):
        if len(covered[offset]) > best_count:
            best, best_count = offset, len(covered[offset])
    return best


def make_snippet(text: str, start_line: int, match_offset: int, lines: int) -> tuple[str, int]:
    """(snippet text, its first line number). Semantic hits start at the chunk's first non-blank line."""
    if lines <= 0:
        return "", 0
    all_lines = text.split("\n")
    if match_offset == 0:
        while match_offset < len(all_lines) - 1 and not all_lines[match_offset].strip():
            match_offset += 1
        first = match_offset
    else:
        first = max(0, match_offset - (lines - 1) // 2)
    chosen = all_lines[first:first + lines]
    return "\n".join(chosen), start_line + first
