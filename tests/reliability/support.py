"""Shared pieces of the reliability suite: the run report, soak gating, repositories with fast daemon
settings, the standalone oracle, and process bookkeeping (every daemon is killed by PID)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest

from cidx.config import Config, DaemonConfig, load_config, write_config
from cidx.indexer import run_index
from cidx.fastpath.results import QueryResult
from cidx.services import run_query_standalone
from cidx.store import metadata
from cidx.store.layout import IndexLayout
from tests.conftest import daemon_pids, write_fixture_repo
from tests.integration.daemon_support import status, wait_until

CI = bool(os.environ.get("CI"))
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if CI else "dev")
SOAK = os.environ.get("CIDX_SOAK") == "1"

# Short client backoff so fallback paths cost ~0.2 s instead of 3.6 s.
FAST = {"retry_delays_ms": (20, 50, 100), "max_retries": 3}


def soak_only(test):
    """Long trials: part of `make soak` (CIDX_SOAK=1), never of the default or CI run."""
    return pytest.mark.slow(pytest.mark.skipif(not SOAK, reason="soak only: set CIDX_SOAK=1 (make soak)")(test))


# --- the report printed at the end of the session (see conftest.py) ---------------------------------

class Report:
    def __init__(self) -> None:
        self.trials: Counter = Counter()
        self.faults: Counter = Counter()
        self.failed: dict[str, Counter] = {}  # test node id -> failed trials by kind
        self.notes: dict[str, str] = {}
        self.current_test = "?"  # set by an autouse fixture in conftest.py
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def trial(self, kind: str):
        """One trial of `kind`; it counts as failed if the block raises (skips excepted)."""
        with self._lock:
            self.trials[kind] += 1
        try:
            yield
        except pytest.skip.Exception:
            raise
        except BaseException:
            with self._lock:
                self.failed.setdefault(self.current_test, Counter())[kind] += 1
            raise

    def fault(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.faults[kind] += n

    def note(self, key: str, value) -> None:
        with self._lock:
            self.notes[key] = str(value)

    def lines(self, known_bugs: set[str] = frozenset()) -> list[str]:
        """The summary; failed trials of tests marked xfail (`known_bugs`: their node ids) are product
        bugs already reported, listed apart from real failures."""
        def counts(counter: Counter) -> str:
            return f"{sum(counter.values())} ({', '.join(f'{k} {v}' for k, v in sorted(counter.items())) or 'none'})"

        failures, expected = Counter(), Counter()
        for node, kinds in self.failed.items():
            (expected if node in known_bugs else failures).update(kinds)
        out = [f"trials: {counts(self.trials)}", f"faults injected: {counts(self.faults)}",
               f"failures: {counts(failures)}"]
        if expected:
            out.append(f"failed trials of xfail-marked known product bugs: {counts(expected)}")
        out += [f"{key}: {value}" for key, value in sorted(self.notes.items())]
        return out


REPORT = Report()


# --- repositories, the oracle, results ---------------------------------------------------------------

def make_repo(root: Path, embedder, *, index: bool = True, **daemon) -> Config:
    """The fixture repository with the daemon enabled and fast client backoff; returns the config as
    the CLI and the daemon load it (same fingerprint)."""
    write_fixture_repo(root)
    config = Config(root=root, daemon=DaemonConfig(enabled=True, **{**FAST, **daemon}))
    write_config(config)
    if index:
        run_index(config, embedder)
    return load_config(config.config_path)


def oracle(config: Config, params, embedder) -> QueryResult:
    """The standalone search, cidx.services.run_query_standalone, with the session's model instance
    (loading MiniLM per call would cost ~0.7 s and change nothing)."""
    with mock.patch("cidx.services.make_embedder", lambda _config: embedder):
        return run_query_standalone(config, params)


def hits_of(result) -> list[dict]:
    """Hits as the documented `--json` output shows them (whatever the in-memory representation)."""
    if isinstance(result, QueryResult):
        return json.loads(result.to_user_json())["hits"]
    return list(result["hits"])


def assert_same_hits(got, expected, context: str = "") -> None:
    """(path, start_line, end_line, source) equal and in order; scores equal to 1e-5 (the user JSON
    rounds them to 6 places)."""
    a, b = hits_of(got), hits_of(expected)
    keys_a = [(h["path"], h["start_line"], h["end_line"], h["source"]) for h in a]
    keys_b = [(h["path"], h["start_line"], h["end_line"], h["source"]) for h in b]
    assert keys_a == keys_b, f"{context}: hits differ\n got {keys_a}\nwant {keys_b}"
    for x, y in zip(a, b):
        assert abs(x["score"] - y["score"]) < 1e-5, f"{context}: score {x['score']} != {y['score']} for {x['path']}"


def committed_generation(config: Config) -> int:
    conn = metadata.connect(IndexLayout(config.index_dir).sqlite_path)
    try:
        return int(metadata.get_state(conn).get("generation", 0))
    finally:
        conn.close()


def assert_one_line_error(proc: subprocess.CompletedProcess, *, contains: str | None = None) -> str:
    """Non-zero exit, exactly one (non-blank) line on stderr, no traceback; returns that line. (A
    progress display may leave a blank line behind when indexing fails.)"""
    err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
    assert proc.returncode not in (0, None), f"exit 0 for an error case; stderr={err!r}"
    assert proc.returncode > 0, f"killed by signal {-proc.returncode}; stderr={err!r}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    if contains is not None:
        assert contains in lines[0], f"{contains!r} not in {lines[0]!r}"
    return lines[0]


def cli(config: Config, *args: str, env: dict | None = None, timeout: float = 180, **kwargs):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "cidx", *args], cwd=config.root, env=full_env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def query_json(config: Config, *args: str, env: dict | None = None):
    """`cidx query ... --json` as a user runs it: (process, parsed result or None)."""
    proc = cli(config, "query", *args, "--json", env=env)
    return proc, (json.loads(proc.stdout) if proc.returncode == 0 else None)


# --- daemons and their logs ---------------------------------------------------------------------------

class Daemons:
    """Daemons started or auto-started under `under`; `kill_all()` ends every one of them by PID."""

    def __init__(self, under: Path):
        self.under = Path(under)
        self.procs: list[subprocess.Popen] = []

    def spawn(self, root: Path, env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "cidx.daemon", str(root)], cwd=root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})})
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        for pid in daemon_pids(self.under):
            for sig in (signal.SIGKILL, signal.SIGCONT):  # SIGCONT: a stopped process acts on the kill
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        self.procs.clear()


def kill_pid(pid: int, sig=signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def settle(config: Config, frozen: int | None = None, timeout: float = 45) -> int | None:
    """Wait until at most one daemon process lives for this root and it answers (or is the one we
    froze): losers of a bind race exit, a freshly spawned daemon finishes starting. Returns its pid."""
    def calm():
        pids = daemon_pids(config.root)
        if not pids:
            return "none"
        if len(pids) > 1:
            return None
        if pids[0] == frozen:
            return pids[0]
        answer = status(config)
        return answer["pid"] if answer and answer["pid"] == pids[0] else None

    found = wait_until(calm, timeout, interval=0.05, what=f"daemons of {config.root} to settle")
    return None if found == "none" else found


_LOG_PID = re.compile(rb"^\S+ \S+ (\d+) ", re.M)


def log_size(config: Config) -> int:
    try:
        return os.path.getsize(config.config_dir / "daemon.log")
    except FileNotFoundError:
        return 0


def pids_logged_since(config: Config, offset: int) -> set[int]:
    """Daemon processes that wrote to daemon.log after `offset`: every daemon that reaches serve()
    logs at least one line (serving, or exiting because another one serves)."""
    try:
        with open(config.config_dir / "daemon.log", "rb") as handle:
            handle.seek(offset)
            return {int(m) for m in _LOG_PID.findall(handle.read())}
    except FileNotFoundError:
        return set()
