"""The ONNX Runtime engines against the numpy reference, on real code, and the cached model's repair."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from cidx.embed import onnx_cache
from cidx.embed.local_minilm import LocalMiniLM
from cidx.embed.onnx_minilm import OnnxMiniLM

# Real code: fixed 30-line windows of a few standard-library modules (stable across chunker changes).
_STDLIB = Path(sysconfig.get_paths()["stdlib"])
_SOURCES = ("json/decoder.py", "textwrap.py", "shlex.py", "csv.py", "http/cookies.py", "argparse.py")


def _code_chunks(per_file: int = 6, lines: int = 30) -> list[str]:
    chunks = []
    for name in _SOURCES:
        text = (_STDLIB / name).read_text(encoding="utf-8").splitlines()
        step = max(lines, len(text) // per_file)
        chunks += ["\n".join(text[i:i + lines]) for i in range(0, len(text), step)][:per_file]
    return [c for c in chunks if c.strip()]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def chunks():
    found = _code_chunks()
    assert len(found) >= 30
    return found


@pytest.fixture(scope="module")
def reference(cache_root, chunks):
    return LocalMiniLM(cache_dir=cache_root).embed(chunks)


@pytest.fixture(scope="module")
def fp32(cache_root):
    return OnnxMiniLM(cache_dir=cache_root, variant="fp32")


@pytest.fixture(scope="module")
def int8(cache_root):
    return OnnxMiniLM(cache_dir=cache_root, variant="int8")


def test_fp32_graph_matches_the_numpy_reference(fp32, reference, chunks):
    np.testing.assert_allclose(fp32.embed(chunks), reference, atol=1e-4)
    np.testing.assert_allclose(fp32.embed_query(chunks[3]), reference[3], atol=1e-4)


def test_int8_stays_close_to_the_reference(int8, reference, chunks):
    cosine = np.einsum("ij,ij->i", int8.embed(chunks), reference)
    # Measured on these chunks: min 0.985, mean 0.992. A broken quantization (wrong scales, a layer
    # left out of the fused graph) drops far below.
    assert cosine.min() >= 0.97, cosine.min()
    assert cosine.mean() >= 0.985, cosine.mean()


def test_int8_keeps_the_reference_neighbours(int8, reference, chunks):
    """Each chunk's nearest other chunk under int8 is among its 3 nearest under the fp32 reference,
    for nearly all chunks (measured 35 of 36; exact top-1 agreement is 31 of 36, because windows
    of one file are near-ties). Retrieval quality proper is benchmarks/quality.py's job."""
    def sims(v):
        s = v @ v.T
        np.fill_diagonal(s, -2.0)
        return s

    ref_top3 = np.argsort(-sims(reference), axis=1)[:, :3]
    nearest = sims(int8.embed(chunks)).argmax(axis=1)
    assert np.mean([nearest[i] in ref_top3[i] for i in range(len(chunks))]) >= 0.9


def test_a_vector_does_not_depend_on_its_batch_mates(int8, chunks):
    # Dynamic int8 quantization scales each run's activations together, so the engine runs every
    # text alone; indexing (embed) and querying (embed_query) then agree exactly.
    together = int8.embed(chunks[:8])
    alone = np.stack([int8.embed_query(c) for c in chunks[:8]])
    np.testing.assert_array_equal(together, alone)


def test_cached_models_sit_beside_the_weights_with_sidecars(int8, fp32, cache_root):
    for emb, variant in ((int8, "int8"), (fp32, "fp32")):
        assert emb.model_path == onnx_cache.cached_model_path(cache_root, variant, onnx_cache.BUILDER_VERSION)
        assert onnx_cache.is_valid(emb.model_path)
    assert int8.model_path.stat().st_size < fp32.model_path.stat().st_size
    assert not list(cache_root.glob(".*tmp-*"))


def test_warm_start_neither_builds_nor_imports_onnx(int8, cache_root):
    """A fresh process over a valid cache: the builder and its `onnx` dependency stay unloaded."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cidx.embed.onnx_minilm import OnnxMiniLM\n"
        "def no_build(self): raise SystemExit('built although a valid model is cached')\n"
        "OnnxMiniLM._build = no_build\n"
        f"emb = OnnxMiniLM(cache_dir=Path({str(cache_root)!r}), variant='int8')\n"
        "sys.stdout.buffer.write(emb.embed_query('open a socket').tobytes())\n"
        "assert 'onnx' not in sys.modules and 'cidx.embed.onnx_build' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    vector = np.frombuffer(proc.stdout, dtype=np.float32)
    np.testing.assert_array_equal(vector, int8.embed_query("open a socket"))


def test_truncated_cached_model_is_rebuilt(tmp_path):
    emb = OnnxMiniLM(cache_dir=tmp_path, variant="fp32")
    good = emb.model_path.read_bytes()
    expected = emb.embed_query("parse the config file")
    with open(emb.model_path, "r+b") as fh:
        fh.truncate(len(good) // 3)
    again = OnnxMiniLM(cache_dir=tmp_path, variant="fp32")
    assert again.model_path.read_bytes() == good
    np.testing.assert_array_equal(again.embed_query("parse the config file"), expected)


def test_damaged_model_with_a_matching_sidecar_is_rebuilt(tmp_path):
    """Same size, same mtime, garbage inside (e.g. written behind our back): ORT refuses it, so
    the sidecar is dropped and the model built again."""
    import os

    emb = OnnxMiniLM(cache_dir=tmp_path, variant="fp32")
    st = emb.model_path.stat()
    good = emb.model_path.read_bytes()
    emb.model_path.write_bytes(b"\xff" * st.st_size)
    os.utime(emb.model_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert onnx_cache.is_valid(emb.model_path)  # the cheap check cannot see it...
    again = OnnxMiniLM(cache_dir=tmp_path, variant="fp32")  # ...ORT's load failure does
    assert again.model_path.read_bytes() == good
