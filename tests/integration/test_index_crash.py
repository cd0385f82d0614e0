"""kill -9 an indexing process at several points: the index still opens with one consistent
generation, holding either the old content or the new, and the next run completes the work."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from cidx.config import Config, write_config
from cidx.fastpath.params import QueryParams
from cidx.search.engine import SearchEngine
from cidx.store import failpoints, metadata
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from cidx.store.reader import IndexReader
from tests.conftest import git, run_cidx


def committed_generation(config) -> int:
    conn = metadata.connect(IndexLayout(config.index_dir).sqlite_path)
    try:
        return int(metadata.get_state(conn)["generation"])
    finally:
        conn.close()


def fts_paths(config, embedder, word):
    engine = SearchEngine(IndexReader(IndexLayout(config.index_dir)), lambda: embedder)
    return sorted({h.path for h in engine.query(QueryParams(text=word, mode="fts", limit=50)).hits})  # files


@pytest.mark.parametrize("point", [p for p in failpoints.COMMIT_POINTS if p != "after_first_batch"])
def test_kill_at_each_commit_step_leaves_old_or_new_generation(indexed, embedder, point):
    config = indexed
    old_gen = committed_generation(config)
    (config.root / "src/geometry.js").write_text("function platypusArea(r) { return r; }\n")
    proc = run_cidx("index", cwd=config.root, env={"CIDX_FAILPOINT": point})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert verify_index(IndexLayout(config.index_dir)) == []
    gen = committed_generation(config)
    if point == "after_sqlite_commit":
        assert gen == old_gen + 1 and fts_paths(config, embedder, "platypusArea") == ["src/geometry.js"]
    else:
        # the old generation, whole: nothing of it lost
        assert gen == old_gen
        assert fts_paths(config, embedder, "circleArea") == ["src/geometry.js"]
        assert fts_paths(config, embedder, "platypusArea") == []
    resumed = run_cidx("index", cwd=config.root)
    assert resumed.returncode == 0, resumed.stderr
    assert fts_paths(config, embedder, "platypusArea") == ["src/geometry.js"]
    assert verify_index(IndexLayout(config.index_dir)) == []
    leftovers = {g for g, _ in IndexLayout(config.index_dir).generation_files()}
    assert max(leftovers) == committed_generation(config)  # crash orphans were removed


def make_many_files(root, count):
    for i in range(count):
        (root / "gen").mkdir(exist_ok=True)
        (root / f"gen/module_{i:04d}.py").write_text(f"def function_{i}():\n    return {i}  # item{i}\n")
    git(root, "add", "-A")


def live_segments(layout: IndexLayout) -> list[int]:
    conn = metadata.connect(layout.sqlite_path)
    try:
        return [r[0] for r in conn.execute("SELECT generation FROM segments ORDER BY min_id")]
    finally:
        conn.close()


@pytest.mark.parametrize("point", failpoints.COMPACTION_POINTS)
def test_kill_at_each_compaction_step_leaves_old_or_new_generation(fixture_repo, embedder, point):
    """Commits of 10 files each; more than 2 deltas trigger a compaction inside `cidx index`
    (ADR 0020), and the process dies at one of its steps."""
    root = fixture_repo
    make_many_files(root, 60)
    write_config(Config(root=root))
    config = Config(root=root)
    layout = IndexLayout(config.index_dir)
    env = {"CIDX_INDEX_BATCH_FILES": "10", "CIDX_MAX_DELTAS": "2"}
    proc = run_cidx("index", cwd=root, env={"CIDX_FAILPOINT": point, **env}, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert verify_index(layout) == []
    merged = point == "compact_after_sqlite_commit"
    assert len(live_segments(layout)) == (2 if merged else 4)  # base + the merged deltas, or base + 3 deltas
    engine = SearchEngine(IndexReader(layout), lambda: embedder)
    assert [h.path for h in engine.query(QueryParams("function_25", "fts", 5)).hits] == ["gen/module_0025.py"]
    semantic = engine.query(QueryParams("def function_25 return 25 item25", "semantic", 40)).hits
    assert len({(h.path, h.start_line) for h in semantic}) == len(semantic) == 40  # no chunk twice
    resumed = run_cidx("index", cwd=root, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert verify_index(layout) == []
    conn = metadata.connect(layout.sqlite_path)
    assert metadata.count_rows(conn)[0] == 66
    conn.close()
    assert max(g for g, _ in layout.generation_files()) == committed_generation(config)  # orphans gone
    assert len(live_segments(layout)) <= 3


def test_kill_after_a_batch_keeps_that_batch_and_resumes(fixture_repo):
    root = fixture_repo
    make_many_files(root, 60)
    write_config(Config(root=root))
    batch = {"CIDX_INDEX_BATCH_FILES": "20"}  # several commit batches
    proc = run_cidx("index", cwd=root, env={"CIDX_FAILPOINT": "after_first_batch", **batch}, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    config = Config(root=root)
    layout = IndexLayout(config.index_dir)
    assert verify_index(layout) == [] and committed_generation(config) == 1
    conn = metadata.connect(layout.sqlite_path)
    files_after_crash = metadata.count_rows(conn)[0]
    conn.close()
    assert files_after_crash == 20
    resumed = run_cidx("index", cwd=root, env=batch, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "embedded" in resumed.stderr
    conn = metadata.connect(layout.sqlite_path)
    assert metadata.count_rows(conn)[0] == 66
    conn.close()
    assert verify_index(layout) == []


@pytest.mark.parametrize("seed", [0])  # tests/reliability runs many more trials
def test_kill_at_random_instants(fixture_repo, seed):
    root = fixture_repo
    make_many_files(root, 100)
    write_config(Config(root=root))
    rng = random.Random(seed)
    layout = IndexLayout(Config(root=root).index_dir)
    for trial in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "cidx", "index"], cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ, "CIDX_INDEX_BATCH_FILES": "10"})
        time.sleep(rng.uniform(0.3, 2.5))  # the kill instant is the random variable, not a race cover
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if layout.exists():
            assert verify_index(layout) == [], f"trial {trial}"
    assert run_cidx("index", cwd=root, timeout=300).returncode == 0
    assert verify_index(layout) == []
