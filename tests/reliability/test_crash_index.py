"""Faults at random instants of indexing: kill -9 of a standalone `cidx index`, of an indexing daemon
and of the client the daemon indexes for, and `cidx stop` while the daemon indexes.

tests/integration/test_index_crash.py kills at named failpoints; here the instant is random (drawn
once indexing has begun, so the fault lands in the work, not in interpreter start-up; the window
adapts to the machine's speed), and trials chain: each fault happens on top of the previous one's
index. CIDX_SEED=N replays a run. After every fault:
- the index opens and its three stores agree (verify_index == []);
- the generation never goes back;
- nothing committed is lost: every file the index held before the run is still found, with either
  its old content or its new one (never neither, never both);
- a client killed mid-run costs nothing: the daemon lives and finishes the run (all new content in).
CIDX_INDEX_BATCH_FILES=10 makes a run commit several generations, so kills land between commits too.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from unittest import mock

import pytest

from cidx.fastpath.errors import CidxError
from cidx.indexer import run_index
from cidx.lifecycle import ConnectionFailure
from cidx.fastpath.params import QueryParams
from cidx.services import make_engine
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from cidx.store.lock import WriterLock
from cidx.fastpath.socket_path import socket_path
from tests.integration.daemon_support import alive, connect, status, wait_serving, wait_until
from tests.reliability.support import REPORT, cli, committed_generation, kill_pid, make_repo, soak_only

MODULES = 40
BATCH_ENV = {"CIDX_INDEX_BATCH_FILES": "10"}


def module_path(i: int) -> str:
    return f"gen/mod_{i:03d}.py"


def marker(i: int, version: int) -> str:
    return f"m{i}v{version}"


def write_module(root, i: int, version: int) -> None:
    (root / "gen").mkdir(exist_ok=True)
    (root / module_path(i)).write_text(
        f"def handler_{i}(value):\n    '''{marker(i, version)}: scale the value'''\n    return value * {i + version}\n")


def finder(config, embedder):
    """FTS lookups on one fresh engine (the standalone read path)."""
    with mock.patch("cidx.services.make_embedder", lambda _config: embedder):
        engine = make_engine(config)

    def paths(word: str) -> set[str]:
        return {h.path for h in engine.query(QueryParams(text=word, mode="fts", limit=50)).hits}
    return paths


def kill_standalone_index(config, rng, window: float) -> bool:
    """Run `cidx index` and kill -9 it at a random instant once it holds the writer lock. True if it
    was still running when killed."""
    proc = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=config.root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **BATCH_ENV, "CIDX_NO_DAEMON": "1"})
    try:
        lock = WriterLock(IndexLayout(config.index_dir).lock_path)
        wait_until(lambda: proc.poll() is not None or lock.holder_pid() == proc.pid, 120, what="indexing to start")
        time.sleep(rng.uniform(0, window))  # the kill instant is the random variable
        running = proc.poll() is None
        proc.kill()
    finally:
        proc.wait(timeout=30)
    return running


def serving_daemon(config, daemons) -> int:
    """The daemon that serves this repository, started (with small commit batches) if none does."""
    answer = status(config)
    if answer is not None:
        return answer["pid"]
    daemon = daemons.spawn(config.root, env=BATCH_ENV)
    assert wait_serving(config, timeout=60)["pid"] == daemon.pid
    return daemon.pid


def index_in_daemon(config, daemons, rng, window: float, fault: str) -> bool:
    """Index in the daemon and, at a random instant of the run, `fault` it:
    - "daemon": kill -9 the daemon (over an RPC index call);
    - "client": kill -9 the `cidx index` client; the daemon must finish the run and live on;
    - "stop": `cidx stop` the daemon; indexing stops at a safe point, the socket goes.
    True if the run was still going at the fault."""
    pid = serving_daemon(config, daemons)
    outcome = {}
    if fault == "client":
        client = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=config.root, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env={**os.environ, **BATCH_ENV})
        running_check = lambda: client.poll() is None  # noqa: E731
    else:
        def index_over_rpc():
            conn = connect(config, timeout=300)
            try:
                outcome["reply"] = conn.call("cli_index", str(config.root), None, False, False)
            except (ConnectionFailure, CidxError) as exc:
                outcome["error"] = exc
            finally:
                conn.close()

        client = threading.Thread(target=index_over_rpc)
        client.start()
        running_check = client.is_alive
    # (not the lock file's pid: it still names this daemon after its previous run)
    wait_until(lambda: not running_check() or (status(config) or {}).get("indexing"), 120, what="daemon indexing")
    time.sleep(rng.uniform(0, window))  # the fault instant is the random variable
    running = running_check()
    if fault == "client":
        client.kill()
        client.wait(timeout=30)
        wait_until(lambda: not status(config)["indexing"], 300, what="the daemon to finish indexing")
        assert status(config)["pid"] == pid  # a client that went away cost the daemon nothing
        return running
    if fault == "daemon":
        kill_pid(pid)
    else:
        stopped = cli(config, "stop", timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert not os.path.lexists(socket_path(config.config_dir))
    wait_until(lambda: not alive(pid), 60, what="the daemon to exit")
    client.join(timeout=60)
    assert not client.is_alive()
    if not running:
        assert "reply" in outcome, outcome  # it finished before the fault: it must have succeeded
    return running


def crash_trials(tmp_path, embedder, daemons, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / "repo"
    config = make_repo(root, embedder, index=False)
    versions = {i: 0 for i in range(MODULES)}  # on disk
    for i in versions:
        write_module(root, i, 0)
    run_index(config, embedder)
    committed = dict(versions)  # what the committed generation holds
    mid_run, window = 0, 1.0
    for trial in range(trials):
        context = f"seed {seed}, trial {trial}"
        with REPORT.trial("fault while indexing"):
            generation_before = committed_generation(config)
            for i in rng.sample(sorted(versions), rng.randint(8, 24)):
                versions[i] += 1
                write_module(root, i, versions[i])
            for _ in range(rng.randint(0, 3)):
                i = len(versions)
                versions[i] = 0
                write_module(root, i, 0)
            where = rng.choice(["standalone", "daemon", "client", "stop"])
            if where == "standalone":
                running = kill_standalone_index(config, rng, window)
            else:
                running = index_in_daemon(config, daemons, rng, window, where)
            mid_run += running
            context += f" ({where}, {'mid-run' if running else 'after the run'})"
            # Adapt the window to this machine's speed: ~80% of faults land mid-run, the rest late.
            window = window * 1.1 if running else max(0.05, window * 0.7)
            REPORT.fault({"standalone": "SIGKILL to a standalone indexer", "daemon": "SIGKILL to an indexing daemon",
                          "client": "SIGKILL to the client of daemon indexing",
                          "stop": "cidx stop while the daemon indexes"}[where])

            assert verify_index(IndexLayout(config.index_dir)) == [], context
            assert committed_generation(config) >= generation_before, context
            paths = finder(config, embedder)
            for i, version in versions.items():
                path = module_path(i)
                has_new = paths(marker(i, version)) == {path}
                if i not in committed:  # a file added by this run: it may or may not be in
                    assert has_new or where != "client", f"{context}: {path} (new) not indexed"
                    if has_new:
                        committed[i] = version
                    continue
                has_old = paths(marker(i, committed[i])) == {path}
                if committed[i] == version:
                    assert has_old, f"{context}: {path} (unchanged) was lost"
                    continue
                assert has_old != has_new, (f"{context}: {path}: old (v{committed[i]}) found {has_old}, new "
                                            f"(v{version}) found {has_new}; any version: "
                                            f"{[v for v in range(version + 1) if paths(marker(i, v))]}")
                if where == "client":  # the daemon finished the run: the new content is in
                    assert has_new, f"{context}: {path}: the daemon did not finish after its client died"
                if has_new:
                    committed[i] = version
    REPORT.note(f"faults while indexing (seed {seed})", f"{mid_run}/{trials} landed mid-run")

    with REPORT.trial("index after the faults"):
        done = cli(config, "index", env={**BATCH_ENV, "CIDX_NO_DAEMON": "1"}, timeout=600)
        assert done.returncode == 0, done.stderr
        layout = IndexLayout(config.index_dir)
        assert verify_index(layout) == []
        paths = finder(config, embedder)
        for i, version in versions.items():
            assert paths(marker(i, version)) == {module_path(i)}, f"seed {seed}: {module_path(i)} not indexed"
        assert max(g for g, _ in layout.generation_files()) == committed_generation(config)  # no orphans


def seed() -> int:
    return int(os.environ.get("CIDX_SEED", random.randrange(2**32)))


def test_kill_9_at_random_instants_of_indexing(tmp_path, embedder, daemons):
    crash_trials(tmp_path, embedder, daemons, trials=5, seed=seed())


@soak_only
@pytest.mark.timeout(1800)
def test_kill_9_at_random_instants_of_indexing_soak(tmp_path, embedder, daemons):
    crash_trials(tmp_path, embedder, daemons, trials=50, seed=seed())
