"""Talking to a repository's daemon with the rpyc library (indexing with progress callbacks, status,
start/stop), and spawning it. The query fast path uses cidx/fastpath/wire.py instead.

Connection-level failures (refused, reset, EOF, timeout) are raised as lifecycle.ConnectionFailure;
a reply ("error", code, message) from the daemon is a query error and is raised as a CidxError.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from cidx.fastpath.protocol import ERROR, OK, PROTOCOL_CONFIG
from cidx.fastpath.errors import CidxError
from cidx.lifecycle.errors import ConnectionFailure

CONNECT_TIMEOUT = 2.0  # connecting and the handshake: a live daemon answers in milliseconds
CONNECTION_ERRORS = (OSError, EOFError, TimeoutError)


def _rpyc():
    import rpyc

    return rpyc


class DaemonConnection:
    def __init__(self, sock_path: Path, *, call_timeout: float):
        rpyc = _rpyc()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(str(sock_path))
        except CONNECTION_ERRORS as exc:
            sock.close()
            raise ConnectionFailure(f"cannot connect to {sock_path}: {exc.__class__.__name__}") from None
        sock.settimeout(None)
        config = dict(PROTOCOL_CONFIG, sync_request_timeout=call_timeout)
        stream = rpyc.SocketStream(sock)
        self.conn = rpyc.connect_stream(stream, config=config)
        self.sock_path = sock_path
        self.call_timeout = call_timeout

    def call(self, method: str, *args, timeout: float | None = None):
        """Call an exposed method; return the payload of an ("ok", ...) reply."""
        rpyc = _rpyc()
        try:
            self.conn._config["sync_request_timeout"] = timeout if timeout is not None else self.call_timeout
            reply = getattr(self.conn.root, method)(*args)
        except CONNECTION_ERRORS as exc:
            raise ConnectionFailure(f"daemon connection lost during {method}: {exc.__class__.__name__}") from None
        except rpyc.core.async_.AsyncResultTimeout:
            raise ConnectionFailure(f"daemon did not answer {method} in time") from None
        if not isinstance(reply, tuple) or not reply:
            raise ConnectionFailure(f"daemon sent a malformed reply to {method}")
        if reply[0] == ERROR:
            error = CidxError(str(reply[2]))
            error.exit_code = int(reply[1])
            raise error
        if reply[0] != OK:
            raise ConnectionFailure(f"daemon sent a malformed reply to {method}")
        return reply[1] if len(reply) == 2 else reply[1:]

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass


def spawn_daemon(root: Path):
    """Start a daemon for `root`, detached from this terminal (its own session: Ctrl-C in the
    client never reaches it). If another daemon wins the bind, this one exits 0 at once."""
    import subprocess  # only when spawning: costs ~10 ms at import

    return subprocess.Popen(
        [sys.executable, "-m", "cidx.daemon", str(root)],
        # cwd "/": with `python -m`, the working directory comes first on sys.path, and a repository
        # with a top-level json/ or logging.py would shadow the standard library in the daemon.
        cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
