"""Where each store keeps its files inside `.code-indexer/index/`, and durable file helpers.

A generation N is meta.sqlite's rows committed with generation=N, fts-N/, and the HNSW segments
its segment list names: hnsw-G.bin for the generations G <= N that wrote them (ADR 0020).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

_GEN_FILE = re.compile(r"^(hnsw|fts)-(\d+)(\.bin)?(\.tmp)?$")  # .tmp: a save cut short


class IndexLayout:
    def __init__(self, index_dir: Path):
        self.dir = Path(index_dir)

    @property
    def sqlite_path(self) -> Path:
        return self.dir / "meta.sqlite"

    @property
    def lock_path(self) -> Path:
        return self.dir / "writer.lock"

    def hnsw_path(self, generation: int) -> Path:
        return self.dir / f"hnsw-{generation}.bin"

    def fts_dir(self, generation: int) -> Path:
        return self.dir / f"fts-{generation}"

    def exists(self) -> bool:
        return self.sqlite_path.is_file()

    def generation_files(self) -> list[tuple[int, Path]]:
        found = []
        if self.dir.is_dir():
            for entry in self.dir.iterdir():
                m = _GEN_FILE.match(entry.name)
                if m:
                    found.append((int(m.group(2)), entry))
        return sorted(found)

    def remove_unreferenced(self, *, fts_keep: set[int], hnsw_keep: set[int]) -> None:
        """Delete full-text generations not in `fts_keep` and segment files not in `hnsw_keep`
        (orphans of a crash, superseded generations, segments merged away by a compaction)."""
        for generation, path in self.generation_files():
            keep = fts_keep if path.name.startswith("fts-") else hnsw_keep
            if generation not in keep:
                remove_path(path)

    def disk_bytes(self) -> int:
        """Bytes the index takes: each file once, however many generations hard-link it (fts-N/ is
        built from links of fts-(N-1)/)."""
        total, seen = 0, set()
        for dirpath, _, files in os.walk(self.dir):
            for name in files:
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
        return total


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    for dirpath, _, files in os.walk(path):
        for name in files:
            fsync_file(Path(dirpath) / name)
        fsync_dir(Path(dirpath))
