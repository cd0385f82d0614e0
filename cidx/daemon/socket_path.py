"""Where a repository's daemon listens (DESIGN.md §3). Stdlib-only: the fast client path uses it.

`.code-indexer/daemon.sock` when that path fits AF_UNIX (107 bytes on Linux, 103 on macOS);
otherwise a short path in a private directory (`$XDG_RUNTIME_DIR/cidx/` or `/tmp/cidx-<uid>/`, mode
0700, owned by the user), named by a hash of the repository root. The mapping is recorded in
`.code-indexer/daemon.sock.path` so that a user can find it; both sides compute it the same way.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from cidx.errors import CidxError

SOCKET_NAME = "daemon.sock"
AF_UNIX_MAX = 103 if sys.platform == "darwin" else 107


class SocketPathError(CidxError):
    """The private socket directory cannot be trusted (not ours, or not a directory)."""


def _private_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "cidx"
    return Path("/tmp") / f"cidx-{os.getuid()}"


def _ensure_private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = path.lstat()
    # Someone else's directory (or a symlink) in /tmp would let them hijack our socket.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SocketPathError(f"{path} is not a directory owned by you; remove it and retry")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


def socket_path(config_dir: Path, *, create_dirs: bool = False) -> Path:
    """The socket of the repository whose `.code-indexer/` is `config_dir`."""
    preferred = Path(config_dir) / SOCKET_NAME
    if len(os.fsencode(str(preferred))) <= AF_UNIX_MAX:
        return preferred
    import hashlib  # deep paths only: keeps the common case's imports light

    digest = hashlib.sha256(os.fsencode(str(Path(config_dir).absolute()))).hexdigest()[:24]
    directory = _private_dir()
    if create_dirs:
        _ensure_private_dir(directory)
        mapping = Path(config_dir) / (SOCKET_NAME + ".path")
        if mapping.parent.is_dir():
            mapping.write_text(str(directory / f"{digest}.sock") + "\n")
    return directory / f"{digest}.sock"


def lock_path(config_dir: Path) -> Path:
    """Serialises the probe-unlink-bind sequence of daemons starting at the same time."""
    return Path(config_dir) / "daemon.lock"


def log_path(config_dir: Path) -> Path:
    return Path(config_dir) / "daemon.log"
