"""Chunk metadata, the file manifest, the embedding cache and the generation pointer, in SQLite.

The SQLite transaction that writes `state.generation` is the commit point of a generation: the HNSW
file and the Tantivy directory of that generation are durable before it runs. WAL mode gives every
reader a snapshot, so a reader that reads the generation and the chunk rows in one read transaction
sees one consistent generation even while a writer commits the next one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from cidx.fastpath.errors import DiskFullError, StoreCorruptError

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
    language TEXT NOT NULL, hash TEXT NOT NULL, text TEXT NOT NULL, names TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks(path);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL, hash TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, hash));
"""


@dataclass(frozen=True)
class ChunkRow:
    id: int
    path: str
    start_line: int
    end_line: int
    language: str
    hash: str
    text: str


@dataclass(frozen=True)
class FileRow:
    path: str
    size: int
    mtime_ns: int
    hash: str


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open the metadata DB. Readers pass create=False and never write to it."""
    if not create and not path.is_file():
        raise StoreCorruptError(f"{path}: missing; run `cidx index`")
    try:
        conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        if create:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            _add_names_column(conn)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("SELECT count(*) FROM state").fetchone()
        return conn
    except sqlite3.DatabaseError as exc:
        check_disk_space(path.parent, exc)
        raise StoreCorruptError(f"{path}: unreadable index metadata ({exc}); run `cidx index --clear`") from None


def _add_names_column(conn: sqlite3.Connection) -> None:
    """Indexes written before the names field (ADR 0013) lack the column: add it, empty. The next
    `cidx index` rebuilds such an index anyway (its format id is older), filling it."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
    if "names" not in columns:
        conn.execute("ALTER TABLE chunks ADD COLUMN names TEXT NOT NULL DEFAULT ''")


FULL_DISK_MARKERS = ("database or disk is full", "no space left on device", "disk i/o error")


def check_disk_space(directory: Path, exc: BaseException) -> None:
    """Raise DiskFullError when `exc` is (or may be) a full disk: advising a rebuild would not help."""
    import errno
    import shutil

    text = str(exc).lower()
    full = getattr(exc, "errno", None) == errno.ENOSPC or "database or disk is full" in text \
        or "no space left on device" in text
    if not full and any(m in text for m in FULL_DISK_MARKERS):
        try:
            full = shutil.disk_usage(directory).free < 1 << 20
        except OSError:
            full = False
    if full:
        raise DiskFullError(f"no space left on the disk holding {directory}; free some space and retry "
                            "(what was committed is intact)") from None


def get_state(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM state").fetchall())


def set_state(conn: sqlite3.Connection, values: dict[str, object]) -> None:
    conn.executemany(
        "INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(k, str(v)) for k, v in values.items()],
    )


def load_manifest(conn: sqlite3.Connection) -> dict[str, FileRow]:
    return {r[0]: FileRow(*r) for r in conn.execute("SELECT path, size, mtime_ns, hash FROM files")}


def chunk_ids_for_paths(conn: sqlite3.Connection, paths: Iterable[str]) -> list[int]:
    ids: list[int] = []
    for path in paths:
        ids.extend(r[0] for r in conn.execute("SELECT id FROM chunks WHERE path = ?", (path,)))
    return ids


def fetch_chunks(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, ChunkRow]:
    ids = list(ids)
    found: dict[int, ChunkRow] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ",".join("?" * len(part))
        for row in conn.execute(
            f"SELECT id, path, start_line, end_line, language, hash, text FROM chunks WHERE id IN ({marks})", part
        ):
            found[row[0]] = ChunkRow(*row)
    return found


def iter_chunks(conn: sqlite3.Connection) -> Iterator[ChunkRow]:
    yield from (ChunkRow(*r) for r in conn.execute(
        "SELECT id, path, start_line, end_line, language, hash, text FROM chunks ORDER BY id"))


def iter_text_rows(conn: sqlite3.Connection) -> Iterator[tuple[int, str, str, str]]:
    """(id, path, text, names) of every chunk: what the full-text index is built from."""
    yield from conn.execute("SELECT id, path, text, names FROM chunks ORDER BY id")


def count_rows(conn: sqlite3.Connection) -> tuple[int, int]:
    files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    return files, chunks


def cached_vectors(conn: sqlite3.Connection, model: str, hashes: Iterable[str]) -> dict[str, bytes]:
    hashes = list(dict.fromkeys(hashes))
    found: dict[str, bytes] = {}
    for start in range(0, len(hashes), 500):
        part = hashes[start:start + 500]
        marks = ",".join("?" * len(part))
        for h, blob in conn.execute(
            f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})", [model, *part]
        ):
            found[h] = blob
    return found


def store_vectors(conn: sqlite3.Connection, model: str, items: Iterable[tuple[str, bytes]]) -> None:
    """Cache embeddings by content hash. Committed on its own: an interrupted index keeps them."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT OR IGNORE INTO embeddings(model, hash, vector) VALUES (?, ?, ?)",
            [(model, h, v) for h, v in items],
        )
