"""Indexing through the daemon: progress, cancel, a client killed mid-index, concurrent requests and
watch — real daemon, real CLI processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from cidx.config import Config, write_config
from cidx.indexer import run_index
from cidx.store import metadata
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from tests.conftest import git, run_cidx, write_fixture_repo
from tests.integration.daemon_support import make_repo, connect, status, wait_serving, wait_until

SLOW = {"CIDX_INDEX_BATCH_FILES": "10"}  # many commits: long enough runs to act on mid-way


@pytest.fixture
def repo(tmp_path, embedder, reap_daemons):
    return make_repo(tmp_path / "repo", embedder)


def add_files(config, count, tag="bulk", per_file=8):
    (config.root / tag).mkdir(exist_ok=True)
    for i in range(count):
        (config.root / tag / f"m{i:03d}.py").write_text(
            "\n".join(f"def {tag}_function_{i}_{j}(value):\n    return value * {j}  # {tag}{i}" for j in range(per_file)))
    git(config.root, "add", "-A")


@pytest.fixture
def procs():
    """Processes a test starts; killed at teardown even when the test fails (a live client would
    otherwise restart a daemon after the daemons were reaped)."""
    started = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_daemon(config, env=None):
    proc = subprocess.Popen([sys.executable, "-m", "cidx.daemon", str(config.root)], cwd=config.root,
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_serving(config)
    return proc


def indexed_files(config) -> int:
    conn = metadata.connect(IndexLayout(config.index_dir).sqlite_path)
    try:
        return metadata.count_rows(conn)[0]
    finally:
        conn.close()


def test_progress_events_arrive_in_order_and_reach_100_percent(repo):
    add_files(repo, 40)
    proc = start_daemon(repo)
    events = []
    conn = connect(repo, timeout=300)
    try:
        summary = json.loads(conn.call("cli_index", str(repo.root), lambda values: events.append(tuple(values)),
                                       False, False))
    finally:
        conn.close()
        proc.kill()
    assert summary["files_indexed"] == 40
    phases = [e[0] for e in events]
    assert phases[0] == "scan" and phases[-1] == "done" and "index" in phases
    done = [e[1] for e in events]
    assert done == sorted(done)  # files_done never goes back
    assert events[-1][1] == events[-1][2] == 40  # 100%
    assert all(isinstance(v, (str, int, float)) for e in events for v in e)  # plain values only


def test_cancel_stops_at_a_safe_point_and_next_run_resumes(repo):
    add_files(repo, 120)
    proc = start_daemon(repo, SLOW)
    outcome = {}

    def run():
        conn = connect(repo, timeout=300)
        try:
            outcome["reply"] = conn.call("cli_index", str(repo.root), None, False, False)
        except Exception as exc:  # the cancelled run answers with an error: that is the expected outcome
            outcome["error"] = exc
        finally:
            conn.close()

    worker = threading.Thread(target=run)
    worker.start()
    wait_until(lambda: (s := status(repo)) and s["index_progress"] and s["index_progress"][1] >= 10,
               what="indexing to get going")
    conn = connect(repo)
    try:
        assert conn.call("cancel_index") is True
    finally:
        conn.close()
    worker.join(timeout=120)
    assert "cancelled" in str(outcome.get("error")) and getattr(outcome["error"], "exit_code", None) == 130
    layout = IndexLayout(repo.index_dir)
    assert verify_index(layout) == []
    partial = indexed_files(repo)
    assert 6 <= partial < 126  # what was committed stays
    resumed = run_cidx("index", cwd=repo.root, env=SLOW, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert indexed_files(repo) == 126 and status(repo)["pid"] == proc.pid
    proc.kill()


def test_ctrl_c_in_the_client_cancels_indexing_in_the_daemon(repo, procs):
    add_files(repo, 120)
    proc = start_daemon(repo, SLOW)
    client = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=repo.root, env={**os.environ, **SLOW},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(client)
    wait_until(lambda: (s := status(repo)) and s["index_progress"] and s["index_progress"][1] >= 10,
               what="indexing to get going")
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=120)
    assert client.returncode == 130 and "cancelled" in err and "Traceback" not in err
    wait_until(lambda: not status(repo)["indexing"], what="the daemon to stop indexing")
    assert verify_index(IndexLayout(repo.index_dir)) == [] and indexed_files(repo) < 126
    assert status(repo)["pid"] == proc.pid  # the daemon survived
    proc.kill()


def test_client_killed_mid_index_does_not_stop_or_corrupt_it(repo, procs):
    add_files(repo, 80, per_file=2)
    proc = start_daemon(repo, SLOW)
    client = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=repo.root, env={**os.environ, **SLOW},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(client)
    wait_until(lambda: (s := status(repo)) and s["indexing"], what="indexing to start")
    client.kill()
    client.wait()
    answers = set()
    while status(repo)["indexing"]:  # other clients keep querying the committed generation meanwhile
        out = run_cidx("query", "circleArea", "--fts", "-q", cwd=repo.root)
        assert out.returncode == 0 and out.stdout == "src/geometry.js:2\n", out.stderr
        answers.add(out.stdout)
    assert indexed_files(repo) == 86 and verify_index(IndexLayout(repo.index_dir)) == []
    assert run_cidx("query", "bulk_function_79_1", "--fts", "-q", cwd=repo.root).stdout == "bulk/m079.py:3\n"
    proc.kill()


def test_two_index_commands_at_once_one_says_it_is_already_running(repo, procs):
    add_files(repo, 60, per_file=2)
    proc = start_daemon(repo, SLOW)
    env = {**os.environ, **SLOW}
    first = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=repo.root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(first)
    wait_until(lambda: (s := status(repo)) and s["indexing"], what="indexing to start")
    second = run_cidx("index", cwd=repo.root, env=SLOW)
    assert second.returncode == 1 and "already running" in second.stderr and second.stderr.count("\n") == 1
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0 and "indexed 60 files" in err
    proc.kill()


def test_watch_in_the_daemon_picks_up_a_modified_file(repo):
    proc = start_daemon(repo)
    out = run_cidx("watch", "--debounce", "0.3", cwd=repo.root)
    assert out.returncode == 0 and "watching" in out.stderr
    assert status(repo)["watch"]["debounce_s"] == 0.3
    (repo.root / "src/geometry.js").write_text("function narwhalArea(r) { return r; }\n")
    found = wait_until(lambda: run_cidx("query", "narwhalArea", "--fts", "-q", cwd=repo.root).stdout,
                       timeout=0.3 + 2 + 3, interval=0.1, what="watch to re-index")  # debounce + 2 s, plus CLI time
    assert found == "src/geometry.js:1\n"
    assert "watch" in run_cidx("status", cwd=repo.root).stdout
    stop = run_cidx("watch", "--stop", cwd=repo.root)
    assert stop.returncode == 0 and "stopped watching" in stop.stdout and status(repo)["watch"] is None
    proc.kill()


def test_watch_in_the_foreground_without_daemon(tmp_path, embedder, procs):
    root = write_fixture_repo(tmp_path / "repo")
    config = Config(root=root)
    write_config(config)
    run_index(config, embedder)
    watcher = subprocess.Popen([sys.executable, "-m", "cidx", "watch", "--debounce", "0.2"], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    procs.append(watcher)
    try:
        wait_until(lambda: watcher.stderr.readline().startswith("watching"), what="watch to start")
        (root / "lib/sorting.go").write_text("package sorting // quokka\n")
        found = wait_until(lambda: run_cidx("query", "quokka", "--fts", "-q", cwd=root).stdout, timeout=20,
                           interval=0.2, what="foreground watch to re-index")
        assert found == "lib/sorting.go:1\n"
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
