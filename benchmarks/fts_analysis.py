"""The cost of the code-aware text analysis (ADR 0013) at indexing time, measured side by side.

Builds the full-text index of a tree's chunks (the indexer's chunker) three ways in one run, each
REPEAT times, and prints the medians: the v2 analysis as cidx writes it (`FtsGenerationWriter`,
fields words/words_cs), the analysis alone (`index_terms`, both cases), and the v1 baseline (Tantivy's
`\\w+` regex tokenizer, lower-cased and case-kept fields, no Python analysis).

    .venv/bin/python benchmarks/fts_analysis.py [--repo PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tantivy  # noqa: E402

from cidx.source.chunker import chunk_text  # noqa: E402
from cidx.store import fts  # noqa: E402
from cidx.fastpath.analysis import index_terms  # noqa: E402

DEFAULT_REPO = "/root/.pyenv/versions/3.11.7/lib/python3.11/email"


def load_chunks(repo: Path) -> list[tuple[str, str]]:
    chunks = []
    for directory, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".git", ".code-indexer")]
        for name in sorted(files):
            if name.endswith(".py"):
                path = Path(directory, name)
                text = path.read_text(encoding="utf-8", errors="replace")
                chunks.extend((str(path.relative_to(repo)), c.text) for c in chunk_text(text))
    return chunks


def build_v2(chunks, workdir: Path) -> None:
    writer = fts.FtsGenerationWriter(None, workdir / "v2")
    for chunk_id, (path, text) in enumerate(chunks):
        writer.add(chunk_id, path, text)
    writer.commit()


def analysis_only(chunks, workdir: Path) -> None:
    for _, text in chunks:
        index_terms(text, lowercase=True)
        index_terms(text, lowercase=False)


def build_v1(chunks, workdir: Path) -> None:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    sb.add_text_field("path", stored=False, tokenizer_name="raw")
    sb.add_text_field("content", stored=False, tokenizer_name="code")
    sb.add_text_field("content_cs", stored=False, tokenizer_name="code_cs")
    (workdir / "v1").mkdir()
    index = tantivy.Index(sb.build(), path=str(workdir / "v1"))
    regex = tantivy.Tokenizer.regex(r"\w+")
    index.register_tokenizer("code", tantivy.TextAnalyzerBuilder(regex).filter(tantivy.Filter.lowercase()).build())
    index.register_tokenizer("code_cs", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"\w+")).build())
    writer = index.writer(heap_size=fts.WRITER_HEAP_BYTES, num_threads=1)
    for chunk_id, (path, text) in enumerate(chunks):
        doc = tantivy.Document()
        doc.add_unsigned("chunk_id", chunk_id)
        doc.add_text("path", path)
        doc.add_text("content", text)
        doc.add_text("content_cs", text)
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default=DEFAULT_REPO)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chunks = load_chunks(Path(args.repo))
    chars = sum(len(t) for _, t in chunks)
    print(f"{len(chunks)} chunks, {chars / 1e6:.1f} MB of text from {args.repo}; load {os.getloadavg()[0]:.1f}")
    times: dict[str, list[float]] = {"v1 Tantivy regex tokenizer": [], "v2 FtsGenerationWriter": [],
                                     "v2 analysis alone": []}
    for _ in range(args.repeat):  # interleaved, so a load change hits every variant alike
        for name, build in zip(times, (build_v1, build_v2, analysis_only)):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                build(chunks, Path(tmp))
                times[name].append(time.perf_counter() - started)
    base = statistics.median(times["v1 Tantivy regex tokenizer"])
    print(f"| build | median s | ms per chunk | vs v1 |\n| --- | --- | --- | --- |")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"| {name} | {median:.2f} | {median / len(chunks) * 1e3:.3f} | {median / base:.1f}x |")


if __name__ == "__main__":
    main()
