"""`python -m cidx.daemon ROOT`: bind the repository's socket (binding is the lock), serve the
service, evict on TTL, shut down cleanly on SIGTERM/SIGINT, `cidx stop` or idle expiry.

Bind sequence (DESIGN.md §3), race-free across daemons started at once:
flock(daemon.lock) → probe the socket (connect) → live: exit 0, it is served → refused/absent: unlink
the stale file → bind with umask 0177 → listen → release the flock.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import socket
import stat
import struct
import sys
import threading
import fcntl
from pathlib import Path

from rpyc.utils.authenticators import AuthenticationError
from rpyc.utils.helpers import classpartial
from rpyc.utils.server import ThreadedServer

from cidx.fastpath import code_pack
from cidx.config import CONFIG_DIR_NAME, CONFIG_FILE_NAME, load_config
from cidx.daemon.cache import DaemonCache, run_eviction_loop
from cidx.fastpath.protocol import PROTOCOL_CONFIG
from cidx.daemon.service import CidxDaemonService, DaemonState
from cidx.fastpath.socket_path import lock_path, log_path, socket_path
from cidx.fastpath.errors import CidxError

log = logging.getLogger("cidx.daemon")
# rpyc logs four INFO lines per connection (accepted, authenticated, welcome, goodbye): at the
# hundreds of queries a second agents run, that buried everything else and rotated the log away
# in minutes, and the writes sat on every query's path. Its warnings and errors still come through.
rpyc_log = logging.getLogger("cidx.daemon.rpyc")
rpyc_log.setLevel(logging.WARNING)
PROBE_TIMEOUT = 1.0


class SocketOccupied(Exception):
    """The socket path is held by something that is not a dead socket (a live daemon, a file)."""


def check_peer_uid(peer_uid: int, own_uid: int) -> None:
    if peer_uid != own_uid:
        raise AuthenticationError(f"peer uid {peer_uid} is not the daemon's uid {own_uid}")


def peer_uid_authenticator(sock: socket.socket):
    """Reject connections from other users (SO_PEERCRED), on top of the socket's 0600 mode."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    try:
        check_peer_uid(uid, os.getuid())
    except AuthenticationError:
        log.warning("rejected a connection from uid %d (pid %d): not this daemon's user", uid, pid)
        raise
    return sock, (pid, uid)


def probe_live(path: Path) -> bool:
    """True when something accepts connections on `path`: a live (maybe busy) daemon."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_TIMEOUT)
    try:
        probe.connect(str(path))
        return True
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return False
    finally:
        probe.close()


def bind_server(service, sock_path: Path, flock_path: Path) -> ThreadedServer:
    """Bind and listen under the flock. Raises SocketOccupied when another daemon serves."""
    with open(flock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            if os.path.lexists(sock_path):
                mode = os.lstat(sock_path).st_mode
                if not stat.S_ISSOCK(mode):
                    kind = ("symbolic link" if stat.S_ISLNK(mode) else "directory" if stat.S_ISDIR(mode)
                            else "regular file")
                    raise CidxError(f"{sock_path} is a {kind}, not a socket; remove it and run `cidx start`")
                if probe_live(sock_path):
                    raise SocketOccupied(str(sock_path))
                log.info("removing stale socket %s", sock_path)
                os.unlink(sock_path)
            old_umask = os.umask(0o177)
            try:
                server = ThreadedServer(service, socket_path=str(sock_path), protocol_config=PROTOCOL_CONFIG,
                                        authenticator=peer_uid_authenticator, logger=rpyc_log, listener_timeout=0.5)
            finally:
                os.umask(old_umask)
            os.chmod(sock_path, 0o600)
            server.listener.listen(server.backlog)  # listening before the flock goes: probes see us live
            return server
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def setup_logging(config_dir: Path) -> Path:
    path = log_path(config_dir)
    if not config_dir.is_dir():  # not a cidx repository: never create .code-indexer/ here
        logging.getLogger("cidx").addHandler(logging.StreamHandler())
        return path
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    root = logging.getLogger("cidx")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    return path


class Daemon:
    def __init__(self, root: Path):
        self.log_path = setup_logging(Path(root) / CONFIG_DIR_NAME)  # first: a bad config is logged too
        self.config = load_config(Path(root) / CONFIG_DIR_NAME / CONFIG_FILE_NAME)
        config_dir = self.config.config_dir
        self.socket_path = socket_path(config_dir, create_dirs=True)
        self.stopping = threading.Event()
        self.server: ThreadedServer | None = None
        self._socket_ino: int | None = None

        from cidx.services import make_engine

        daemon_cfg = self.config.daemon
        self.cache = DaemonCache(make_engine(self.config), ttl_seconds=daemon_cfg.ttl_minutes * 60,
                                 check_interval_seconds=daemon_cfg.eviction_check_interval_seconds,
                                 auto_shutdown_on_idle=daemon_cfg.auto_shutdown_on_idle,
                                 on_shutdown=lambda: self.request_shutdown("idle and expired"))
        self.state = DaemonState(self.config, self.cache, socket_path=self.socket_path, log_path=self.log_path,
                                 request_shutdown=self.request_shutdown)

    def serve(self) -> int:
        try:
            service = classpartial(CidxDaemonService, self.state)  # one service instance per connection
            self.server = bind_server(service, self.socket_path, lock_path(self.config.config_dir))
        except SocketOccupied:
            self.cache.lifecycle.bind()
            self.cache.lifecycle.bind_failed()  # another daemon serves: touch nothing of it
            log.info("another daemon already serves %s; exiting", self.socket_path)
            return 0
        self._socket_ino = os.stat(self.socket_path).st_ino
        self.cache.bound()
        log.info("daemon %d serving %s on %s", os.getpid(), self.config.root, self.socket_path)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.request_shutdown("signal"))
        evictor = threading.Thread(target=run_eviction_loop, name="evictor", daemon=True,
                                   args=(self.cache, self.config.daemon.eviction_check_interval_seconds,
                                         self.stopping.wait))
        evictor.start()
        # The client's code pack (cidx/fastpath/code_pack.py) is brought up to date here, off every client's path.
        threading.Thread(target=code_pack.refresh, name="code-pack", daemon=True).start()
        try:
            self.server.start()  # returns once close() deactivates the listener
        finally:
            self._cleanup()
        return 0

    def request_shutdown(self, reason: str) -> None:
        """Safe from any thread and from signal handlers: stop accepting, let serve() clean up."""
        if self.stopping.is_set():
            return
        log.info("shutdown requested: %s", reason)
        self.stopping.set()
        self.state.stop_watch()
        if self.state.index_cancel is not None:
            self.state.index_cancel.set()  # indexing stops at its next safe point
        threading.Thread(target=self._close_server, name="closer", daemon=True).start()

    def _close_server(self) -> None:
        self.cache.stop("shutdown")
        if self.server is not None:
            self.server.close()

    def _cleanup(self) -> None:
        # Remove the socket only if it is still ours: never another daemon's.
        try:
            if self._socket_ino is not None and os.stat(self.socket_path).st_ino == self._socket_ino:
                os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        with self.state.index_lock:  # wait for a cancelled index run to reach its safe point
            pass
        log.info("daemon %d stopped", os.getpid())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m cidx.daemon REPOSITORY_ROOT", file=sys.stderr)
        return 2
    try:
        return Daemon(Path(argv[0]).absolute()).serve()
    except CidxError as exc:
        log.error("%s", exc.message)
        print(f"cidx daemon: error: {exc.message}", file=sys.stderr)
        return 1
