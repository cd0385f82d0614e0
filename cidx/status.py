"""`cidx status`: what is configured and what is indexed (the daemon section joins later)."""

from __future__ import annotations

import datetime as dt

from cidx.config import Config
from cidx.store import metadata
from cidx.store.layout import IndexLayout


def collect_status(config: Config) -> dict:
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
        })
    return info


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
    else:
        table.add_row("index", "[yellow]not indexed yet[/] (run `cidx index`)")
    table.add_row("daemon", "enabled" if info["daemon_enabled"] else "disabled")
    Console().print(table)
