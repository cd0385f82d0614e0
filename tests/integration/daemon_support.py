"""Starting real daemon processes for tests, waiting for them without fixed sleeps, and cleaning up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cidx import __version__
from cidx.client.connection import DaemonConnection
from cidx.config import Config, DaemonConfig, write_config
from cidx.fastpath.socket_path import socket_path
from cidx.lifecycle import ConnectionFailure


def spawn(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cidx.daemon", str(root)], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; the deadline bounds the wait, the poll
    interval only sets how soon we notice."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def connect(config: Config, timeout: float = 60.0) -> DaemonConnection:
    return DaemonConnection(socket_path(config.config_dir), call_timeout=timeout)


def status(config: Config) -> dict | None:
    try:
        conn = connect(config, 5)
    except ConnectionFailure:
        return None
    try:
        return json.loads(conn.call("cli_status"))
    except ConnectionFailure:
        return None
    finally:
        conn.close()


def wait_serving(config: Config, timeout: float = 30.0) -> dict:
    return wait_until(lambda: status(config), timeout, what="the daemon to answer")


def hello(conn: DaemonConnection, config: Config):
    return conn.call("hello", __version__, config.fingerprint(), str(config.root))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def make_repo(root: Path, embedder, index: bool = True, **daemon) -> Config:
    """The fixture repository at `root` with the daemon enabled (plus `daemon` settings), indexed."""
    from cidx.indexer import run_index
    from tests.conftest import write_fixture_repo

    write_fixture_repo(root)
    config = Config(root=root, daemon=DaemonConfig(enabled=True, **daemon))
    write_config(config)
    if index:
        run_index(config, embedder)
    return config


def fast_path_modules(repo, dump: Path, output: list[str]) -> dict[str, str]:
    """Run `cidx query circleArea --fts OUTPUT` in a fresh interpreter; the modules it imported,
    each with the class name of its loader; the modules the interpreter had loaded before (site's
    doing) are written to DUMP.startup. os._exit is replaced by a recorder: the dump exists
    only if the fast exit was taken."""
    code = (
        "import os, sys\n"
        f"open({str(dump) + '.startup'!r}, 'w').write('\\n'.join(sorted(sys.modules)))\n"
        "real_exit = os._exit\n"
        "def record_and_exit(code):\n"
        "    modules = sorted((n, type(getattr(m, '__loader__', None)).__name__) for n, m in sys.modules.items())\n"
        f"    with open({str(dump)!r}, 'w') as out:\n"
        "        out.write('\\n'.join(f'{n} {loader}' for n, loader in modules))\n"
        "    real_exit(code)\n"
        "os._exit = record_and_exit\n"
        f"sys.argv = ['cidx', 'query', 'circleArea', '--fts', *{output!r}]\n"
        "from cidx.entry import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo.root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "src/geometry.js" in proc.stdout, proc.stderr
    return dict(line.split(" ") for line in dump.read_text().split("\n"))
