"""`cidx start`, `cidx stop` and the daemon part of `cidx status`: direct calls, no fallback."""

from __future__ import annotations

import json
import os
import time

from cidx.client.connection import DaemonConnection, spawn_daemon
from cidx.config import Config
from cidx.fastpath.socket_path import log_path, socket_path
from cidx.fastpath.errors import CidxError
from cidx.lifecycle import ConnectionFailure

STOP_WAIT = 10.0


HUNG = {"hung": True}


def daemon_status(config: Config) -> dict | None:
    """The live daemon's status; None when nothing listens; HUNG when something accepts the
    connection but does not answer (a stopped or stuck daemon)."""
    try:
        conn = DaemonConnection(socket_path(config.config_dir), call_timeout=5)
    except ConnectionFailure:
        return None
    try:
        return json.loads(conn.call("cli_status", timeout=3))
    except ConnectionFailure:
        return HUNG
    finally:
        conn.close()


def start_daemon(config: Config, *, wait_seconds: float = 30.0, sleep=time.sleep) -> dict:
    """Start the daemon (if none runs) and wait until it answers; returns its status."""
    status = daemon_status(config)
    if status is HUNG:
        raise CidxError(f"a daemon holds {socket_path(config.config_dir)} but does not answer; "
                        f"see {log_path(config.config_dir)} and end that process")
    if status is not None:
        return status
    proc = spawn_daemon(config.root)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        status = daemon_status(config)
        if status is not None and status is not HUNG:
            return status
        code = proc.poll()
        if code not in (None, 0):
            raise CidxError(f"the daemon failed to start (exit {code}); see {log_path(config.config_dir)}")
        sleep(0.05)
    raise CidxError(f"the daemon did not answer within {wait_seconds:g}s; see {log_path(config.config_dir)}")


def stop_daemon(config: Config, *, sleep=time.sleep) -> int | None:
    """Ask the daemon to stop and wait for its socket to go. Returns its pid, or None if none ran."""
    sock = socket_path(config.config_dir)
    try:
        conn = DaemonConnection(sock, call_timeout=5)
    except ConnectionFailure:
        return None
    try:
        pid = conn.call("ping", timeout=5)
        conn.call("shutdown", timeout=5)
    except ConnectionFailure:
        pid = None  # it went away while answering: stopped either way
    finally:
        conn.close()
    deadline = time.monotonic() + STOP_WAIT
    while os.path.lexists(sock) and time.monotonic() < deadline:
        sleep(0.05)
    if os.path.lexists(sock):
        raise CidxError(f"the daemon did not stop within {STOP_WAIT:g}s; see {log_path(config.config_dir)}")
    return pid

