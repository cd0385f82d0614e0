"""The pipelined indexer (ADR 0019): cross-file, length-sorted embed calls give a file the same
vectors as indexing it alone; cancel mid-batch leaves the last generation and stops the producer;
an error in the producer thread surfaces from run_index like a serial one."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cidx import index_producer
from cidx.config import Config, write_config
from cidx.fastpath.errors import IndexCancelled
from cidx.indexer import run_index, token_batches
from cidx.index_producer import PreparedChunk, estimate_tokens
from cidx.store import metadata
from cidx.store.layout import IndexLayout
from cidx.store.writer import NewChunk
from tests.conftest import git

PROBE = "src/probe.py"
PROBE_TEXT = "".join(f"def probe_{i}(value):\n    return value * {i} + len('{'x' * (i % 7)}')\n\n"
                     for i in range(25))


def make_repo(root, extra_files: int):
    (root / "src").mkdir(parents=True)
    (root / PROBE).write_text(PROBE_TEXT)
    for n in range(extra_files):  # varied lengths, so the probe's chunks share calls with others
        body = "".join(f"x{n}_{i} = {i}  # {'pad ' * ((n * 7 + i) % 15)}\n" for i in range(2 + n % 4))
        (root / f"src/mod_{n}.py").write_text(body)
    git(root, "init", "-q")
    config = Config(root=root)
    write_config(config)
    return config


def probe_vectors(config, model) -> np.ndarray:
    conn = metadata.connect(IndexLayout(config.index_dir).sqlite_path)
    try:
        # The embedding cache is keyed by the embedded text (header + lines, ADR 0012).
        hashes = [c.cache_key for c in index_producer.chunk_file(PROBE, PROBE_TEXT)]
        cached = metadata.cached_vectors(conn, model, hashes)
    finally:
        conn.close()
    return np.stack([np.frombuffer(cached[h], dtype=np.float32) for h in hashes])


def test_a_file_gets_the_same_vectors_alone_or_among_many(tmp_path, embedder):
    alone = make_repo(tmp_path / "alone", 0)
    many = make_repo(tmp_path / "many", 24)
    run_index(alone, embedder)
    summary = run_index(many, embedder)
    assert summary.files_indexed == 25
    a, b = probe_vectors(alone, embedder.name), probe_vectors(many, embedder.name)
    assert a.shape == b.shape and a.shape[0] > 1
    # Padding is masked out, so only BLAS summation order differs with the batch's shape.
    assert np.abs(a - b).max() < 1e-5


def test_token_batches_sort_by_length_and_respect_the_budget():
    def chunk(n):
        text = "y" * n
        return PreparedChunk(NewChunk(1, 1, "text", str(n), text), text, str(n), estimate_tokens(text))

    chunks = [chunk(n) for n in (800, 10, 400, 20, 790, 30, 15)]
    calls = token_batches(chunks, budget=420, max_count=3)
    assert sorted(c.cache_key for call in calls for c in call) == sorted(c.cache_key for c in chunks)
    flat = [c.tokens for call in calls for c in call]
    assert flat == sorted(flat)
    for call in calls:
        assert len(call) <= 3
        assert len(call) == 1 or len(call) * max(c.tokens for c in call) <= 420


def test_cancel_mid_batch_keeps_the_last_generation_and_stops_the_producer(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr("cidx.indexer.BATCH_FILES", 10)
    monkeypatch.setattr("cidx.indexer.EMBED_SLICE", 8)
    config = make_repo(tmp_path / "repo", 40)
    calls = []

    def progress(event):
        if event.phase == "index":
            calls.append(event)

    committed = []

    def should_cancel():  # after the first commit, cancel between two embed calls of a batch
        return len(committed) >= 1 and len(calls) >= committed[0] + 1

    def on_progress(event):
        progress(event)
        if event.phase == "commit" and not committed:
            committed.append(len(calls))

    with pytest.raises(IndexCancelled):
        run_index(config, embedder, progress=on_progress, should_cancel=should_cancel)
    assert not [t for t in threading.enumerate() if t.name == "index-producer"]
    conn = metadata.connect(IndexLayout(config.index_dir).sqlite_path)
    try:
        assert int(metadata.get_state(conn)["generation"]) == 1
        files_after_cancel = conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    finally:
        conn.close()
    assert 0 < files_after_cancel < 41
    summary = run_index(config, embedder)  # resumes: only what was not committed
    assert summary.files_unchanged == files_after_cancel
    assert summary.files_indexed == 41 - files_after_cancel


def test_an_error_in_the_producer_surfaces_and_leaves_the_index_intact(tmp_path, embedder, monkeypatch):
    config = make_repo(tmp_path / "repo", 5)
    run_index(config, embedder)
    (config.root / "src/mod_3.py").write_text("boom = 1\n")
    real = index_producer.chunk_source

    def chunk_source(text, language):
        if text.startswith("boom"):
            raise OSError("simulated read failure")
        return real(text, language)

    monkeypatch.setattr(index_producer, "chunk_source", chunk_source)
    with pytest.raises(OSError, match="simulated read failure"):
        run_index(config, embedder)
    assert not [t for t in threading.enumerate() if t.name == "index-producer"]
    monkeypatch.setattr(index_producer, "chunk_source", real)
    assert run_index(config, embedder).files_indexed == 1
