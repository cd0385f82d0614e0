"""What each tool does, as plain synchronous functions over the CLI's own client code: the same
daemon path with auto-start, retries, restart and fallback as `cidx query` / `cidx status` /
`cidx index`. No MCP here: each returns (structured result, short text) for cidx/mcp/server.py.

Anything the client code prints (the fallback notice, a progress bar) goes to stderr; while the
server runs, the SDK also points fd 1 at stderr, so nothing stray can reach the MCP stream.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from cidx.config import Config, find_config_upward, load_config
from cidx.fastpath.errors import ConfigError
from cidx.fastpath.params import QueryParams


def _load(start: Path) -> Config:
    path = find_config_upward(start)
    if path is None:
        raise ConfigError(f"no .code-indexer/config.json in {start} or any parent directory; run "
                          "`cidx init --daemon` and `cidx index` in the repository, or start `cidx mcp --repo DIR`")
    return load_config(path)


def _use_daemon() -> bool:
    return os.environ.get("CIDX_NO_DAEMON") != "1"


def search(start: Path, params: QueryParams) -> tuple[dict, str]:
    from cidx.fastpath.config import read_fast_config
    from cidx.fastpath.render import format_text

    # The same choice cidx/entry.py makes for `cidx query`: the daemon when the config enables it
    # (and plainly valid), else in-process through the full config, which reports what is wrong.
    fast = read_fast_config(str(start)) if _use_daemon() else None
    if fast is not None:
        from cidx.fastpath import query as fast_query

        result, fallback = fast_query.search(fast, params)
    else:
        from cidx.services import run_query_standalone

        result, fallback = run_query_standalone(_load(start), params), None
    structured = {
        "query": params.text,
        "mode": result.mode,
        "generation": result.generation,
        "results": [{"path": h.path, "start_line": h.start_line, "end_line": h.end_line,
                     "match_line": h.match_line or h.start_line, "language": h.language,
                     "score": round(float(h.score), 6), "source": h.source, "snippet": h.snippet,
                     "snippet_start_line": h.snippet_start_line} for h in result.hits],
        "via_daemon": fast is not None and fallback is None,
        "fallback_reason": fallback,
    }
    text = format_text(result, params, color=False, width=None)
    return structured, text + _fallback_line(fallback)


def _fallback_line(reason: str | None) -> str:
    return f"(daemon unavailable: {reason}; ran in-process)\n" if reason else ""


def status(start: Path, *, verify: bool = False) -> tuple[dict, str]:
    from cidx.status import collect_status

    info = collect_status(_load(start), verify=verify)
    lines = [f"repository {info['root']}"]
    if info["indexed"]:
        lines.append(f"index: generation {info['generation']} · {info['files']} files · {info['chunks']} chunks")
    else:
        lines.append("index: not indexed yet (call the index tool)")
    if "problems" in info:
        lines.append("consistency: " + ("ok" if not info["problems"] else "; ".join(info["problems"])))
    daemon = info.get("daemon")
    if not info["daemon_enabled"]:
        lines.append("daemon: disabled (searches run in-process)")
    elif daemon is None:
        lines.append("daemon: enabled, not running (starts on the next search)")
    elif daemon.get("hung"):
        lines.append(f"daemon: not answering; see {info['daemon_log']}")
    else:
        lines.append(f"daemon: running pid {daemon['pid']} · cache {daemon['cache_state']} · "
                     f"{daemon['queries']} queries served")
    return info, "\n".join(lines) + "\n"


def index(start: Path, *, clear: bool, fts_only: bool,
          progress: Callable[[object], None] | None = None) -> tuple[dict, str]:
    """The same choice as `cidx index` (cidx/cli.py): the daemon when enabled, else in-process."""
    config = _load(start)
    summary = fallback = None
    via_daemon = False
    if config.daemon.enabled and _use_daemon():
        from cidx.client.daemon_index import index_in_daemon

        summary, fallback = index_in_daemon(config, clear=clear, fts_only=fts_only, progress=progress)
        via_daemon = summary is not None
    if summary is None:
        from cidx.indexer import run_index
        from cidx.services import make_embedder

        summary = run_index(config, make_embedder(config), clear=clear, fts_only=fts_only, progress=progress)
    structured = dict(summary.__dict__, via_daemon=via_daemon, fallback_reason=fallback)
    if fts_only:
        text = f"rebuilt the full-text index · generation {summary.generation}\n"
    else:
        text = (f"indexed {summary.files_indexed} files ({summary.chunks_indexed} chunks; "
                f"{summary.chunks_embedded} embedded, {summary.chunks_cached} from cache), "
                f"{summary.files_unchanged} unchanged, {summary.files_removed} removed · "
                f"{summary.files_total} files in the repository · generation {summary.generation} · "
                f"{summary.seconds:.1f}s\n")
    return structured, text + _fallback_line(fallback)
