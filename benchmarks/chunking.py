"""Chunk counts and chunking time: the line-window chunker vs the syntax-aware one, side by side on
the same files (no embedding: chunk count is what indexing time scales with, ADR 0002/0012).

    .venv/bin/python benchmarks/chunking.py                 # the Python stdlib (no site-packages/test/idlelib)
    .venv/bin/python benchmarks/chunking.py --set c=/usr/include:.h --repeat 3

Prints, per file set: files, MB, chunks of each chunker, median seconds of `--repeat` runs, files that
fell back to line windows (parse errors), mean characters per chunk and chunks over 800 characters.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DEFAULT_EXCLUDES, DEFAULT_REPO  # noqa: E402
from cidx.source import grammars  # noqa: E402
from cidx.source.chunker import chunk_text, split_lines  # noqa: E402
from cidx.source.discover import decode_source  # noqa: E402
from cidx.source.syntax_chunker import chunk_source  # noqa: E402


def load(root: Path, suffixes: tuple[str, ...]) -> list[str]:
    paths = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in DEFAULT_EXCLUDES and d != "__pycache__")
        paths += [Path(folder) / n for n in sorted(names) if n.endswith(suffixes)]
    texts = (decode_source(p.read_bytes()) for p in paths)
    return [t for t in texts if t is not None]


def timed(fn, texts, repeat: int) -> tuple[list, float]:
    times, chunks = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        chunks = [fn(t) for t in texts]
        times.append(time.perf_counter() - t0)
    return chunks, statistics.median(times)


def describe(chunks: list) -> str:
    flat = [c for file_chunks in chunks for c in file_chunks]
    over = sum(1 for c in flat if len(c.text) > 800)
    mean = sum(len(c.text) for c in flat) / max(len(flat), 1)
    return f"{len(flat)} chunks, mean {mean:.0f} chars, {over} over 800 chars"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", action="append", default=None,
                   help="LANGUAGE=ROOT:SUFFIX[,SUFFIX] (default python=<stdlib>:.py)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    for spec in args.set or [f"python={DEFAULT_REPO}:.py"]:
        language, rest = spec.split("=", 1)
        root, suffixes = rest.rsplit(":", 1)
        texts = load(Path(root), tuple(suffixes.split(",")))
        megabytes = sum(len(t) for t in texts) / 1e6
        parser = grammars.parser_for(language)
        fallbacks = sum(1 for t in texts if parser is None
                        or parser.parse("\n".join(split_lines(t)).encode("utf-8", "surrogatepass")).root_node.has_error)
        old, old_s = timed(chunk_text, texts, args.repeat)
        new, new_s = timed(lambda t: chunk_source(t, language), texts, args.repeat)
        print(f"{language} ({root}): {len(texts)} files, {megabytes:.1f} MB, {fallbacks} fall back to line windows")
        print(f"  line windows: {describe(old)}; {old_s:.2f} s (median of {args.repeat})")
        print(f"  syntax:       {describe(new)}; {new_s:.2f} s (median of {args.repeat})")
        print(f"  ratio: {sum(map(len, new)) / max(sum(map(len, old)), 1):.2f}x chunks, {new_s / old_s:.1f}x time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
