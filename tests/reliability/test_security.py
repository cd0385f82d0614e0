"""The daemon's socket is a local attack surface: only its user may connect, only `exposed_*` methods
answer, nothing is unpickled, hostile bytes never take it down, and the private directory used for
deep paths cannot be hijacked. Peers of another uid are played by `nobody` (we run as root)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import rpyc
from rpyc.core import consts, netref
from rpyc.utils.factory import unix_connect

from cidx.fastpath.protocol import PROTOCOL_CONFIG
from cidx.fastpath.socket_path import socket_path
from tests.conftest import daemon_pids, kill_daemons
from tests.integration.daemon_support import status, wait_serving, wait_until
from tests.reliability.support import REPORT, Daemons, assert_one_line_error, cli, make_repo

EXPOSED = ("hello", "ping", "cli_query", "cli_index", "cli_status", "cancel_index", "shutdown",
           "query", "query_fts", "query_hybrid", "index", "get_status", "clear_cache")
# Names resolved on the daemon's side (netrefs answer __init__, __class__ & co. locally).
FORBIDDEN = ("_state", "_run_query", "_check_project", "_leave_reason", "on_connect", "on_disconnect", "__dict__",
             "exposed_ping.__globals__", "ping.__self__", "ping.__code__", "query.__func__", "query.__wrapped__", "query.__globals__", "_conn", "getmodule",
             "eval", "execute", "modules", "namespace")
PEER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("denied"); sys.exit()
except OSError as exc:
    print("error", exc.errno); sys.exit()
try:
    print("closed" if s.recv(1) == b"" else "data")  # rpyc servers wait for the client to speak first
except socket.timeout:
    print("open")
"""
NOBODY = 65534


def peer(sock: Path, user: int | None = None) -> str:
    """Connect from another process (as `user`) with the system python (the venv is under /root)."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    kwargs = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
    return subprocess.run([python, "-c", PEER, str(sock)], capture_output=True, text=True, timeout=30, cwd="/",
                          **kwargs).stdout.strip()


@pytest.fixture
def world_traversable(embedder):
    """A repository under a 0755 chain (pytest's own tmp dirs are 0700), so that only the socket's own
    mode stands between another user and the daemon."""
    if os.getuid() != 0:
        pytest.skip("playing another user needs root")
    base = Path(tempfile.mkdtemp(prefix="cidx-reliability-", dir="/tmp"))
    base.chmod(0o755)
    tracker = Daemons(base)
    try:
        yield make_repo(base / "repo", embedder, index=False), tracker
    finally:
        tracker.kill_all()
        kill_daemons(base)
        shutil.rmtree(base, ignore_errors=True)


def test_other_users_cannot_connect_even_through_a_loosened_socket(world_traversable):
    config, tracker = world_traversable
    daemon = tracker.spawn(config.root)
    assert wait_serving(config, timeout=60)["pid"] == daemon.pid
    sock = socket_path(config.config_dir)
    with REPORT.trial("other user connects"):
        REPORT.fault("connection from another uid", 2)
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        assert peer(sock) == "open"  # the owner: accepted, the daemon waits for a request
        assert peer(sock, NOBODY) == "denied"  # mode 0600
        os.chmod(sock, 0o666)  # a mistake or a hostile chmod: the uid check still rejects
        assert peer(sock, NOBODY) == "closed"
        wait_until(lambda: "rejected a connection from uid" in (config.config_dir / "daemon.log").read_text(), 10,
                   what="the rejection in the log")
        assert status(config)["pid"] == daemon.pid


def test_umask_does_not_loosen_the_socket(tmp_path, embedder, daemons):
    config = make_repo(tmp_path / "repo", embedder, index=False)
    with REPORT.trial("permissive umask"):
        REPORT.fault("umask 000")
        proc = subprocess.Popen([sys.executable, "-m", "cidx.daemon", str(config.root)], cwd=config.root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=lambda: os.umask(0))
        daemons.procs.append(proc)
        assert wait_serving(config, timeout=60)["pid"] == proc.pid
        assert stat.S_IMODE(os.stat(socket_path(config.config_dir)).st_mode) == 0o600


def deep_repo(tmp_path, embedder):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    config = make_repo(tmp_path.joinpath(*["a_rather_long_directory_name"] * 5) / "repo", embedder, index=False)
    assert len(os.fsencode(str(config.config_dir / "daemon.sock"))) > 108
    return config, {"XDG_RUNTIME_DIR": str(runtime)}, runtime / "cidx"


def test_deep_path_private_directory_is_tightened(tmp_path, embedder, daemons, monkeypatch):
    config, env, private = deep_repo(tmp_path, embedder)
    private.mkdir(mode=0o777)
    private.chmod(0o777)
    with REPORT.trial("private socket directory"):
        REPORT.fault("private dir mode 0777")
        started = cli(config, "start", env=env)
        assert started.returncode == 0, started.stderr
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
        sock = socket_path(config.config_dir)
        assert sock.parent == private and stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        stopped = cli(config, "stop", env=env)
        assert stopped.returncode == 0 and not os.path.lexists(sock)


HIJACKS = ("symlink to an open directory", "directory of another user")


def hijack_private_dir(tmp_path, private: Path, hijack: str) -> Path:
    """Plant the hijack; returns the directory an attacker would watch for our socket."""
    trap = tmp_path / "trap"
    trap.mkdir()
    if not hijack.startswith("symlink") and os.getuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    if hijack.startswith("symlink"):
        trap.chmod(0o777)
        os.symlink(trap, private)
        return trap
    private.mkdir()
    os.chown(private, NOBODY, NOBODY)
    return private


@pytest.mark.parametrize("hijack", HIJACKS)
def test_deep_path_private_directory_cannot_be_hijacked(tmp_path, embedder, daemons, hijack):
    config, env, private = deep_repo(tmp_path, embedder)
    trap = hijack_private_dir(tmp_path, private, hijack)
    with REPORT.trial("private socket directory"):
        REPORT.fault(f"private dir: {hijack}")
        proc = cli(config, "query", "anything", "--fts", env=env)  # not indexed: the error, after fallback
        lines = proc.stderr.splitlines()
        assert "daemon unavailable" in lines[0] and "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 1 and "cidx index" in lines[-1]
        wait_until(lambda: not daemon_pids(config.root), 60, what="refused daemons to exit")
        assert list(trap.iterdir()) == []  # no socket was planted where someone else controls it


def test_daemon_refusing_a_hijacked_private_directory_says_why(tmp_path, embedder):
    """One line on stderr, and the reason in daemon.log: the file the client's fallback line and
    `cidx start` point to (stderr is /dev/null when a client spawns the daemon)."""
    if os.getuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    config, env, private = deep_repo(tmp_path, embedder)
    hijack_private_dir(tmp_path, private, HIJACKS[1])
    refused = subprocess.run([sys.executable, "-m", "cidx.daemon", str(config.root)], cwd=config.root,
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert "owned by you" in assert_one_line_error(refused)
    assert "owned by you" in (config.config_dir / "daemon.log").read_text()


@pytest.fixture
def served(tmp_path, embedder, daemons):
    config = make_repo(tmp_path / "repo", embedder)
    daemon = daemons.spawn(config.root)
    assert wait_serving(config, timeout=60)["pid"] == daemon.pid
    return config, daemon.pid


def test_only_exposed_methods_and_no_pickle_with_the_real_rpyc_client(served):
    config, pid = served
    conn = unix_connect(str(socket_path(config.config_dir)), config=PROTOCOL_CONFIG)
    try:
        with REPORT.trial("rpyc access control"):
            REPORT.fault("forbidden rpyc access", len(FORBIDDEN) + 4)
            reachable = []
            for name in FORBIDDEN:
                try:
                    obj = conn.root
                    for part in name.split("."):
                        obj = getattr(obj, part)
                    reachable.append(name)
                except AttributeError:
                    pass
            assert reachable == [], f"reachable beyond the exposed methods: {reachable}"
            with pytest.raises(AttributeError):
                netref.syncreq(conn.root, consts.HANDLE_GETATTR, "_state")  # the raw request, no client check
            with pytest.raises(ValueError, match="pickling is disabled"):
                pickle.dumps(conn.root)
            with pytest.raises(ValueError, match="pickling is disabled"):
                netref.syncreq(conn.root, consts.HANDLE_PICKLE, pickle.HIGHEST_PROTOCOL)
            with pytest.raises(AttributeError):
                conn.root.ping = None  # setattr
            with pytest.raises(AttributeError):
                del conn.root.exposed_ping
            assert not hasattr(conn, "modules")  # not a classic (SlaveService) connection
            replies = [conn.root.ping(), conn.root.cli_status(),
                       conn.root.cli_query(str(config.root), ["a list is passed by reference"]),
                       conn.root.cli_query(str(config.root), '{"text": "x", "__class__": 1}')]
            assert replies[2][0] == "error" and replies[3][0] == "error"
            # the spec's methods (ADR 0014): one JSON text each, errors included
            texts = [conn.root.get_status(), conn.root.clear_cache(str(config.root)),
                     conn.root.query(str(config.root), ["a list is passed by reference"]),
                     conn.root.query_fts(str(config.root), "x", __class__=1)]
            assert all(type(text) is str for text in texts)
            assert "error" in json.loads(texts[2]) and "error" in json.loads(texts[3])

            def plain(value):
                assert not isinstance(value, netref.BaseNetref), value
                if isinstance(value, tuple):
                    for item in value:
                        plain(item)
            for reply in replies:
                assert type(reply) is tuple
                plain(reply)
            assert set(EXPOSED) <= {n[len("exposed_"):] for n in dir(type(conn.root)) if n.startswith("exposed_")} \
                or all(callable(getattr(conn.root, n)) for n in EXPOSED)
    finally:
        conn.close()
    assert status(config)["pid"] == pid


def _frame(payload: bytes, compressed: bool = False) -> bytes:
    return struct.pack("!LB", len(payload), compressed) + payload + b"\n"


HOSTILE = {
    "random bytes": os.urandom(4096),
    "half a frame": struct.pack("!LB", 100, 0) + b"\x01\x02",
    "frame claiming 4 GB": struct.pack("!LB", 0xFFFFFFF0, 0) + b"\x00" * 64,
    "deeply nested tuple": _frame(bytes([consts.MSG_REQUEST]) + b"\x10" * 200_000 + b"\x00"),
    "bad zlib": _frame(b"not zlib at all", compressed=True),
    "unknown message type": _frame(b"\x63" + b"\x00" * 16),
}


def test_hostile_bytes_and_idle_connections_never_take_the_daemon_down(served):
    config, pid = served
    sock = str(socket_path(config.config_dir))
    idle = []
    with REPORT.trial("hostile peer"):
        REPORT.fault("hostile bytes", len(HOSTILE))
        REPORT.fault("idle connections", 50)
        try:
            for _ in range(50):  # connections that never speak: each costs the daemon a thread, nothing more
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sock)
                idle.append(s)
            for name, data in HOSTILE.items():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(sock)
                s.sendall(data)
                s.close()
            proc = cli(config, "query", "circleArea", "--fts", "--quiet")
            assert proc.returncode == 0 and proc.stdout == "src/geometry.js:2\n" and proc.stderr == "", proc.stderr
            assert status(config)["pid"] == pid
        finally:
            for s in idle:
                s.close()
    assert rpyc.__version__.split(".")[0] == "6"  # the frame layout above is RPyC 6's
