"""`cidx index` with the daemon enabled: the daemon indexes with its warm model; progress comes back
through an RPyC callback (plain tuples, ~10/s) to the same progress bar as standalone indexing.
Ctrl-C asks the daemon, over a second connection, to stop at its next safe point."""

from __future__ import annotations

import json
import signal
import sys

from cidx.client.connection import DaemonConnection
from cidx.fastpath.delegate import fallback_notice, run_via_daemon
from cidx.config import Config
from cidx.fastpath.socket_path import socket_path
from cidx.indexer import IndexSummary, ProgressEvent
from cidx.lifecycle import ConnectionFailure
from cidx.progress_ui import IndexProgressBar, print_summary


def _cancel_in_daemon(config: Config) -> None:
    try:
        conn = DaemonConnection(socket_path(config.config_dir), call_timeout=5)
        try:
            conn.call("cancel_index", timeout=5)
        finally:
            conn.close()
    except ConnectionFailure:
        pass  # the daemon is gone: nothing left to cancel


def index_via_daemon(config: Config, *, clear: bool, fts_only: bool) -> bool:
    """True when the daemon did the work (or reported the error); False: run it in-process."""
    bar = IndexProgressBar()
    previous = signal.signal(signal.SIGINT, lambda *_: _cancel_in_daemon(config))
    try:
        with bar:
            summary, _ = index_in_daemon(config, clear=clear, fts_only=fts_only, progress=bar.update)
    finally:
        signal.signal(signal.SIGINT, previous)
    if summary is None:
        return False
    if fts_only:
        print(f"rebuilt the full-text index · generation {summary.generation}", file=sys.stderr)
    else:
        print_summary(summary)
    return True


def index_in_daemon(config: Config, *, clear: bool, fts_only: bool,
                    progress: "Callable[[ProgressEvent], None] | None" = None) -> tuple:  # noqa: F821
    """(IndexSummary, None) from the daemon, or (None, fallback reason) after the one-line notice
    on stderr (then the caller indexes in-process). `progress` gets ProgressEvents, on the calling
    thread. No signal handling here: the MCP server (cidx/mcp/) calls it from worker threads."""

    def on_progress(values) -> None:
        if progress is not None:
            progress(ProgressEvent.from_tuple(tuple(values)))

    def request(conn: DaemonConnection):
        return conn.call("cli_index", str(config.root), on_progress, bool(clear), bool(fts_only))

    # Callbacks need the rpyc library. No deadline on the call: a large index takes as long as it
    # takes and streams progress meanwhile; a hung daemon is caught by the handshake's timeout.
    outcome = run_via_daemon(config, request, connection_class=DaemonConnection, call_timeout=None)
    if not outcome.via_daemon:
        print(fallback_notice(config, outcome.fallback_reason), file=sys.stderr)
        return None, outcome.fallback_reason
    return IndexSummary(**json.loads(outcome.value)), None
