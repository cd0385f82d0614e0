"""Socket path selection, the private directory for deep paths, and the peer uid check."""

from __future__ import annotations

import os
import socket
import stat

import pytest
from rpyc.utils.authenticators import AuthenticationError

from cidx.fastpath import socket_path as sp
from cidx.daemon.server import check_peer_uid, peer_uid_authenticator


def test_short_path_is_next_to_the_config(tmp_path):
    assert sp.socket_path(tmp_path / ".code-indexer") == tmp_path / ".code-indexer" / "daemon.sock"


def test_deep_path_moves_to_a_private_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    deep = tmp_path.joinpath(*["d" * 40] * 4) / ".code-indexer"
    deep.mkdir(parents=True)
    path = sp.socket_path(deep, create_dirs=True)
    assert path.parent == tmp_path / "run" / "cidx" and len(os.fsencode(str(path))) <= sp.AF_UNIX_MAX
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert sp.socket_path(deep) == path  # clients compute the same path without creating anything
    other = tmp_path.joinpath(*["e" * 40] * 4) / ".code-indexer"
    assert sp.socket_path(other) != path  # one socket per repository


def test_private_directory_with_loose_mode_is_tightened(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "cidx").mkdir(mode=0o777)
    os.chmod(tmp_path / "cidx", 0o777)
    sp.socket_path(tmp_path.joinpath(*["x" * 50] * 3), create_dirs=True)
    assert stat.S_IMODE(os.stat(tmp_path / "cidx").st_mode) == 0o700


def test_private_directory_that_is_a_symlink_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cidx").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(sp.SocketPathError, match="not a directory owned by you"):
        sp.socket_path(tmp_path.joinpath(*["x" * 50] * 3), create_dirs=True)


def test_peer_of_another_uid_is_rejected():
    check_peer_uid(os.getuid(), os.getuid())
    with pytest.raises(AuthenticationError, match="not the daemon's uid"):
        check_peer_uid(os.getuid() + 1, os.getuid())


def test_authenticator_reads_the_real_peer_credentials():
    a, b = socket.socketpair(socket.AF_UNIX)
    try:
        sock, (pid, uid) = peer_uid_authenticator(a)
        assert sock is a and uid == os.getuid() and pid == os.getpid()
    finally:
        a.close()
        b.close()


def test_fast_path_string_form_is_the_same_socket(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    short = tmp_path / ".code-indexer"
    deep = tmp_path.joinpath(*["d" * 40] * 4) / ".code-indexer"
    for config_dir in (short, deep):
        assert sp.socket_file(str(config_dir)) == str(sp.socket_path(config_dir))
        assert isinstance(sp.socket_file(config_dir), str)


def test_a_rejected_peer_is_logged_as_a_warning(monkeypatch, caplog):
    a, b = socket.socketpair(socket.AF_UNIX)
    try:
        monkeypatch.setattr(os, "getuid", lambda: 4242)  # the daemon's user is now someone else
        with caplog.at_level("INFO", logger="cidx"), pytest.raises(AuthenticationError):
            peer_uid_authenticator(a)
    finally:
        a.close()
        b.close()
    assert [(r.levelname, r.name) for r in caplog.records] == [("WARNING", "cidx.daemon")]
    assert "rejected a connection from uid" in caplog.records[0].getMessage()
