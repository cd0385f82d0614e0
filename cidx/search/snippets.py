"""The lines shown under each hit: around the best-matching line, at most N of them."""

from __future__ import annotations

import re


def first_matching_line(text: str, pattern: re.Pattern | None) -> int:
    """0-based line offset of the first match inside the chunk (0 when nothing matches)."""
    if pattern is None:
        return 0
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) if m else 0


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


def terms_pattern(text: str, *, case_sensitive: bool) -> re.Pattern | None:
    terms = [re.escape(t) for t in dict.fromkeys(re.findall(r"\w+", text))]
    if not terms:
        return None
    return re.compile("|".join(terms), 0 if case_sensitive else re.IGNORECASE)
