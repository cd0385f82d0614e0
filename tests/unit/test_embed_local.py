"""Every local engine (ONNX Runtime int8, the default; ORT fp32; the numpy reference) against the model
card, and the batching invariants the indexer relies on."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cidx.config import EmbeddingConfig
from cidx.embed import make_embedder
from cidx.embed.local_minilm import DIM, MAX_SEQ_LENGTH, LocalMiniLM

CARD = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


# How far each engine may be from the model card's figures. int8 dynamic quantization moves the
# card's pairs by up to 0.02 (measured: 0.6500 / 0.1238 / 0.1454); fp32 engines are within 1e-4.
CARD_TOLERANCE = {"int8": 0.03, "fp32": 1e-3, "numpy": 1e-3}
NAMES = {"int8": "local:all-MiniLM-L6-v2+int8", "fp32": "local:all-MiniLM-L6-v2", "numpy": "local:all-MiniLM-L6-v2"}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module", params=["int8", "fp32", "numpy"])
def model(request, cache_root) -> LocalMiniLM:
    mp = pytest.MonkeyPatch()
    mp.setenv("CIDX_EMBED_VARIANT", request.param)
    try:
        emb = make_embedder(EmbeddingConfig(batch_size=4), cache_dir=cache_root)
    finally:
        mp.undo()
    emb.variant_under_test = request.param
    return emb


def _code(i: int, words: int) -> str:
    return "\n".join(f"def helper_{i}_{j}(value, count={j}):\n    return value * count + {i}" for j in range(words))


def test_identity(model):
    assert model.name == NAMES[model.variant_under_test]
    assert model.dim == DIM == 384


def test_default_engine_is_onnx_int8(monkeypatch, cache_root):
    from cidx.embed.onnx_minilm import OnnxMiniLM

    monkeypatch.delenv("CIDX_EMBED_VARIANT", raising=False)
    emb = make_embedder(EmbeddingConfig(), cache_dir=cache_root)
    assert isinstance(emb, OnnxMiniLM) and emb.variant == "int8"


def test_unknown_variant_is_a_clear_error(monkeypatch, cache_root):
    from cidx.fastpath.errors import EmbeddingError

    monkeypatch.setenv("CIDX_EMBED_VARIANT", "fp16")
    with pytest.raises(EmbeddingError, match="CIDX_EMBED_VARIANT='fp16' is not one of int8, fp32, numpy"):
        make_embedder(EmbeddingConfig(), cache_dir=cache_root)


def test_model_card_similarities(model):
    vecs = model.embed(CARD)
    sims = vecs @ vecs.T
    tol = CARD_TOLERANCE[model.variant_under_test]
    assert sims[0, 1] == pytest.approx(0.6660, abs=tol)
    assert sims[0, 2] == pytest.approx(0.1046, abs=tol)
    assert sims[1, 2] == pytest.approx(0.1411, abs=tol)
    assert sims[0, 1] > sims[1, 2] > sims[0, 2]  # the card's ranking holds at any tolerance


def test_rows_are_float32_unit_vectors(model):
    vecs = model.embed(CARD + ["", "x"])
    assert vecs.dtype == np.float32 and vecs.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_batched_equals_one_by_one(model):
    # Mixed lengths, more texts than batch_size (4), deliberately unsorted: exercises padding,
    # the length sort and the order restore.
    texts = [_code(0, 12), "short", CARD[1], _code(1, 3), "", _code(2, 30), "a b c", CARD[0], _code(3, 1)]
    batched = model.embed(texts)
    single = np.stack([model.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=2e-5)
    # Order really is restored: each row is closest to its own single embedding.
    assert list(np.argmax(batched @ single.T, axis=1)) == list(range(len(texts)))


def test_embed_query_matches_embed(model):
    q = model.embed_query(CARD[2])
    assert q.shape == (384,) and q.dtype == np.float32
    np.testing.assert_allclose(q, model.embed([CARD[2]])[0], atol=1e-6)


def test_empty_input(model):
    out = model.embed([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_long_input_truncated_at_256_tokens(model):
    long_text = _code(7, 400)  # thousands of tokens
    assert len(model.tokenizer.encode(long_text).ids) == MAX_SEQ_LENGTH == 256
    a, b = model.embed([long_text, long_text + "\nclass Completely(Different): pass"])
    np.testing.assert_allclose(a, b, atol=1e-6)  # the tail beyond the window is ignored


def test_window_is_not_the_bundled_128(model):
    # tokenizer.json ships with truncation at 128; tokens past 128 must still count.
    base = " ".join(["token"] * 180)
    ids = model.tokenizer.encode(base + " zebra").ids
    assert 150 < len(ids) <= 256
    a, b = model.embed([base + " zebra giraffe", base + " spreadsheet invoice"])
    assert float(a @ b) < 0.9999


def test_no_fixed_padding(model):
    assert len(model.tokenizer.encode("hi").ids) == 3  # [CLS] hi [SEP], not padded to 128


def test_weight_package_is_never_imported(model):
    assert "all_minilm_l6_v2" not in sys.modules
