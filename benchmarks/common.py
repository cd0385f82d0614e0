"""Shared helpers of the benchmark sections: statistics, tables, the benchmark workspace (a copy of
the repository under benchmarks/out/work/), running the CLI as a user would (bytecode on,
PYTHONDONTWRITEBYTECODE removed), and starting/stopping daemons by PID with guaranteed cleanup.

Every section module has `run(ctx) -> dict` and is runnable alone through `standalone_main`.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

PYTHON = sys.executable
_CIDX_SCRIPT = Path(sys.executable).parent / "cidx"
# -P: never put the working directory (the benchmarked repository) on sys.path; a copy of the standard
# library there would shadow the real one (`python -m` and `python -c` would import from it).
CIDX = [str(_CIDX_SCRIPT)] if _CIDX_SCRIPT.is_file() else [PYTHON, "-P", "-m", "cidx"]

DEFAULT_REPO = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
DEFAULT_EXCLUDES = ("site-packages", "test", "idlelib")
ALWAYS_PRUNE = {"__pycache__", ".git", ".hg", ".svn", ".code-indexer", "node_modules", ".venv"}
SECTIONS = ("index", "query_standalone", "daemon_rpc", "spec_rpc", "concurrency", "memory", "cli_e2e", "ttl",
            "quality")

# Queries that make sense in most code bases (and certainly in the standard library).
SEMANTIC_QUERIES = (
    "parse command line arguments",
    "read a file and decode its contents",
    "open a network socket connection",
    "compute a hash digest of data",
    "retry after an error with a timeout",
    "format a date as a string",
    "compress data with zlib",
    "spawn a subprocess and wait for it",
    "parse a JSON configuration file",
    "acquire a lock in a thread",
)
FTS_QUERIES = ("socket connect", "json loads", "subprocess", "hashlib", "timeout", "encoding",
               "thread lock", "tempfile", "compile", "import")
MODE_FLAGS = {"semantic": [], "fts": ["--fts"], "hybrid": ["--hybrid"]}


# --- logging, statistics, tables ------------------------------------------------------------------

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(samples, q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 100]."""
    data = sorted(samples)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def stats(samples) -> dict:
    data = list(samples)
    if not data:
        return {"n": 0, "median": float("nan"), "p90": float("nan"), "p99": float("nan"),
                "min": float("nan"), "max": float("nan"), "mean": float("nan")}
    return {"n": len(data), "median": percentile(data, 50), "p90": percentile(data, 90),
            "p99": percentile(data, 99), "min": min(data), "max": max(data), "mean": sum(data) / len(data)}


def ms(seconds: float) -> str:
    return "-" if seconds is None or seconds != seconds else f"{seconds * 1e3:.1f}"


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def table(title: str, headers: list[str], rows: list[list], note: str | None = None, *, left: bool = False) -> dict:
    return {"title": title, "headers": headers, "rows": [[fmt(c) if not isinstance(c, str) else c for c in r]
                                                         for r in rows], "note": note, "left": left}


def render_table(t: dict) -> str:
    headers, rows = t["headers"], t["rows"]
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]

    def is_num(cell: str) -> bool:
        return bool(re.fullmatch(r"[-+]?[\d,]*\.?\d+(e[-+]?\d+)?[x%]?|-", cell.strip()))

    def line(cells, header=False):
        out = []
        for i, cell in enumerate(cells):
            cell = str(cell)
            left = header or i == 0 or t.get("left") or not is_num(cell)
            out.append(cell.ljust(widths[i]) if left else cell.rjust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    parts = [f"== {t['title']} ==", line(headers, True), sep, *(line(r) for r in rows)]
    if t.get("note"):
        parts.append(f"   {t['note']}")
    return "\n".join(parts)


def print_result(result: dict) -> None:
    for t in result.get("tables", []):
        print(render_table(t), flush=True)
        print(flush=True)


def check(name: str, budget: str, measured: str, passed: bool | None, note: str = "") -> dict:
    """One budget check; passed=None means not applicable / not measured."""
    measured = " ".join(str(measured).split())
    if len(measured) > 160:
        measured = measured[:157] + "..."
    return {"check": name, "budget": budget, "measured": measured,
            "status": "SKIP" if passed is None else ("PASS" if passed else "FAIL"), "note": note}


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --- environment and subprocesses -----------------------------------------------------------------

def bench_env(**extra: str) -> dict:
    """The environment of a user's shell: bytecode used (PYTHONDONTWRITEBYTECODE removed), no
    CIDX_* overrides unless given."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("CIDX_")}
    env.update(extra)
    return env


def compile_bytecode() -> None:
    """Bytecode for cidx, like `make install` does: otherwise every short-lived process recompiles."""
    import cidx

    subprocess.run([PYTHON, "-m", "compileall", "-q", str(Path(cidx.__file__).parent)],
                   env=bench_env(), check=False, stdout=subprocess.DEVNULL)


def run(argv: list[str], *, cwd: Path | None = None, env: dict | None = None, timeout: float = 3600,
        capture: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, env=env if env is not None else bench_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed (exit {proc.returncode}): "
                           f"{(proc.stderr or '').strip()[-2000:]}")
    return proc


def time_cmd(argv: list[str], *, cwd: Path | None = None, env: dict | None = None,
             timeout: float = 600) -> tuple[float, str]:
    """Wall seconds of one subprocess run (stdout discarded, as into a pipe nobody reads slowly);
    returns (seconds, stderr). Raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env if env is not None else bench_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed (exit {proc.returncode}): {err.strip()[-2000:]}")
    return elapsed, err


def query_argv(mode: str, text: str, *extra: str) -> list[str]:
    return [*CIDX, "query", text, *MODE_FLAGS[mode], *extra]


def wire_params(mode: str, text: str, *extra: str) -> tuple:
    from cidx.fastpath.params import parse_query_args

    return parse_query_args([text, *MODE_FLAGS[mode], *extra]).to_wire()


def query_text(mode: str, i: int) -> str:
    pool = FTS_QUERIES if mode == "fts" else SEMANTIC_QUERIES
    return pool[i % len(pool)]


# --- the workspace --------------------------------------------------------------------------------

@dataclasses.dataclass
class Workspace:
    root: Path
    source: Path
    excludes: tuple[str, ...]
    quick: bool
    files: int  # files copied
    bytes: int

    @property
    def config_dir(self) -> Path:
        return self.root / ".code-indexer"

    @property
    def index_dir(self) -> Path:
        return self.config_dir / "index"

    @property
    def config_path(self) -> Path:
        return self.config_dir / "config.json"

    def describe(self) -> str:
        kind = "quick subset of " if self.quick else ""
        ex = ", ".join(f"{e}/" for e in self.excludes) or "nothing"
        return (f"{kind}{self.source} (excluded: {ex}) -> {self.root}: "
                f"{self.files:,} files, {self.bytes / 1e6:.1f} MB copied")


def _indexable(name: str) -> bool:
    from cidx.source.discover import BINARY_EXTENSIONS
    from cidx.source.languages import language_for

    dot = name.rfind(".")
    if dot > 0 and name[dot:].lower() in BINARY_EXTENSIONS:
        return False
    return language_for(name) is not None


def _list_source(source: Path, excludes: tuple[str, ...]) -> list[tuple[str, int]]:
    """(relative path, size) of the regular files to copy, sorted; excluded directory names are
    pruned at any depth (gitignore `name/` semantics), and so are VCS and cache directories."""
    prune = ALWAYS_PRUNE | set(excludes)
    out = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in prune)
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            if not os.path.isfile(full):
                continue
            out.append((os.path.relpath(full, source), st.st_size))
    out.sort()
    return out


def quick_subset(listing: list[tuple[str, int]], count: int, max_bytes: int) -> list[tuple[str, int]]:
    """`count` indexable files of at most `max_bytes`, evenly spread over the sorted paths (so the
    subset samples every package rather than the first few)."""
    candidates = [(p, s) for p, s in listing if s <= max_bytes and _indexable(os.path.basename(p))]
    if len(candidates) <= count:
        return candidates
    step = len(candidates) / count
    return [candidates[int(i * step)] for i in range(count)]


def prepare_workspace(repo: Path, excludes: tuple[str, ...], quick: bool, out_dir: Path, *,
                      quick_files: int = 150, quick_max_bytes: int = 6_000) -> Workspace:
    """Copy the repository into out/work/<name>/ (never writing into the source tree). A workspace
    whose file list still matches is reused; its .code-indexer/ stays (sections decide)."""
    repo = Path(repo).resolve()
    if not repo.is_dir():
        raise SystemExit(f"--repo {repo}: not a directory")
    listing = _list_source(repo, excludes)
    if quick:
        listing = quick_subset(listing, quick_files, quick_max_bytes)
    if not listing:
        raise SystemExit(f"--repo {repo}: no files to index after exclusions")
    signature = hashlib.sha256(json.dumps([str(repo), listing]).encode()).hexdigest()[:16]
    key = hashlib.sha256(f"{repo}|{sorted(excludes)}|{quick}".encode()).hexdigest()[:8]
    root = (out_dir / "work" / f"{repo.name}-{'quick' if quick else 'full'}-{key}").resolve()
    marker = root / ".code-indexer" / "bench-source.json"
    total = sum(size for _, size in listing)
    ws = Workspace(root, repo, tuple(excludes), quick, len(listing), total)
    try:
        if json.loads(marker.read_text()).get("signature") == signature:
            return ws
    except (OSError, ValueError):
        pass
    if root.exists():
        shutil.rmtree(root)
    log(f"copying {len(listing):,} files ({total / 1e6:.1f} MB) from {repo} into {root}")
    for rel, _ in listing:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(repo / rel, dest)  # keeps mtimes: like a checkout, not a fresh write
        except OSError:
            continue
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"signature": signature, "source": str(repo), "excludes": list(excludes),
                                  "quick": quick}))
    return ws


def copy_parts(source: Path, root: Path, parts) -> None:
    """Copy packages (directories) and modules of `source` into `root`, over what is there, without
    bytecode or test directories: a slice of a tree for a benchmark that needs a small repository."""
    for part in parts:
        src, dest = source / part, root / part
        if src.is_dir():
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "test*"), dirs_exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)


def cidx_init(ws: Workspace, *, daemon: bool, **daemon_settings) -> None:
    """`cidx init --force [--daemon]`, then daemon settings that have no CLI flag (ttl etc.)."""
    run([*CIDX, "init", "--force", *(["--daemon"] if daemon else []), str(ws.root)], cwd=ws.root)
    if daemon_settings:
        data = json.loads(ws.config_path.read_text())
        data.setdefault("daemon", {}).update(daemon_settings)
        ws.config_path.write_text(json.dumps(data, indent=2) + "\n")


def load_ws_config(ws: Workspace):
    from cidx.config import load_config

    return load_config(ws.config_path)


def index_counts(ws: Workspace) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{ws.index_dir / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        files = conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    finally:
        conn.close()
    return files, chunks


def ensure_indexed(ws: Workspace) -> tuple[int, int]:
    """A config and an up-to-date index (a full index the first time; a no-op incremental run
    later). Returns (files, chunks)."""
    if not ws.config_path.is_file():
        cidx_init(ws, daemon=False)
    if not (ws.index_dir / "meta.sqlite").is_file():
        log(f"no index in {ws.root} yet: indexing (this is the slow part)")
    run([*CIDX, "index"], cwd=ws.root, env=bench_env(CIDX_NO_DAEMON="1"))
    return index_counts(ws)


# --- daemons --------------------------------------------------------------------------------------

_LIVE: set["Daemon"] = set()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _is_our_daemon(pid: int, root: Path) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"cidx.daemon" in cmd and os.fsencode(str(root)) in cmd


class Daemon:
    """A real daemon (`python -m cidx.daemon ROOT`) for one workspace, started and always stopped
    by us: `python -m cidx stop`, then the PIDs we started (or saw serving our socket) are killed if
    still alive. Use as a context manager; atexit and SIGTERM also stop it."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.config = load_ws_config(ws)
        if not self.config.daemon.enabled:
            raise RuntimeError(f"{ws.config_path}: daemon.enabled is false")
        from cidx.fastpath.socket_path import socket_path

        self.socket_path = socket_path(self.config.config_dir)
        self.proc: subprocess.Popen | None = None
        self.pids: set[int] = set()
        self.started_at = 0.0
        self.ready_at = 0.0

    def __enter__(self) -> "Daemon":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> "Daemon":
        self._stop_stray()
        stderr_path = self.ws.config_dir / "bench-daemon.stderr"
        with open(stderr_path, "wb") as stderr:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen([PYTHON, "-P", "-m", "cidx.daemon", str(self.ws.root)], cwd=self.ws.root,
                                         env=bench_env(PYTHONUNBUFFERED="1"), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        self.pids.add(self.proc.pid)
        _LIVE.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: "
                                   f"{stderr_path.read_text(errors='replace')[-2000:]}")
            try:
                status = self.status()
                if status["pid"] == self.proc.pid:
                    self.ready_at = time.monotonic()
                    return self
                self.pids.add(int(status["pid"]))  # someone else's? only if it serves our root
            except Exception:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"daemon did not answer within {timeout:.0f}s")

    def connect(self, kind: str = "wire", *, hello: bool = True):
        """A connection that has done the handshake: kind "wire" (cidx.fastpath.wire, the query fast
        path) or "rpyc" (cidx.client.connection, the rpyc library)."""
        if kind == "wire":
            from cidx.fastpath.wire import WireConnection

            conn = WireConnection(self.socket_path, call_timeout=60)
        elif kind == "rpyc":
            from cidx.client.connection import DaemonConnection

            conn = DaemonConnection(self.socket_path, call_timeout=60)
        else:
            raise ValueError(kind)
        if hello:
            self.hello(conn)
        return conn

    def hello(self, conn) -> None:
        import cidx

        reply = conn.call("hello", cidx.__version__, self.config.fingerprint(), str(self.config.root))
        version, fingerprint, pid, compatible, _protocol = reply
        self.pids.add(int(pid))
        if not compatible:
            raise RuntimeError(f"daemon {pid} is not compatible (version {version}, config {fingerprint}); "
                               "it leaves now")

    def status(self) -> dict:
        from cidx.fastpath.wire import WireConnection

        conn = WireConnection(self.socket_path, call_timeout=10)
        try:
            return json.loads(conn.call("cli_status"))
        finally:
            conn.close()

    def log_lines(self) -> list[str]:
        try:
            return (self.ws.config_dir / "daemon.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def stop(self) -> None:
        try:
            try:
                self.pids.add(int(self.status()["pid"]))
            except Exception:
                pass
            try:
                subprocess.run([*CIDX, "stop"], cwd=self.ws.root, env=bench_env(), timeout=30,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except (subprocess.SubprocessError, OSError):
                pass
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.terminate()
                    try:
                        self.proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
                        self.proc.wait(timeout=5)
            for pid in sorted(self.pids):
                if pid != (self.proc.pid if self.proc else None) and _pid_alive(pid) and \
                        _is_our_daemon(pid, self.ws.root):
                    os.kill(pid, signal.SIGTERM)
                    deadline = time.monotonic() + 5
                    while _pid_alive(pid) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    if _pid_alive(pid):
                        os.kill(pid, signal.SIGKILL)
        finally:
            _LIVE.discard(self)

    def _stop_stray(self) -> None:
        """A daemon left serving this workspace (an earlier run that was SIGKILLed, or one that a
        `cidx query` auto-started) is ours by definition: stop it before measuring."""
        from cidx.fastpath.wire import WireConnection

        if not os.path.lexists(self.socket_path):
            return
        try:
            conn = WireConnection(self.socket_path, call_timeout=5, connect_timeout=1)
        except Exception:
            return
        try:
            pid = int(conn.call("ping"))
        except Exception:
            return
        finally:
            conn.close()
        if _is_our_daemon(pid, self.ws.root):
            log(f"stopping a leftover daemon {pid} of {self.ws.root}")
            self.pids.add(pid)
            self.stop()


def stop_all_daemons() -> None:
    for daemon in list(_LIVE):
        try:
            daemon.stop()
        except Exception as exc:  # keep stopping the others
            print(f"benchmarks: could not stop daemon {daemon.pids}: {exc}", file=sys.stderr)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    atexit.register(stop_all_daemons)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)


# --- the command line shared by run_all and each section --------------------------------------------

@dataclasses.dataclass
class Context:
    args: argparse.Namespace
    ws: Workspace
    out_dir: Path

    @property
    def quick(self) -> bool:
        return self.args.quick

    def pick(self, full, quick):
        return quick if self.args.quick else full


def build_parser(description: str, *, with_only: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repo", type=Path, default=None,
                   help=f"repository to benchmark (default: the standard library, {DEFAULT_REPO})")
    p.add_argument("--exclude", default=None,
                   help="comma-separated directory names pruned at any depth when copying the repository "
                        f"(default for the standard library: {','.join(DEFAULT_EXCLUDES)}; otherwise none); "
                        "'' for none")
    p.add_argument("--quick", action="store_true", help="small subset and fewer runs (~2 minutes)")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="output directory (default benchmarks/out)")
    if with_only:
        p.add_argument("--only", default=None, help=f"comma-separated sections: {','.join(SECTIONS)}")
    return p


def make_context(args: argparse.Namespace) -> Context:
    repo = args.repo or DEFAULT_REPO
    if args.exclude is None:
        excludes = DEFAULT_EXCLUDES if args.repo is None else ()
    else:
        excludes = tuple(e.strip().strip("/") for e in args.exclude.split(",") if e.strip())
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    ws = prepare_workspace(repo, excludes, args.quick, out_dir)
    log(ws.describe())
    return Context(args, ws, out_dir)


def write_json(path: Path, data) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def standalone_main(name: str, run_fn, description: str) -> int:
    """`python benchmarks/<section>.py [--repo PATH] [--quick] [--out DIR]`."""
    install_cleanup()
    args = build_parser(description, with_only=False).parse_args()
    compile_bytecode()
    try:
        ctx = make_context(args)
        result = run_fn(ctx)
    finally:
        stop_all_daemons()
    print_result(result)
    for c in result.get("checks", []):
        print(f"{c['status']:<5} {c['check']}: {c['measured']} (budget {c['budget']}) {c['note']}".rstrip())
    path = ctx.out_dir / f"{name}.json"
    write_json(path, result)
    print(f"\nraw figures: {path}")
    return 0
