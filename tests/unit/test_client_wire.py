"""The stdlib RPyC subset in cidx/fastpath/wire.py encodes exactly as rpyc's brine does, and talks to a
real rpyc server."""

from __future__ import annotations

import threading

import pytest
import rpyc
from hypothesis import given
from hypothesis import strategies as st
from rpyc.core import brine
from rpyc.utils.server import ThreadedServer

from cidx.fastpath import wire
from cidx.fastpath.protocol import PROTOCOL_CONFIG
from cidx.fastpath.errors import CidxError
from cidx.lifecycle import ConnectionFailure

plain = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**300), max_value=10**300)
    | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=300).map(tuple), max_leaves=400,
)


@given(plain)
def test_dump_matches_rpyc_brine(value):
    assert wire.dump(value) == brine.dump(value)


@given(plain)
def test_load_reads_rpyc_brine(value):
    assert wire.load(brine.dump(value)) == value


def test_refuses_what_it_cannot_send():
    with pytest.raises(TypeError):
        wire.dump([1, 2])


class EchoService(rpyc.Service):
    def exposed_echo(self, *args):
        return ("ok",) + args

    def exposed_fail(self, code, message):
        return ("error", code, message)

    def exposed_boom(self):
        raise ValueError("kaput")

    def exposed_by_reference(self):
        return ("ok", object())


@pytest.fixture
def server(tmp_path):
    path = tmp_path / "s.sock"
    srv = ThreadedServer(EchoService, socket_path=str(path), protocol_config=PROTOCOL_CONFIG)
    srv.listener.listen(srv.backlog)  # listening before the test connects (start() would, later)
    thread = threading.Thread(target=srv.start, daemon=True)
    thread.start()
    yield path
    srv.close()
    thread.join(timeout=5)


def test_calls_a_real_rpyc_server(server):
    conn = wire.WireConnection(server, call_timeout=5)
    try:
        big = "x" * 100_000  # large enough for rpyc to compress its reply frame
        assert conn.call("echo", "a", 1, 2.5, None, True, (1, ("n",)), big) == ("a", 1, 2.5, None, True, (1, ("n",)), big)
        assert conn.call("echo", "once") == "once"  # a single payload comes back unwrapped
        with pytest.raises(CidxError) as err:
            conn.call("fail", 2, "bad regex")
        assert err.value.exit_code == 2 and str(err.value) == "bad regex"
        with pytest.raises(CidxError, match="kaput"):
            conn.call("boom")
        with pytest.raises(ConnectionFailure, match="by reference"):
            conn.call("by_reference")
        with pytest.raises(CidxError, match="AttributeError"):
            conn.call("missing")
    finally:
        conn.close()


def test_calls_sent_ahead_are_answered_in_any_reading_order(server):
    conn = wire.WireConnection(server, call_timeout=5)
    try:
        conn.send_ahead("echo", "first")
        conn.send_ahead("echo", "second", 2)
        conn.send_ahead("fail", 2, "bad")
        # read out of order: the replies that arrive first wait in the connection
        assert conn.call("echo", "second", 2) == ("second", 2)
        with pytest.raises(CidxError, match="bad"):
            conn.call("fail", 2, "bad")
        assert conn.call("echo", "first") == "first"
        assert conn.call("echo", "first") == "first"  # consumed: this one is a fresh call
        assert conn._ahead == {} and conn._replies == {}
    finally:
        conn.close()


def test_connection_failures(tmp_path, server):
    with pytest.raises(ConnectionFailure):
        wire.WireConnection(tmp_path / "nothing.sock", call_timeout=1)
    import socket

    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.bind(str(tmp_path / "hung.sock"))
    hung.listen(1)  # accepts (in the backlog) but never answers
    try:
        conn = wire.WireConnection(tmp_path / "hung.sock", call_timeout=0.2)
        with pytest.raises(ConnectionFailure, match="timeout|lost"):
            conn.call("echo", "x")
        conn.close()
    finally:
        hung.close()
