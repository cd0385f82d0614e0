"""Printing query results: `--quiet` (path:line), `--json`, or readable colored text.

Plain ANSI and the standard library only: Rich costs ~60 ms to import, more than a whole warm
daemon query (ADR 0008). Rich still draws the progress bars and status tables, where it pays.
Colors only on a terminal, never when NO_COLOR is set; standalone and daemon print the same bytes.
"""

import os
import sys

BOLD_CYAN, GREEN, DIM, MATCH, YELLOW, RESET = "\033[1;36m", "\033[32m", "\033[2m", "\033[1;33m", "\033[33m", "\033[0m"


def render(result, params, out=None) -> None:
    out = out or sys.stdout
    if params.output == "json":
        out.write(result.to_user_json() + "\n")
    elif params.output == "quiet":
        out.write("".join(f"{h.path}:{h.match_line or h.start_line}\n" for h in result.hits))
    else:
        out.write(format_text(result, params, color=_use_color(out), width=_width(out)))


def _use_color(out) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(out, "isatty") and out.isatty()


def _width(out) -> int | None:
    try:
        columns = os.get_terminal_size(out.fileno()).columns if out.isatty() else 0
        return columns if columns >= 20 else None  # 0 or tiny: a pseudo-terminal without a size
    except (AttributeError, OSError, ValueError):
        return None


def format_text(result, params, *, color: bool, width: int | None) -> str:
    def paint(style: str, text: str) -> str:
        return f"{style}{text}{RESET}" if color else text

    if not result.hits:
        return f"{paint(YELLOW, 'no results')} for {params.text!r} ({result.mode})\n"
    pattern = highlight_pattern(params) if color else None
    lines = []
    for rank, hit in enumerate(result.hits, start=1):
        lines.append(
            paint(DIM, f"{rank:>2}. ") + paint(BOLD_CYAN, f"{hit.path}:{hit.match_line or hit.start_line}")
            + paint(DIM, f"  lines {hit.start_line}-{hit.end_line}") + paint(GREEN, f"  score {hit.score:.3f}")
            + paint(DIM, f"  {hit.language} · {hit.source}"))
        if hit.snippet:
            number_width = len(str(hit.snippet_start_line + hit.snippet.count("\n")))
            for offset, line in enumerate(hit.snippet.split("\n")):
                gutter = f"    {hit.snippet_start_line + offset:>{number_width}} │ "
                if width is not None and len(gutter) + len(line) > width:
                    line = line[:max(0, width - len(gutter) - 1)] + "…"
                if pattern is not None:
                    line = pattern.sub(lambda m: paint(MATCH, m.group(0)), line)
                lines.append(paint(DIM, gutter) + line)
    lines.append(paint(DIM, f"{len(result.hits)} results · {result.mode} · generation {result.generation}"))
    return "\n".join(lines) + "\n"


def highlight_pattern(params):
    import re  # on a terminal only: `re` costs the fast path ~4 ms (ADR 0009)

    flags = 0 if params.case_sensitive else re.IGNORECASE
    if params.regex:
        try:
            return re.compile(params.text, flags)
        except re.error:
            return None
    if params.mode == "semantic":
        return None
    from cidx.fastpath.analysis import terms_pattern  # the words the search matched, identifiers split

    return terms_pattern(params.text, case_sensitive=params.case_sensitive)
