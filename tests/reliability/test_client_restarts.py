"""The restart budget of one client invocation, made deterministic: a fake daemon (a real RPyC
server) answers the handshake and then drops the connection inside every query. The state machine
(test_daemon_machine.py) checks the same budget under random kills, from the daemon log."""

from __future__ import annotations

import os
import socket
import threading

import rpyc

from cidx import __version__
from cidx.fastpath.protocol import PROTOCOL_CONFIG, PROTOCOL_VERSION
from cidx.fastpath.socket_path import socket_path
from tests.conftest import daemon_pids
from tests.integration.daemon_support import wait_until
from tests.reliability.support import REPORT, log_size, make_repo, pids_logged_since, query_json


class DiesMidCall(rpyc.Service):
    """Answers the handshake like a compatible daemon, then drops the connection inside every query."""

    queries: list[str] = []

    def on_connect(self, conn):
        self._conn = conn

    def exposed_hello(self, version, fingerprint, root):
        return ("ok", __version__, fingerprint, os.getpid(), True, PROTOCOL_VERSION)

    def exposed_cli_query(self, root, params_json):
        DiesMidCall.queries.append(params_json)
        self._conn._channel.stream.sock.shutdown(socket.SHUT_RDWR)  # the client sees EOF mid-call
        return ("ok", "never delivered")


def test_a_daemon_dying_mid_call_costs_at_most_two_restarts(tmp_path, embedder, daemons):
    """Deterministic companion of the machine's spawn count: every call dies, so the client restarts
    exactly twice (a real daemon spawned each time, which finds the socket served and leaves), then
    answers in-process with one line on stderr."""
    config = make_repo(tmp_path / "repo", embedder)
    server = rpyc.ThreadedServer(DiesMidCall, socket_path=str(socket_path(config.config_dir)),
                                 protocol_config=PROTOCOL_CONFIG, listener_timeout=0.2)
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    DiesMidCall.queries.clear()
    with REPORT.trial("daemon dies in every call"):
        REPORT.fault("connection dropped mid-call", 3)
        offset = log_size(config)
        try:
            proc, result = query_json(config, "circleArea", "--fts")
            # the spawned daemons find the socket served and leave
            wait_until(lambda: not daemon_pids(config.root), 60, what="the spawned daemons to leave")
        finally:
            server.close()
            thread.join(timeout=10)
        assert proc.returncode == 0 and [h["path"] for h in result["hits"]] == ["src/geometry.js"]
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "daemon unavailable" in lines[0] and "2 restarts" in lines[0], proc.stderr
        assert len(DiesMidCall.queries) == 3  # the first call + one per restart
        assert len(pids_logged_since(config, offset)) == 2  # one daemon spawned per restart, no more
