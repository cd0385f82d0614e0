"""What syntax chunks cost at indexing time (issue 14): the same tree indexed from scratch twice,
side by side in one run with the same embedding engine, once with the chunking of before issue 14
(800-character line windows, no header, no names: `cidx.source.chunker.chunk_text`) and once with
today's (`cidx.index_producer.chunk_file`: syntax chunks, header, names). Prints chunk count,
indexing wall time, chunks/s and index size on disk for each (after a no-op run has collected the
previous generation's files; hard links counted once).

    .venv/bin/python benchmarks/chunker_cost.py            # the whole standard library
    .venv/bin/python benchmarks/chunker_cost.py --quick    # a 150-file subset

The "windows" run patches `chunk_file` in the indexing process (a child interpreter), so it
measures the old chunking on today's pipeline, engine and store: the difference is the chunker's.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

# Runs `cidx index` in a child interpreter; with "windows", chunk_file cuts line windows as before
# issue 14 (what is embedded and indexed is the chunk's own lines).
CHILD = r"""
import sys
from cidx import index_producer
from cidx.source.chunker import chunk_text
from cidx.source.languages import language_for
from cidx.store.writer import NewChunk

def windows(path, text):
    language = language_for(path) or "text"
    out = []
    for piece in chunk_text(text):
        h = index_producer.content_hash(piece.text)
        out.append(index_producer.PreparedChunk(
            NewChunk(piece.start_line, piece.end_line, language, h, piece.text),
            piece.text, h, index_producer.estimate_tokens(piece.text)))
    return out

if sys.argv[1] == "windows":
    index_producer.chunk_file = windows
from cidx.cli import main
sys.exit(main(["index"]))
"""


def index_once(ws: common.Workspace, chunker: str) -> dict:
    if ws.index_dir.exists():
        shutil.rmtree(ws.index_dir)  # the embedding cache lives there too: nothing reused
    common.log(f"chunker_cost: indexing {ws.files:,} files with {chunker} chunks")
    seconds, _ = common.time_cmd([common.PYTHON, "-P", "-c", CHILD, chunker], cwd=ws.root,
                                 env=common.bench_env(CIDX_NO_DAEMON="1", PYTHONPATH=str(common.PROJECT_DIR.resolve())),
                                 timeout=14400)
    files, chunks = common.index_counts(ws)
    from cidx.store.layout import IndexLayout

    # A no-op run, as the next `cidx index` would: it collects the files a reader might still have
    # been opening when the last commit landed (the generation before it, ADR 0001/0020), so the
    # size is the index's, not the index's plus one generation of leftovers.
    common.run([common.PYTHON, "-P", "-c", CHILD, chunker], cwd=ws.root,
               env=common.bench_env(CIDX_NO_DAEMON="1", PYTHONPATH=str(common.PROJECT_DIR.resolve())))
    disk = IndexLayout(ws.index_dir).disk_bytes()
    common.log(f"chunker_cost: {chunker}: {chunks:,} chunks in {seconds:.0f} s, {disk / 1e6:.0f} MB")
    return {"chunker": chunker, "files": files, "chunks": chunks, "seconds": seconds, "disk_bytes": disk}


def run(ctx: common.Context) -> dict:
    ws = ctx.ws
    common.cidx_init(ws, daemon=False)
    load = [common.loadavg()]
    runs = [index_once(ws, "windows"), index_once(ws, "syntax")]
    load.append(common.loadavg())
    before, after = runs
    rows = [[r["chunker"], r["files"], r["chunks"], r["seconds"], r["chunks"] / r["seconds"], r["disk_bytes"] / 1e6]
            for r in runs]
    rows.append(["syntax / windows", "", f"{after['chunks'] / before['chunks']:.2f}x",
                 f"{after['seconds'] / before['seconds']:.2f}x", "",
                 f"{after['disk_bytes'] / before['disk_bytes']:.2f}x"])
    t = common.table(f"chunker_cost: full standalone index, {ws.describe()}",
                     ["chunks", "files", "chunk count", "wall s", "chunks/s", "index MB"], rows,
                     note=f"same engine ({os.environ.get('CIDX_EMBED_VARIANT', 'default')}), store and "
                          f"pipeline; windows = 800-character line windows without header (before issue 14); "
                          f"load average {load[0]} -> {load[1]}")
    return {"section": "chunker_cost", "tables": [t], "raw": {"runs": runs, "loadavg": load,
                                                            "at": time.strftime("%Y-%m-%d %H:%M")},
            "checks": []}


if __name__ == "__main__":
    sys.exit(common.standalone_main("chunker_cost", run, __doc__))
