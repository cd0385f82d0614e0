"""`cidx watch`: in the daemon when it is enabled (returns at once), else in the foreground."""

from __future__ import annotations

import json
import sys
import time

from cidx.client.connection import DaemonConnection
from cidx.fastpath.delegate import fallback_notice, run_via_daemon
from cidx.indexer import run_index
from cidx.services import make_embedder
from cidx.watch import Watcher, snapshot


def watch_in_daemon(config, debounce: float) -> bool:
    outcome = run_via_daemon(config, lambda conn: conn.call("watch", str(config.root), float(debounce)),
                             connection_class=DaemonConnection)
    if not outcome.via_daemon:
        print(fallback_notice(config, outcome.fallback_reason), file=sys.stderr)
        return False
    state = json.loads(outcome.value)
    print(f"watching {config.root} in the daemon (debounce {state['debounce_s']:g}s); "
          "stop with `cidx watch --stop`", file=sys.stderr)
    return True


def stop_watch_in_daemon(config) -> bool | None:
    """True: stopped; False: it was not watching; None: no daemon."""
    from cidx.fastpath.socket_path import socket_path
    from cidx.lifecycle import ConnectionFailure

    try:
        conn = DaemonConnection(socket_path(config.config_dir), call_timeout=10)
    except ConnectionFailure:
        return None
    try:
        return bool(conn.call("watch_stop"))
    finally:
        conn.close()


def watch_foreground(config, debounce: float) -> None:
    embedder = make_embedder(config)

    def reindex():
        summary = run_index(config, embedder, lock_wait_seconds=30)
        print(f"{time.strftime('%H:%M:%S')} re-indexed {summary.files_indexed} files, removed "
              f"{summary.files_removed} · generation {summary.generation}", file=sys.stderr)

    watcher = Watcher(lambda: snapshot(config), reindex, debounce_seconds=debounce,
                      on_error=lambda exc: print(f"cidx: watch: {exc}", file=sys.stderr))
    print(f"watching {config.root} (debounce {debounce:g}s); Ctrl-C to stop", file=sys.stderr)
    try:
        watcher.run()
    except KeyboardInterrupt:
        print("stopped watching", file=sys.stderr)
