"""Split a file's text into overlapping, line-addressed chunks sized for MiniLM.

Why these sizes: see docs/adr/0002-chunking.md. In short, all-MiniLM-L6-v2 reads at most 256 tokens
(254 after [CLS]/[SEP]) and its WordPiece tokenizer averages ~3.6 characters per token on Python
(~2.7 on C), so 800 characters keeps ~90% of Python chunks wholly inside the window, and the
overlap re-embeds most truncated tails (1,000 characters would lose 3.5x as many lines).

Line numbers are what an editor or `grep -n` shows: lines end at LF only (CRLF counts as LF; a lone
CR, form feed or U+2028 is *not* a break, unlike `str.splitlines`, which would shift every later line).
Pure and deterministic: the same text and limits always give the same chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_CHARS = 800
DEFAULT_MAX_LINES = 40
DEFAULT_OVERLAP_LINES = 5
# Recorded in the index: when it changes, every chunk hash changes and indexing starts over.
CHUNKING_ID = f"v1:{DEFAULT_MAX_CHARS}c/{DEFAULT_MAX_LINES}l/{DEFAULT_OVERLAP_LINES}o"

_CLOSERS = ")]}"  # a line starting with one of these ends a block: never start a chunk there


@dataclass(frozen=True)
class Chunk:
    start_line: int  # 1-based, inclusive
    end_line: int  # inclusive
    text: str  # lines start_line..end_line joined by "\n" (no trailing newline), or a slice of one long line
    # Where the chunk lives, for the embedded header only (never shown, never full-text indexed):
    # enclosing definitions outermost first (e.g. "class Foo", "def bar"), and for a later piece of
    # a split definition its signature line.
    context: tuple[str, ...] = ()
    signature: str = ""


def split_lines(text: str) -> list[str]:
    """The file's lines, numbered from index 0 = line 1 (BOM stripped, CRLF -> LF, split on LF only)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return lines


def chunk_text(
    text: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_lines: int = DEFAULT_MAX_LINES,
    overlap_lines: int = DEFAULT_OVERLAP_LINES,
) -> list[Chunk]:
    """Chunks covering every non-blank line, each at most max_chars characters and max_lines lines.

    Consecutive chunks share up to `overlap_lines` lines so a match that spans a cut is still found,
    except where the cut falls at a blank line before a new block (a natural boundary). A line longer
    than max_chars is sliced into pieces that all carry its line number. Whitespace-only chunks are
    dropped: they carry no content and would only add a meaningless vector.
    """
    if max_chars < 1 or max_lines < 1 or overlap_lines < 0:
        raise ValueError(f"need max_chars >= 1, max_lines >= 1, overlap_lines >= 0; got "
                         f"{max_chars}, {max_lines}, {overlap_lines}")
    lines = split_lines(text)
    n = len(lines)
    out: list[Chunk] = []
    i = 0
    while i < n:
        if len(lines[i]) > max_chars:
            _split_long_line(lines[i], i + 1, max_chars, out)
            i += 1  # no overlap into or out of a minified line: its neighbours gain nothing from it
            continue
        j = _window_end(lines, i, max_chars, max_lines)
        cut_by_size = j < n and len(lines[j]) <= max_chars
        natural = _natural_cut(lines, i, j) if cut_by_size else None
        if natural is not None:
            j = natural
        _emit(lines, i, j, out)
        if not cut_by_size or natural is not None:
            i = j
        else:
            i = j - _overlap(lines, i, j, overlap_lines, max_chars, max_lines)
    return out


def _emit(lines: list[str], i: int, j: int, out: list[Chunk]) -> None:
    body = "\n".join(lines[i:j])
    if body.strip():
        out.append(Chunk(i + 1, j, body))


def _window_end(lines: list[str], i: int, max_chars: int, max_lines: int) -> int:
    """Exclusive end of the longest run of whole lines from i that fits both limits (at least one)."""
    n = len(lines)
    size = len(lines[i])
    j = i + 1
    while j < n and j - i < max_lines:
        grown = size + 1 + len(lines[j])  # +1 for the joining newline
        if grown > max_chars:
            break
        size = grown
        j += 1
    return j


def _natural_cut(lines: list[str], i: int, j: int) -> int | None:
    """Where in the back half of window [i, j) a new block starts after a blank line, if anywhere.

    Cutting there makes the next chunk begin with a definition's signature (the most telling part for
    embedding) instead of mid-body. Prefers the least-indented candidate, then the latest. Cheap: one
    backward scan over at most half a window.
    """
    best, best_indent = None, None
    for k in range(j, max(i + 1, i + (j - i + 1) // 2) - 1, -1):
        if k >= len(lines) or lines[k - 1].strip():
            continue
        line = lines[k]
        stripped = line.lstrip()
        if not stripped or stripped[0] in _CLOSERS:
            continue
        indent = len(line) - len(stripped)
        if best_indent is None or indent < best_indent:
            best, best_indent = k, indent
            if indent == 0:
                break  # the latest top-level start: cannot do better
    return best


def _overlap(lines: list[str], i: int, j: int, overlap: int, max_chars: int, max_lines: int) -> int:
    """How many lines before j the next window may repeat, so that it still reaches line j.

    At most `overlap`, at most half the window (tiny windows would otherwise double every line), and
    few enough that the repeated lines plus line j fit max_chars and max_lines, which guarantees every
    chunk brings at least one new line.
    """
    limit = min(overlap, (j - i) // 2, max_lines - 1)
    size = len(lines[j])
    k = 0
    while k < limit:
        grown = size + 1 + len(lines[j - k - 1])
        if grown > max_chars:
            break
        size = grown
        k += 1
    return k


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _soft_cut(line: str, pos: int, end: int) -> int:
    """A cut in (pos, end] that avoids splitting an identifier: after whitespace, else between a word
    and punctuation, else exactly at end. Searches only the last quarter so pieces stay large."""
    lo = max(pos + 1, end - (end - pos) // 4)
    for p in range(end, lo - 1, -1):
        if line[p - 1].isspace():
            return p
    for p in range(end, lo - 1, -1):
        if not (_is_word(line[p - 1]) and _is_word(line[p])):
            return p
    return end


def _split_long_line(line: str, line_no: int, max_chars: int, out: list[Chunk]) -> None:
    pos = 0
    while pos < len(line):
        end = pos + max_chars
        cut = len(line) if end >= len(line) else _soft_cut(line, pos, end)
        piece = line[pos:cut]
        if piece.strip():
            out.append(Chunk(line_no, line_no, piece))
        pos = cut
