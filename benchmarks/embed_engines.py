"""The local embedding engines side by side on the same real code chunks, in one run, interleaved:
numpy reference, ONNX Runtime fp32, ONNX Runtime int8. Prints bulk chunks/s (median of rounds),
query-embedding latency (median, p99), and int8's cosine to fp32.

    PYTHONPATH=. python benchmarks/embed_engines.py [--chunks 128] [--rounds 3] [--queries 50]

The machine may be shared: rounds are interleaved across engines and the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cidx.embed.local_minilm import LocalMiniLM  # noqa: E402
from cidx.embed.onnx_minilm import OnnxMiniLM  # noqa: E402
from cidx.source.chunker import chunk_text  # noqa: E402

SOURCES = ("json/decoder.py", "http/cookiejar.py", "argparse.py", "textwrap.py", "csv.py", "shlex.py",
           "logging/__init__.py", "email/message.py")
QUERIES = ("parse command line arguments", "read a file and decode its contents", "open a network socket",
           "compute a hash digest of data", "retry after an error with a timeout")


def code_chunks(n: int) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chunks = [c.text for name in SOURCES for c in chunk_text((stdlib / name).read_text(encoding="utf-8"))]
    return chunks[::max(1, len(chunks) // n)][:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    chunks = code_chunks(args.chunks)
    engines = {"numpy": LocalMiniLM(), "ort-fp32": OnnxMiniLM(variant="fp32"), "ort-int8": OnnxMiniLM(variant="int8")}
    tokens = [len(e.ids) for e in engines["numpy"].tokenizer.encode_batch(chunks)]
    print(f"{len(chunks)} chunks, mean {statistics.mean(tokens):.0f} tokens; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; cores {os.cpu_count()}")
    for emb in engines.values():  # warm-up: sessions, caches
        emb.embed(chunks[:4])
        emb.embed_query(QUERIES[0])
    bulk = {k: [] for k in engines}
    query = {k: [] for k in engines}
    vectors = {}
    for _ in range(args.rounds):
        for name, emb in engines.items():
            t0 = time.perf_counter()
            vectors[name] = emb.embed(chunks)
            bulk[name].append(len(chunks) / (time.perf_counter() - t0))
        for i in range(args.queries):
            for name, emb in engines.items():
                t0 = time.perf_counter()
                emb.embed_query(QUERIES[i % len(QUERIES)])
                query[name].append((time.perf_counter() - t0) * 1e3)
    print(f"{'engine':10} {'chunks/s (median)':>18} {'min..max':>14} {'query ms p50':>13} {'p99':>7}")
    for name in engines:
        q = sorted(query[name])
        p99 = q[min(len(q) - 1, int(0.99 * len(q)))]
        print(f"{name:10} {statistics.median(bulk[name]):18.1f} {min(bulk[name]):6.1f}..{max(bulk[name]):<6.1f} "
              f"{statistics.median(q):13.2f} {p99:7.2f}")
    cos = (vectors["ort-int8"] * vectors["ort-fp32"]).sum(axis=1)
    diff = abs(vectors["ort-fp32"] - vectors["numpy"]).max()
    print(f"int8 cosine to fp32: min {cos.min():.4f} mean {cos.mean():.4f}; fp32 vs numpy max |diff| {diff:.1e}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
