"""Printing query results: `--quiet` (path:line), `--json`, or rich text with highlighted snippets.

Only the rich form imports rich, and lazily, so the fast client path stays light.
"""

from __future__ import annotations

import re
import sys

from cidx.params import QueryParams
from cidx.results import QueryResult


def render_plain(result: QueryResult, params: QueryParams, out=None) -> bool:
    """Handle --quiet and --json without rich. Returns False when rich output is wanted."""
    out = out or sys.stdout
    if params.output == "json":
        out.write(result.to_user_json() + "\n")
        return True
    if params.output == "quiet":
        out.write("".join(f"{h.path}:{h.match_line or h.start_line}\n" for h in result.hits))
        return True
    return False


def render_rich(result: QueryResult, params: QueryParams, console=None) -> None:
    from rich.console import Console
    from rich.text import Text

    console = console or Console(highlight=False)
    if not result.hits:
        console.print(f"[yellow]no results[/] for {params.text!r} ({result.mode})")
        return
    pattern = _highlight_pattern(params)
    for rank, hit in enumerate(result.hits, start=1):
        header = Text()
        header.append(f"{rank:>2}. ", style="dim")
        header.append(f"{hit.path}:{hit.match_line or hit.start_line}", style="bold cyan")
        header.append(f"  lines {hit.start_line}-{hit.end_line}", style="dim")
        header.append(f"  score {hit.score:.3f}", style="green")
        header.append(f"  {hit.language} · {hit.source}", style="dim")
        console.print(header)
        if hit.snippet:
            width = len(str(hit.snippet_start_line + hit.snippet.count("\n")))
            for offset, line in enumerate(hit.snippet.split("\n")):
                text = Text(f"    {hit.snippet_start_line + offset:>{width}} │ ", style="dim")
                body = Text(line)
                if pattern is not None:
                    body.highlight_regex(pattern, style="bold yellow")
                text.append_text(body)
                console.print(text, overflow="ellipsis", no_wrap=True)
    console.print(f"[dim]{len(result.hits)} results · {result.mode} · generation {result.generation}[/]")


def _highlight_pattern(params: QueryParams):
    flags = 0 if params.case_sensitive else re.IGNORECASE
    if params.regex:
        return re.compile(params.text, flags)
    if params.mode == "semantic":
        return None
    words = [re.escape(w) for w in re.findall(r"\w+", params.text)]
    return re.compile("|".join(words), flags) if words else None
