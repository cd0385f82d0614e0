"""Shared fixtures: hypothesis profiles, a small git repository with known contents, one embedder
for the whole session (the real MiniLM model: loading it once keeps the suite fast)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("soak", max_examples=500, stateful_step_count=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO_ROOT = Path(__file__).resolve().parent.parent

FIXTURE_FILES = {
    "src/config_loader.py": '''
        import json


        def load_settings(path):
            """Read the JSON configuration file and validate required keys."""
            with open(path) as handle:
                data = json.load(handle)
            if "name" not in data:
                raise ValueError("configuration is missing the name key")
            return data
        ''',
    "src/http_client.py": '''
        import urllib.request


        class HttpClient:
            """Send HTTP requests with retries and exponential backoff."""

            def get(self, url, retries=3):
                for attempt in range(retries):
                    try:
                        return urllib.request.urlopen(url).read()
                    except OSError:
                        continue
                raise RuntimeError("giving up after retries")
        ''',
    "src/geometry.js": '''
        // Compute the area of shapes.
        function circleArea(radius) {
          return Math.PI * radius * radius;
        }

        function rectangleArea(width, height) {
          return width * height;
        }
        ''',
    "lib/sorting.go": '''
        package sorting

        // BubbleSort sorts a slice of integers in place.
        func BubbleSort(values []int) {
        	for i := range values {
        		for j := 0; j < len(values)-i-1; j++ {
        			if values[j] > values[j+1] {
        				values[j], values[j+1] = values[j+1], values[j]
        			}
        		}
        	}
        }
        ''',
    "docs/notes.md": '''
        # Notes

        The ParseConfig function is documented here. Database connection pooling is planned.
        ''',
    "tests/test_config_loader.py": '''
        from src.config_loader import load_settings


        def test_load_settings_requires_name(tmp_path):
            path = tmp_path / "c.json"
            path.write_text("{}")
        ''',
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=root,
                          check=True, capture_output=True, text=True).stdout


def write_fixture_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, body in FIXTURE_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).lstrip("\n"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    return root


@pytest.fixture
def fixture_repo(tmp_path: Path) -> Path:
    return write_fixture_repo(tmp_path / "repo")


@pytest.fixture
def indexed(fixture_repo, embedder):
    """The fixture repository, configured and indexed once; returns its Config."""
    from cidx.config import Config, write_config
    from cidx.indexer import run_index

    config = Config(root=fixture_repo)
    write_config(config)
    run_index(config, embedder)
    return config


@pytest.fixture(scope="session")
def embedder():
    from cidx.config import EmbeddingConfig
    from cidx.embed import make_embedder

    return make_embedder(EmbeddingConfig())


def run_cidx(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120, input: str | None = None):
    """The real CLI in a subprocess, as a user runs it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "cidx", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, input=input)


# --- daemons: every test that starts one stops it by PID; the session fails if any survives ---------

def _is_under(arg: bytes, under: Path | str) -> bool:
    root = os.fsencode(str(under)).rstrip(b"/")
    return arg == root or arg.startswith(root + b"/")


def daemon_pids(under: Path | str | None = None) -> list[int]:
    """PIDs of `python -m cidx.daemon ROOT` processes (ROOT under `under` when given)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
        except OSError:
            continue
        # under/ with its separator: /tmp/pytest-22 must not claim the daemons of /tmp/pytest-225
        # (another test session running at the same time)
        if b"cidx.daemon" in args and (under is None or any(_is_under(a, under) for a in args)):
            try:
                with open(f"/proc/{entry}/stat") as stat_file:
                    if stat_file.read().split()[2] == "Z":
                        continue  # a zombie is dead, merely unreaped
            except OSError:
                continue
            found.append(int(entry))
    return found


def kill_daemons(under: Path) -> list[int]:
    import signal

    pids = daemon_pids(under)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


@pytest.fixture(scope="session", autouse=True)
def no_daemon_survives(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    yield
    cmdlines = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                for pid in daemon_pids(base)}
    leaked = kill_daemons(base)
    assert not leaked, f"daemon processes survived the test session (killed now): {cmdlines}"


@pytest.fixture
def reap_daemons(tmp_path):
    """Kill, by PID, any daemon a test started under its tmp_path (auto-started ones included)."""
    yield
    kill_daemons(tmp_path)
