"""Pipelined indexer vs another checkout, side by side in one run: chunks/s and peak RSS of a
standalone `cidx index --clear` on the same small corpus (ADR 0019).

    python benchmarks/index_pipeline.py --baseline /work/main --files 30 --rounds 2

Each (checkout, round) is a fresh process (PYTHONPATH = that checkout) indexing a fresh copy of the
corpus with the local model; rounds alternate checkouts so machine load hits both alike. Peak RSS is
the child's ru_maxrss. The load average is printed: this machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from cidx.config import Config, write_config
from cidx.embed import make_embedder
from cidx.indexer import run_index
config = Config(root=Path(sys.argv[1]))
write_config(config)
embedder = make_embedder(config.embedding)
embedder.embed(["warm up"])
t0 = time.perf_counter()
s = run_index(config, embedder, clear=True)
wall = time.perf_counter() - t0
print(json.dumps({"chunks": s.chunks_indexed, "embedded": s.chunks_embedded, "wall": wall,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def corpus(dest: Path, source: Path, files: int) -> None:
    picked = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)[:files]
    for p in picked:
        target = dest / p.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)


def one(checkout: Path, source: Path, files: int, cache: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="cidx-pipe-") as tmp:
        repo = Path(tmp) / "repo"
        corpus(repo, source, files)
        env = {**os.environ, "PYTHONPATH": str(checkout), "CIDX_MODEL_CACHE": cache}
        out = subprocess.run([sys.executable, "-c", CHILD, str(repo)], env=env, capture_output=True,
                             text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, required=True)
    ap.add_argument("--source", type=Path, default=Path("/root/.pyenv/versions/3.11.7/lib/python3.11/email"))
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cache = os.environ.get("CIDX_MODEL_CACHE", str(Path.home() / ".cache" / "cidx" / "models"))
    results: dict[str, list[dict]] = {"baseline": [], "pipeline": []}
    for _ in range(args.rounds):
        for name, checkout in (("baseline", args.baseline), ("pipeline", here)):
            results[name].append(one(checkout, args.source, args.files, cache))
    print(f"load average before/after: {os.getloadavg()}")
    for name, runs in results.items():
        rates = [r["embedded"] / r["wall"] for r in runs]
        print(f"{name:9s} chunks={runs[0]['chunks']} chunks/s median {statistics.median(rates):.1f} "
              f"({', '.join(f'{r:.1f}' for r in rates)}); peak RSS MB {max(r['rss_mb'] for r in runs):.0f}")
    base = statistics.median(r["embedded"] / r["wall"] for r in results["baseline"])
    pipe = statistics.median(r["embedded"] / r["wall"] for r in results["pipeline"])
    print(f"pipeline / baseline chunks/s: {pipe / base:.2f}x")


if __name__ == "__main__":
    main()
