"""Where a repository's daemon listens (DESIGN.md §3). Stdlib-only: the fast client path uses it.

`.code-indexer/daemon.sock` when that path fits AF_UNIX (107 bytes on Linux, 103 on macOS);
otherwise a short path in a private directory (`$XDG_RUNTIME_DIR/cidx/` or `/tmp/cidx-<uid>/`, mode
0700, owned by the user), named by a hash of the repository root. The mapping is recorded in
`.code-indexer/daemon.sock.path` so that a user can find it; both sides compute it the same way.
"""

import os
import stat
import sys

from cidx.fastpath.errors import CidxError

SOCKET_NAME = "daemon.sock"
AF_UNIX_MAX = 103 if sys.platform == "darwin" else 107


class SocketPathError(CidxError):
    """The private socket directory cannot be trusted (not ours, or not a directory)."""


def _private_dir() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "cidx")
    return f"/tmp/cidx-{os.getuid()}"


def _ensure_private_dir(path: str) -> None:
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    # Someone else's directory (or a symlink) in /tmp would let them hijack our socket.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SocketPathError(f"{path} is not a directory owned by you; remove it and retry")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


def socket_file(config_dir, *, create_dirs: bool = False) -> str:
    """The socket of the repository whose `.code-indexer/` is `config_dir`, as a str: the query
    fast path works on plain strings because importing pathlib costs it ~3 ms (ADR 0009)."""
    config_dir = os.fspath(config_dir)
    preferred = os.path.join(config_dir, SOCKET_NAME)
    if len(os.fsencode(preferred)) <= AF_UNIX_MAX:
        return preferred
    import hashlib  # deep paths only: keeps the common case's imports light

    digest = hashlib.sha256(os.fsencode(os.path.abspath(config_dir))).hexdigest()[:24]
    directory = _private_dir()
    sock = os.path.join(directory, f"{digest}.sock")
    if create_dirs:
        _ensure_private_dir(directory)
        if os.path.isdir(config_dir):
            with open(os.path.join(config_dir, SOCKET_NAME + ".path"), "w") as mapping:
                mapping.write(sock + "\n")
    return sock


def socket_path(config_dir, *, create_dirs: bool = False):
    """socket_file() as a pathlib.Path, for everything off the fast path."""
    from pathlib import Path

    return Path(socket_file(config_dir, create_dirs=create_dirs))


def lock_path(config_dir):
    """Serialises the probe-unlink-bind sequence of daemons starting at the same time."""
    from pathlib import Path

    return Path(config_dir) / "daemon.lock"


def log_path(config_dir):
    from pathlib import Path

    return Path(config_dir) / "daemon.log"
