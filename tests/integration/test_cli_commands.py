"""The management commands through the real CLI: init, config, start, stop, status, clean, uninstall,
and Ctrl-C during standalone indexing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from cidx.config import Config, DaemonConfig, write_config
from cidx.indexer import run_index
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from tests.conftest import git, run_cidx, write_fixture_repo
from tests.integration.daemon_support import make_repo, alive, status, wait_until


def test_init_refuses_to_overwrite_then_force(tmp_path):
    first = run_cidx("init", cwd=tmp_path)
    assert first.returncode == 0 and (tmp_path / ".code-indexer/config.json").is_file()
    again = run_cidx("init", "--daemon", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    assert json.loads((tmp_path / ".code-indexer/config.json").read_text())["daemon"]["enabled"] is False
    forced = run_cidx("init", "--daemon", "--force", cwd=tmp_path)
    assert forced.returncode == 0
    assert json.loads((tmp_path / ".code-indexer/config.json").read_text())["daemon"]["enabled"] is True


def test_init_into_a_directory_argument_and_walk_up(tmp_path):
    assert run_cidx("init", str(tmp_path / "proj"), cwd=tmp_path).returncode == 2  # not a directory yet
    (tmp_path / "proj/a/b").mkdir(parents=True)
    assert run_cidx("init", str(tmp_path / "proj"), cwd=tmp_path).returncode == 0
    out = run_cidx("config", "--show", cwd=tmp_path / "proj/a/b")
    assert out.returncode == 0 and json.loads(out.stdout)["version"] == "2.0.0"


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "invalid JSON at line 1"),
    ('{"embedding": {"provider": "magic"}}', "known providers"),
    ('{"daemon": {"ttl_minutes": "soon"}}', "daemon.ttl_minutes"),
])
def test_bad_config_is_one_line_for_every_command(tmp_path, content, fragment):
    (tmp_path / ".code-indexer").mkdir()
    (tmp_path / ".code-indexer/config.json").write_text(content)
    for argv in (["index"], ["query", "x"], ["status"], ["query", "x", "--fts"]):
        out = run_cidx(*argv, cwd=tmp_path)
        assert out.returncode == 1 and fragment in out.stderr, (argv, out.stderr)
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_no_config_anywhere(tmp_path):
    out = run_cidx("status", cwd=tmp_path)
    assert out.returncode == 1 and "cidx init" in out.stderr and out.stderr.count("\n") == 1


def test_config_flags_change_the_file(tmp_path):
    write_config(Config(root=tmp_path))
    out = run_cidx("config", "--daemon", "--daemon-ttl", "2.5", "--auto-shutdown", cwd=tmp_path)
    assert out.returncode == 0
    daemon = json.loads((tmp_path / ".code-indexer/config.json").read_text())["daemon"]
    assert (daemon["enabled"], daemon["ttl_minutes"], daemon["auto_shutdown_on_idle"]) == (True, 2.5, True)
    assert run_cidx("config", "--no-daemon", cwd=tmp_path).returncode == 0
    assert json.loads((tmp_path / ".code-indexer/config.json").read_text())["daemon"]["enabled"] is False
    assert run_cidx("config", "--daemon-ttl", "0", cwd=tmp_path).returncode == 2


@pytest.fixture
def repo(tmp_path, embedder, reap_daemons):
    return make_repo(tmp_path / "repo", embedder)


def test_start_status_stop(repo):
    started = run_cidx("start", cwd=repo.root)
    assert started.returncode == 0 and "daemon running (pid" in started.stdout
    pid = status(repo)["pid"]
    shown = run_cidx("status", cwd=repo.root)
    assert shown.returncode == 0
    for field in ("generation 1", "6 files", "running", f"pid {pid}", "cache", "TTL left", "MB RSS", "served"):
        assert field in shown.stdout, field
    assert "daemon running" in run_cidx("start", cwd=repo.root).stdout and status(repo)["pid"] == pid  # idempotent
    stopped = run_cidx("stop", cwd=repo.root)
    assert stopped.returncode == 0 and f"pid {pid}" in stopped.stdout
    wait_until(lambda: not alive(pid), what="the daemon to exit")
    assert not (repo.config_dir / "daemon.sock").exists()
    assert "no daemon was running" in run_cidx("stop", cwd=repo.root).stdout
    assert "not running" in run_cidx("status", cwd=repo.root).stdout


def test_start_refuses_when_daemon_disabled(tmp_path):
    write_config(Config(root=tmp_path))
    out = run_cidx("start", cwd=tmp_path)
    assert out.returncode == 2 and "cidx config --daemon" in out.stderr


def test_status_verify_reports_consistency(repo):
    out = run_cidx("status", "--verify", cwd=repo.root, env={"CIDX_NO_DAEMON": "1"})
    assert out.returncode == 0 and "consistency" in out.stdout and "ok" in out.stdout


def test_clean_asks_then_removes_only_the_index(repo):
    kept = run_cidx("clean", cwd=repo.root, input="n\n")
    assert kept.returncode == 2 and repo.index_dir.exists()
    removed = run_cidx("clean", "--force", cwd=repo.root)
    assert removed.returncode == 0 and not repo.index_dir.exists() and repo.config_path.exists()
    assert "run `cidx index`" in run_cidx("query", "x", "--fts", cwd=repo.root).stderr


def test_uninstall_stops_the_daemon_and_removes_everything(repo):
    run_cidx("start", cwd=repo.root)
    pid = status(repo)["pid"]
    assert run_cidx("uninstall", cwd=repo.root, input="n\n").returncode == 2 and repo.config_dir.exists()
    out = run_cidx("uninstall", "--force", cwd=repo.root)
    assert out.returncode == 0 and not repo.config_dir.exists()
    wait_until(lambda: not alive(pid), what="the daemon to stop")


def test_ctrl_c_stops_standalone_indexing_cleanly_and_resumes(tmp_path, embedder):
    root = write_fixture_repo(tmp_path / "repo")
    (root / "bulk").mkdir()
    for i in range(150):
        (root / f"bulk/m{i:03d}.py").write_text(f"def f_{i}():\n    return {i}  # item{i}\n")
    git(root, "add", "-A")
    write_config(Config(root=root))
    env = {**os.environ, "CIDX_INDEX_BATCH_FILES": "10"}
    proc = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    layout = IndexLayout(root / ".code-indexer/index")
    try:
        wait_until(lambda: layout.exists() and any(True for _ in layout.generation_files()), timeout=120,
                   what="a first committed batch")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "cancelled" in err and "resume" in err and "Traceback" not in err
    assert verify_index(layout) == []
    resumed = run_cidx("index", cwd=root, env={"CIDX_INDEX_BATCH_FILES": "10"}, timeout=300)
    assert resumed.returncode == 0 and "unchanged" in resumed.stderr
    assert verify_index(layout) == []


def test_status_verify_reports_a_damaged_store_without_failing(repo):
    from cidx.store.layout import IndexLayout as Layout

    generation = max(g for g, _ in Layout(repo.index_dir).generation_files())
    (repo.index_dir / f"hnsw-{generation}.bin").write_bytes(b"garbage")
    out = run_cidx("status", "--verify", cwd=repo.root, env={"CIDX_NO_DAEMON": "1"})
    assert out.returncode == 0 and "unreadable vector index" in out.stdout and "index --clear" in out.stdout


def test_status_tells_a_hung_daemon_from_a_stopped_one(repo):
    run_cidx("start", cwd=repo.root)
    pid = status(repo)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        out = run_cidx("status", cwd=repo.root)
        assert out.returncode == 0 and "not answering" in out.stdout
    finally:
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)


def test_disabling_the_daemon_stops_it(repo):
    run_cidx("start", cwd=repo.root)
    pid = status(repo)["pid"]
    out = run_cidx("config", "--no-daemon", cwd=repo.root)
    assert out.returncode == 0 and "stopped the running daemon" in out.stdout
    wait_until(lambda: not alive(pid), what="the daemon to stop")


def test_a_symlink_at_the_socket_path_is_named_as_such(repo):
    (repo.config_dir / "daemon.sock").symlink_to(repo.root / "nowhere")
    proc = subprocess.run([sys.executable, "-m", "cidx.daemon", str(repo.root)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and "is a symbolic link, not a socket" in proc.stderr
    assert (repo.config_dir / "daemon.sock").is_symlink()  # never deleted


def test_changed_chunking_rechunks_everything_from_the_embedding_cache(repo, embedder):
    import sqlite3

    conn = sqlite3.connect(repo.index_dir / "meta.sqlite")
    conn.execute("UPDATE state SET value = 'v0:old' WHERE key = 'chunking'")
    conn.commit()
    conn.close()
    summary = run_index(repo, embedder)
    assert summary.files_indexed == 6 and summary.chunks_embedded == 0  # same text: vectors from the cache
    assert run_index(repo, embedder).files_indexed == 0  # recorded again: next run is incremental


def add_skippable_files(root) -> None:
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (root / "src/api_pb2.py").write_text("x = 1\n")
    (root / "web").mkdir(exist_ok=True)
    (root / "web/logo.svg").write_text("<svg/>\n")
    git(root, "add", "-A")


def test_index_dry_run_lists_and_counts_and_writes_nothing(tmp_path, reap_daemons):
    root = write_fixture_repo(tmp_path / "repo")
    add_skippable_files(root)
    write_config(Config(root=root, daemon=DaemonConfig(enabled=True)))  # dry-run still runs in-process
    out = run_cidx("index", "--dry-run", cwd=root)
    assert out.returncode == 0, out.stderr
    assert "would index 6 files" in out.stdout and "would skip 3 files" in out.stdout
    for reason in ("lockfile", "generated", "svg"):
        assert f"  {reason:<12} 1" in out.stdout
    assert not (root / ".code-indexer/index").exists() and not (root / ".code-indexer/daemon.sock").exists()
    verbose = run_cidx("index", "--dry-run", "-v", cwd=root)
    assert "skip   src/api_pb2.py  (generated)" in verbose.stdout
    assert "index  src/config_loader.py" in verbose.stdout
    assert run_cidx("index", "-v", cwd=root).returncode == 2


def test_status_shows_the_last_runs_skip_counts_and_include_brings_a_file_back(tmp_path, embedder):
    root = write_fixture_repo(tmp_path / "repo")
    add_skippable_files(root)
    config = Config(root=root)
    write_config(config)
    run_index(config, embedder)
    shown = run_cidx("status", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "3 files at the last index" in shown.stdout and "lockfile 1" in shown.stdout
    raw = json.loads(config.config_path.read_text())
    raw["index"]["include"] = ["src/*_pb2.py"]
    config.config_path.write_text(json.dumps(raw))
    again = run_cidx("index", cwd=root, env={"CIDX_NO_DAEMON": "1"})
    assert again.returncode == 0, again.stderr
    shown = run_cidx("status", cwd=root)
    assert "7 files" in shown.stdout and "2 files at the last index" in shown.stdout
    assert "generated" not in shown.stdout
