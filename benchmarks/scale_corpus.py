"""The synthetic corpus of the scale benchmark (benchmarks/scale.py) and its pure helpers.

An index of a million chunks cannot be embedded on this machine (tens of hours), so the corpus is
made: real-looking metadata (`pkg<p>/mod<m>.py`, 20 chunks per file, 12 lines each, python), chunk
texts drawn from real source lines of the standard library, and seeded vectors. Everything about a
file is a function of (seed, file number, version), so a benchmark can replace a file ("someone
edited it") and still know every live vector for the exact search that recall is measured against.

Vectors (`kind`):
- `clustered` (default): package topic + file topic + noise, normalised; chunks of one file have a
  cosine of ~0.7, of one package ~0.45, of unrelated files ~0; roughly the structure real code
  embeddings have, so HNSW recall figures mean something.
- `random`: uniform random unit vectors (the hardest case for HNSW: no neighbourhood structure).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

DIM = 384
CHUNKS_PER_FILE = 20
LINES_PER_CHUNK = 12
FILES_PER_PACKAGE = 100
KINDS = ("clustered", "random")


def normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def text_pool(source: Path, *, max_files: int = 400, min_chars: int = 150, max_chars: int = 300) -> list[str]:
    """Snippets of consecutive non-blank source lines, each 150-300 characters, from up to
    `max_files` .py files spread over `source` (sorted, every k-th): realistic words for Tantivy."""
    files = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "site-packages", "test", "tests"))
        files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    step = max(1, len(files) // max_files)
    pool: list[str] = []
    for path in files[::step][:max_files]:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        pool.extend(snippets(lines, min_chars=min_chars, max_chars=max_chars))
    return pool


def snippets(lines: list[str], *, min_chars: int = 150, max_chars: int = 300) -> list[str]:
    """Cut lines into snippets of at least `min_chars` (whole lines) and at most `max_chars`
    (a line that would pass the maximum ends the snippet; a single overlong line is cut)."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = line.rstrip()
        if not line.strip():
            continue
        if size and size + len(line) + 1 > max_chars:
            if size >= min_chars:
                out.append("\n".join(current))
            current, size = [], 0
        current.append(line[:max_chars])
        size += len(current[-1]) + (1 if size else 0)
        if size >= min_chars:
            out.append("\n".join(current))
            current, size = [], 0
    return out


class Corpus:
    """Files 0..files-1, each CHUNKS_PER_FILE chunks; row r = file * CHUNKS_PER_FILE + chunk."""

    def __init__(self, files: int, *, seed: int, kind: str, pool: list[str]):
        if kind not in KINDS:
            raise ValueError(f"unknown vector kind {kind!r}; one of {', '.join(KINDS)}")
        if not pool:
            raise ValueError("the text pool is empty")
        self.files, self.seed, self.kind, self.pool = files, seed, kind, pool
        self.version = np.zeros(files, dtype=np.int32)  # edits so far; every edit shifts lines by one

    @property
    def rows(self) -> int:
        return self.files * CHUNKS_PER_FILE

    @staticmethod
    def path(f: int) -> str:
        return f"pkg{f // FILES_PER_PACKAGE}/mod{f % FILES_PER_PACKAGE}.py"

    def start_line(self, f: int, c: int) -> int:
        return 1 + int(self.version[f]) + c * LINES_PER_CHUNK

    def key(self, f: int, c: int) -> tuple[str, int]:
        return self.path(f), self.start_line(f, c)

    def row_of(self, path: str, start_line: int) -> int:
        """The live row a search hit (path, start line) stands for; -1 if it is no live chunk."""
        try:
            pkg, mod = path.split("/", 1)
            f = int(pkg[3:]) * FILES_PER_PACKAGE + int(mod[3:-3])
        except (ValueError, IndexError):
            return -1
        if not 0 <= f < self.files:
            return -1
        c, rest = divmod(start_line - 1 - int(self.version[f]), LINES_PER_CHUNK)
        if rest or not 0 <= c < CHUNKS_PER_FILE:
            return -1
        return f * CHUNKS_PER_FILE + c

    def vectors(self, f: int) -> np.ndarray:
        """(CHUNKS_PER_FILE, DIM) float32 unit vectors of file f at its current version."""
        rng = np.random.default_rng([self.seed, f, int(self.version[f])])
        noise = rng.standard_normal((CHUNKS_PER_FILE, DIM), dtype=np.float32)
        if self.kind == "random":
            return normalise(noise)
        topic = np.random.default_rng([self.seed, f // FILES_PER_PACKAGE, 1 << 30]).standard_normal(DIM, dtype=np.float32)
        own = np.random.default_rng([self.seed, f, 1 << 31]).standard_normal(DIM, dtype=np.float32)
        return normalise(normalise(topic) + 0.7 * normalise(own) + 0.8 * normalise(noise))

    def texts(self, f: int) -> list[str]:
        rng = np.random.default_rng([self.seed, f, int(self.version[f]), 7])
        picks = rng.integers(0, len(self.pool), CHUNKS_PER_FILE)
        return [self.pool[int(i)] for i in picks]

    def file_hash(self, f: int) -> str:
        return hashlib.sha1(f"{self.seed}:{f}:{int(self.version[f])}".encode()).hexdigest()

    def chunk_hash(self, f: int, c: int, text: str) -> str:
        return hashlib.sha1(f"{self.file_hash(f)}:{c}:{text}".encode()).hexdigest()


def queries_near(matrix: np.ndarray, count: int, *, seed: int, noise: float = 0.6) -> np.ndarray:
    """`count` query vectors, each a random live chunk's vector plus noise (cosine ~0.85 to it):
    queries that land in populated regions, as real queries do."""
    rng = np.random.default_rng([seed, 99])
    picks = rng.integers(0, len(matrix), count)
    jitter = normalise(rng.standard_normal((count, matrix.shape[1]), dtype=np.float32))
    return normalise(matrix[picks] + noise * jitter)


def exact_topk(matrix: np.ndarray, queries: np.ndarray, k: int, *, block: int = 131_072) -> np.ndarray:
    """Row numbers of the k rows of `matrix` with the highest dot product with each query (best
    first), by brute force in blocks of rows (memory: queries x block floats at a time). With unit
    rows this is exact cosine kNN."""
    queries = np.asarray(queries, dtype=np.float32)
    k = min(k, len(matrix))
    best_idx = np.empty((len(queries), 0), dtype=np.int64)
    best_val = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(matrix), block):
        scores = queries @ matrix[start:start + block].T
        take = min(k, scores.shape[1])
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        best_idx = np.concatenate([best_idx, part + start], axis=1)
        best_val = np.concatenate([best_val, np.take_along_axis(scores, part, axis=1)], axis=1)
        if best_idx.shape[1] > k:
            keep = np.argpartition(-best_val, k - 1, axis=1)[:, :k]
            best_idx = np.take_along_axis(best_idx, keep, axis=1)
            best_val = np.take_along_axis(best_val, keep, axis=1)
    order = np.argsort(-best_val, axis=1, kind="stable")
    return np.take_along_axis(best_idx, order, axis=1)


def recall_at_k(found: list[list[int]], exact: list[list[int]], k: int) -> float:
    """Mean over queries of |found[:k] & exact[:k]| / |exact[:k]| (rows; -1 = not a live row)."""
    if not exact:
        return float("nan")
    total = 0.0
    for got, truth in zip(found, exact, strict=True):
        truth = set(list(truth)[:k])
        total += len(set(got[:k]) & truth) / len(truth) if truth else 1.0
    return total / len(exact)


def vm_status(field: str = "VmRSS") -> int:
    """Bytes of /proc/self/status `field` (VmRSS: resident now; VmHWM: peak resident); 0 if unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def dir_bytes(path: Path) -> int:
    """Apparent size of every file under `path` (hard links counted once)."""
    seen, total = set(), 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total
