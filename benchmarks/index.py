"""Section `index`: full-index throughput (standalone `cidx index`, CIDX_NO_DAEMON=1), index size on
disk, and incremental re-index after touching one file (mtime only) and after editing one file,
against a no-change re-index, interleaved."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

SUMMARY = re.compile(r"indexed (\d+) files \((\d+) chunks; (\d+) embedded, (\d+) from cache\).*?"
                     r"([\d.]+)s \(([\d.]+) chunks/s\)", re.S)


def _parse_summary(stderr: str) -> dict:
    m = SUMMARY.search(stderr.replace("\n", " "))
    if not m:
        return {}
    keys = ("files_indexed", "chunks_indexed", "chunks_embedded", "chunks_cached", "run_seconds", "embed_rate")
    return {k: (float(v) if "." in v else int(v)) for k, v in zip(keys, m.groups())}


def _index(ws) -> tuple[float, dict]:
    seconds, stderr = common.time_cmd([*common.CIDX, "index"], cwd=ws.root,
                                      env=common.bench_env(CIDX_NO_DAEMON="1"), timeout=7200)
    return seconds, _parse_summary(stderr)


def _pick_file(ws) -> tuple[str, int]:
    """The indexed file with the median chunk count: a typical edit target."""
    conn = sqlite3.connect(f"file:{ws.index_dir / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT path, COUNT(*) FROM chunks GROUP BY path ORDER BY 2, 1").fetchall()
    finally:
        conn.close()
    path, count = rows[len(rows) // 2]
    return path, count


def run(ctx: common.Context) -> dict:
    ws = ctx.ws
    load_before = common.loadavg()
    common.cidx_init(ws, daemon=False)
    if ws.index_dir.exists():
        shutil.rmtree(ws.index_dir)  # the embedding cache lives there too: a truly full index
    common.log(f"index: full index of {ws.files:,} files (standalone)")
    full_s, summary = _index(ws)
    files, chunks = common.index_counts(ws)
    from cidx.store.layout import IndexLayout

    disk = IndexLayout(ws.index_dir).disk_bytes()
    common.log(f"index: {files} files, {chunks} chunks in {full_s:.1f}s")

    # Incremental: no change / touch (mtime only) / edit (one line inserted mid-file), interleaved.
    rel, file_chunks = _pick_file(ws)
    target = ws.root / rel
    original = target.read_bytes()
    stat0 = target.stat()
    runs = 5
    samples = {"no change": [], "touch (mtime only)": [], "edit one line": []}
    details = {k: [] for k in samples}
    try:
        for i in range(runs):
            s, info = _index(ws)
            samples["no change"].append(s)
            details["no change"].append(info)

            now = time.time_ns()
            os.utime(target, ns=(now, now))
            s, info = _index(ws)
            samples["touch (mtime only)"].append(s)
            details["touch (mtime only)"].append(info)

            lines = original.split(b"\n")
            mid = len(lines) // 2
            edited = b"\n".join([*lines[:mid], f"# cidx benchmark edit {i} {time.time_ns()}".encode(), *lines[mid:]])
            target.write_bytes(edited)
            s, info = _index(ws)
            samples["edit one line"].append(s)
            details["edit one line"].append(info)
    finally:
        target.write_bytes(original)
        os.utime(target, ns=(stat0.st_atime_ns, stat0.st_mtime_ns))
        _index(ws)  # the index matches the tree again for the other sections

    inc_stats = {k: common.stats(v) for k, v in samples.items()}
    base = inc_stats["no change"]["median"]

    t1 = common.table(
        f"index: full standalone index ({'quick subset' if ctx.quick else 'full'})",
        ["files", "chunks", "wall s", "chunks/s (wall)", "in-run s", "chunks/s (embed)", "index MB", "source MB",
         "index/source"],
        [[files, chunks, full_s, chunks / full_s if full_s else 0.0, summary.get("run_seconds"),
          summary.get("embed_rate"), disk / 1e6, ws.bytes / 1e6, f"{disk / ws.bytes:.2f}x"]],
        note="wall = `CIDX_NO_DAEMON=1 cidx index` as a subprocess (imports, model load, scan, embed, commit); "
             "in-run and embed rate from its summary line")
    rows = []
    for name, st in inc_stats.items():
        embedded = [d.get("chunks_embedded") for d in details[name] if d]
        rows.append([name, st["n"], st["median"] * 1e3, st["p90"] * 1e3, st["min"] * 1e3,
                     f"{st['median'] / base:.2f}x" if base else "-",
                     "-" if not embedded else str(sorted(embedded)[len(embedded) // 2])])
    t2 = common.table(
        f"index: incremental re-index of {rel} ({file_chunks} chunks), ms",
        ["change", "runs", "median", "p90", "min", "vs no change", "chunks embedded"], rows,
        note="each run is a fresh `CIDX_NO_DAEMON=1 cidx index` process; the three kinds are interleaved")
    return {
        "section": "index",
        "tables": [t1, t2],
        "raw": {"files": files, "chunks": chunks, "full_seconds": full_s, "summary": summary,
                "disk_bytes": disk, "source_bytes": ws.bytes, "source_files_copied": ws.files,
                "incremental_file": rel, "incremental_file_chunks": file_chunks,
                "incremental_seconds": samples, "incremental_details": details,
                "loadavg": [load_before, common.loadavg()]},
        "checks": [],
    }


if __name__ == "__main__":
    sys.exit(common.standalone_main("index", run, __doc__))
