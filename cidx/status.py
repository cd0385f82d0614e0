"""`cidx status`: what is configured and what is indexed (the daemon section joins later)."""

from __future__ import annotations

import datetime as dt
import json

from cidx.config import Config
from cidx.store import metadata
from cidx.store.layout import IndexLayout


def collect_status(config: Config, *, verify: bool = False) -> dict:
    layout = IndexLayout(config.index_dir)
    info = {
        "config": str(config.config_path),
        "root": str(config.root),
        "provider": config.embedding.provider,
        "model": config.embedding.model,
        "daemon_enabled": config.daemon.enabled,
        "indexed": False,
    }
    if layout.exists():
        conn = metadata.connect(layout.sqlite_path)
        try:
            state = metadata.get_state(conn)
            files, chunks = metadata.count_rows(conn)
        finally:
            conn.close()
        generation = int(state.get("generation", 0))
        info.update({
            "indexed": generation > 0,
            "generation": generation,
            "files": files,
            "chunks": chunks,
            "index_model": state.get("model"),
            "disk_bytes": layout.disk_bytes(),
            "last_index_time": float(state["last_index_time"]) if "last_index_time" in state else None,
            "skipped": _skip_counts(state.get("skipped")),
        })
        if verify:
            from cidx.fastpath.errors import CidxError
            from cidx.store.check import verify_index

            try:
                info["problems"] = verify_index(layout)
            except CidxError as exc:  # a damaged store is a finding, not a failure of `status`
                info["problems"] = [exc.message]
    if config.daemon.enabled:
        from cidx.client.control import daemon_status
        from cidx.fastpath.socket_path import log_path, socket_path

        info["daemon"] = daemon_status(config)
        info["daemon_socket"] = str(socket_path(config.config_dir))
        info["daemon_log"] = str(log_path(config.config_dir))
    return info


def _skip_counts(raw: str | None) -> dict[str, int] | None:
    """The last run's skip counts by reason (written by the indexer); None before the first run."""
    try:
        counts = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
        return None
    return counts


def describe_skips(counts: dict[str, int]) -> str:
    if not counts:
        return "nothing skipped at the last index"
    parts = " · ".join(f"{reason} {n}" for reason, n in sorted(counts.items(), key=lambda i: (-i[1], i[0])))
    return f"{sum(counts.values())} files at the last index: {parts} (`cidx index --dry-run -v` lists them)"


def print_status(info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("config", info["config"])
    table.add_row("repository", info["root"])
    table.add_row("embedding", f"{info['provider']} · {info['model']}")
    if info["indexed"]:
        when = dt.datetime.fromtimestamp(info["last_index_time"]).strftime("%Y-%m-%d %H:%M:%S") \
            if info["last_index_time"] else "unknown"
        table.add_row("index", f"generation {info['generation']} · {info['files']} files · {info['chunks']} chunks")
        table.add_row("index model", str(info["index_model"]))
        table.add_row("index size", f"{info['disk_bytes'] / 1e6:.1f} MB on disk")
        table.add_row("last indexed", when)
        if info.get("skipped") is not None:
            table.add_row("skipped", describe_skips(info["skipped"]))
    else:
        table.add_row("index", "[yellow]not indexed yet[/] (run `cidx index`)")
    if "problems" in info:
        table.add_row("consistency", "[green]ok[/]" if not info["problems"] else "[red]" + "; ".join(info["problems"]))
    if not info["daemon_enabled"]:
        table.add_row("daemon", "disabled (enable with `cidx config --daemon`)")
    elif (info.get("daemon") or {}).get("hung"):
        table.add_row("daemon", "[red]not answering[/]: a process accepts connections on the socket but does not "
                                f"reply (stopped or stuck?) · socket {info['daemon_socket']} · see the log")
    elif info.get("daemon") is None:
        table.add_row("daemon", f"enabled, not running (starts on the next query) · socket {info['daemon_socket']}")
    else:
        d = info["daemon"]
        ttl = "-" if d["ttl_left_s"] is None else f"{d['ttl_left_s']:.0f}s"
        table.add_row("daemon", f"[green]running[/] pid {d['pid']} · up {d['uptime_s']:.0f}s · cache {d['cache_state']}"
                                f" · TTL left {ttl} of {d['ttl_minutes']:g} min")
        table.add_row("daemon memory", f"{d['rss_bytes'] / 1e6:.0f} MB RSS")
        table.add_row("daemon queries", f"{d['queries']} served · {d['cache_hits']} cache hits · "
                                        f"{d['cache_misses']} misses · {d['query_errors']} errors")
        if d["indexing"]:
            table.add_row("daemon indexing", str(d["index_progress"]))
        w = d.get("watch")
        table.add_row("watch", "off" if w is None else
                      f"on · debounce {w['debounce_s']:g}s · {w['runs']} re-index runs"
                      + (" · change pending" if w["pending"] else "")
                      + (f" · last error: {w['last_error']}" if w["last_error"] else ""))
        table.add_row("daemon socket", d["socket"])
    if info["daemon_enabled"]:
        table.add_row("daemon log", info["daemon_log"])
    Console().print(table)
