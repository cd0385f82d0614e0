"""The cached ONNX model under real processes: concurrent first builds, kill -9 mid-write.

The cache does not care what it stores, so these use a small payload built by a real child process
(the real model's build is covered in test_embed_onnx.py); the lock, the failpoints and the renames
are the real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cidx.embed import onnx_cache

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB

# Child: builds through ensure_model; the build logs its pid, and waits for a "go" file if asked.
CHILD = """
import os, sys, time
from pathlib import Path
from cidx.embed import onnx_cache
root, log, gate = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
def build():
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    if gate:
        Path(gate + ".building").touch()
        while not Path(gate).exists():
            time.sleep(0.01)
    return bytes(range(256)) * 4096
path = onnx_cache.ensure_model(root, "int8", 1, build)
print(path)
"""


def _child(root: Path, log: Path, gate: str = "", **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(log), gate], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **env})


def _blocked_on_flock(pid: int) -> bool:
    """/proc/locks lists a process waiting for a lock with '->'."""
    return any("->" in line and str(pid) in line.split() for line in Path("/proc/locks").read_text().splitlines())


def _wait_until(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_two_concurrent_first_builds_build_once(tmp_path):
    log, gate = tmp_path / "builds.log", str(tmp_path / "go")
    first = _child(tmp_path, log, gate)
    _wait_until(lambda: Path(gate + ".building").exists(), first)  # first holds the lock, mid-build
    second = _child(tmp_path, log, gate)
    _wait_until(lambda: _blocked_on_flock(second.pid), second)  # second waits for it
    Path(gate).touch()
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [o[1] for o in outs]
    path = Path(outs[0][0].decode().strip())
    assert Path(outs[1][0].decode().strip()) == path
    assert log.read_text().split() == [str(first.pid)]  # built once
    assert path.read_bytes() == PAYLOAD and onnx_cache.is_valid(path)


def test_kill_during_the_write_leaves_no_usable_model_and_the_next_run_builds(tmp_path):
    log = tmp_path / "builds.log"
    killed = _child(tmp_path, log, CIDX_FAILPOINT="onnx_mid_write")
    killed.communicate(timeout=60)
    assert killed.returncode == -9
    path = onnx_cache.cached_model_path(tmp_path, "int8", 1)
    assert not path.exists() and list(tmp_path.glob(f".{path.name}.tmp-*"))  # only a half temp file
    again = _child(tmp_path, log)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err.decode()
    assert path.read_bytes() == PAYLOAD and onnx_cache.is_valid(path)
    assert not list(tmp_path.glob(".*tmp-*"))  # the stale temp file was cleaned up


def test_kill_before_the_sidecar_means_rebuild(tmp_path):
    log = tmp_path / "builds.log"
    killed = _child(tmp_path, log, CIDX_FAILPOINT="onnx_before_sidecar")
    killed.communicate(timeout=60)
    assert killed.returncode == -9
    path = onnx_cache.cached_model_path(tmp_path, "int8", 1)
    assert path.exists() and not onnx_cache.is_valid(path)  # complete, but unproven: not used
    again = _child(tmp_path, log)
    assert again.communicate(timeout=60)[0] and again.returncode == 0
    assert onnx_cache.is_valid(path) and len(log.read_text().split()) == 2


def test_truncated_or_touched_files(tmp_path):
    path = onnx_cache.ensure_model(tmp_path, "fp32", 1, lambda: PAYLOAD)
    os.utime(path, ns=(1, 1))  # copied or touched: the full hash decides, and it still matches
    assert onnx_cache.is_valid(path)
    with open(path, "r+b") as fh:
        fh.truncate(1000)
    assert not onnx_cache.is_valid(path)
    assert onnx_cache.ensure_model(tmp_path, "fp32", 1, lambda: PAYLOAD).read_bytes() == PAYLOAD


def test_builder_version_and_variant_are_part_of_the_name(tmp_path):
    names = {onnx_cache.cached_model_path(tmp_path, v, b).name for v in ("int8", "fp32") for b in (1, 2)}
    assert len(names) == 4
    assert all(onnx_cache.SAFETENSORS_SHA256[:16] in n for n in names)
