"""Run one request through the repository's daemon, driven by the client lifecycle machine:
auto-start, connect with the configured backoff, restart at most twice on a lost connection, else
report fallback. The connection class is wire.py's stdlib RPyC subset unless the caller needs
the rpyc library (progress callbacks).
"""

import os
import sys
import time

from cidx import __version__
from cidx.fastpath.socket_path import log_path, socket_file
from cidx.lifecycle.client import ClientLifecycle
from cidx.lifecycle.driver import Outcome, drive_client
from cidx.lifecycle.errors import ConnectionFailure

HELLO_TIMEOUT = 1.5  # the handshake touches no index: a live daemon answers in milliseconds
REPLACE_WAIT = 5.0  # how long an outdated daemon may take to leave after being told to
QUERY_TIMEOUT = 300.0


class DaemonEffects:
    """The side effects the lifecycle driver asks for, against a real daemon."""

    # Annotations in quotes: evaluating typing's Callable would mean importing typing (ADR 0009).
    def __init__(self, config, request: "Callable[[object], object]", *,
                 sleep: "Callable[[float], None]" = time.sleep, spawn: "Callable[[str], object] | None" = None,  # noqa: F821
                 call_timeout: float = QUERY_TIMEOUT, connection_class=None, send_ahead: tuple | None = None):
        """`send_ahead`: (method, *args) of the call `request` will make; it is pipelined right
        behind the handshake, saving a round trip (the daemon refuses it if the handshake tells
        it to leave, and then nobody reads the answer)."""
        if connection_class is None:
            from cidx.fastpath.wire import WireConnection as connection_class
        self.connection_class = connection_class
        self.config = config
        self.sock_path = socket_file(config.config_dir)
        self.request = request
        self._sleep = sleep
        self._spawn = spawn  # None: client.connection.spawn_daemon, imported when first needed
        self.call_timeout = call_timeout
        self.send_ahead = send_ahead
        self.conn = None
        self.daemon_pid: int | None = None

    def probe(self) -> bool:
        if not os.path.lexists(self.sock_path):
            return False
        return self._open()

    def spawn(self) -> None:
        full = getattr(self.config, "full", None)
        if full is not None:
            # Before paying for a daemon start, validate the whole config (the fast path read only
            # what it needs): a ConfigError is the user's one-line error, not a fallback.
            full()
        if self._spawn is None:
            from cidx.client.connection import spawn_daemon  # rpyc: only when a daemon must start

            self._spawn = spawn_daemon
        self._spawn(self.config.root)

    def connect(self) -> bool:
        return self._open()

    def call(self):
        if self.conn is None:
            raise ConnectionFailure("not connected")
        try:
            return self.request(self.conn)
        except ConnectionFailure:
            self.close()
            raise

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _open(self) -> bool:
        self.close()
        conn = self.connection_class(self.sock_path, call_timeout=self.call_timeout)  # ConnectionFailure: absent
        hello = ("hello", __version__, self.config.fingerprint(), str(self.config.root))
        try:
            if self.send_ahead is not None and hasattr(conn, "send_ahead"):
                conn.send_ahead(*hello)
                conn.send_ahead(*self.send_ahead)
            _, _, pid, compatible, _ = conn.call(*hello, timeout=HELLO_TIMEOUT)
        except ConnectionFailure:
            conn.close()
            raise
        if not compatible:
            # It was told to leave (other version or config); wait for its socket to go, so that
            # the daemon we spawn next can bind.
            conn.close()
            self._wait_until_gone()
            return False
        self.conn, self.daemon_pid = conn, pid
        return True

    def _wait_until_gone(self) -> None:
        deadline = time.monotonic() + REPLACE_WAIT
        while os.path.lexists(self.sock_path) and time.monotonic() < deadline:
            self._sleep(0.02)


def run_via_daemon(config, request: "Callable[[object], object]", **kwargs) -> Outcome:  # noqa: F821
    """Outcome(via_daemon=True, value=...) or Outcome(via_daemon=False, fallback_reason=...).
    A query's own error (a CidxError from the daemon) propagates unchanged."""
    lifecycle = ClientLifecycle(retry_delays_ms=config.daemon.retry_delays_ms,
                                max_retries=config.daemon.max_retries, engine="table")
    effects = DaemonEffects(config, request, **kwargs)
    try:
        return drive_client(lifecycle, effects)
    finally:
        effects.close()


def fallback_notice(config, reason: str) -> str:
    color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    dim, reset = ("\033[2m", "\033[0m") if color else ("", "")
    return (f"{dim}cidx: daemon unavailable ({reason}); ran in-process instead. "
            f"Check `cidx status` and {log_path(config.config_dir)}{reset}")
