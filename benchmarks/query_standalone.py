"""Section `query_standalone`: `CIDX_NO_DAEMON=1 cidx query` wall time per mode (semantic, FTS,
hybrid) beside `python -c pass` and bare imports, interleaved; and where the time goes, from a
probe that makes the CLI's calls in a fresh interpreter with perf_counter around each."""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402

MODES = ("semantic", "fts", "hybrid")
IMPORTS_CLI = "import cidx.cli"
IMPORTS_ALL = ("import cidx.cli, cidx.fastpath.params, cidx.fastpath.render, cidx.services, cidx.search.engine, "
               "cidx.store.reader, cidx.embed.local_minilm")
PROBE = Path(__file__).resolve().parent / "probes" / "standalone.py"


def run(ctx: common.Context) -> dict:
    ws = ctx.ws
    files, chunks = common.ensure_indexed(ws)
    load_before = common.loadavg()
    runs = ctx.pick(12, 5)
    probe_runs = ctx.pick(5, 3)
    env = common.bench_env(CIDX_NO_DAEMON="1")
    texts = {"semantic": common.SEMANTIC_QUERIES[0], "fts": common.FTS_QUERIES[0],
             "hybrid": common.SEMANTIC_QUERIES[0]}
    # `python -c` runs outside the workspace: its cwd goes on sys.path and the workspace may be a
    # copy of the standard library.
    commands = {
        "python -c pass": ([common.PYTHON, "-c", "pass"], ctx.out_dir),
        f"python -c '{IMPORTS_CLI}'": ([common.PYTHON, "-c", IMPORTS_CLI], ctx.out_dir),
        "python -c 'import <all a query uses>'": ([common.PYTHON, "-c", IMPORTS_ALL], ctx.out_dir),
        **{f"cidx query ({m})": (common.query_argv(m, texts[m]), ws.root) for m in MODES},
    }
    samples: dict[str, list[float]] = {k: [] for k in commands}
    rng = random.Random(42)
    common.log(f"query_standalone: {runs} interleaved rounds of {len(commands)} commands")
    for name, (argv, cwd) in commands.items():  # one warm-up each: page cache, bytecode
        common.time_cmd(argv, cwd=cwd, env=env)
    for _ in range(runs):
        order = list(commands)
        rng.shuffle(order)
        for name in order:
            argv, cwd = commands[name]
            seconds, _ = common.time_cmd(argv, cwd=cwd, env=env)
            samples[name].append(seconds)
    st = {k: common.stats(v) for k, v in samples.items()}
    base = st["python -c pass"]["median"]

    common.log(f"query_standalone: breakdown probe, {probe_runs} runs per mode")
    probes: dict[str, list[dict]] = {m: [] for m in MODES}
    probe_wall: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phases.json"
        for _ in range(probe_runs):
            for mode in MODES:
                argv = [common.PYTHON, str(PROBE), str(ws.root), str(out), texts[mode], *common.MODE_FLAGS[mode]]
                seconds, _ = common.time_cmd(argv, cwd=ws.root, env=env)
                probe_wall[mode].append(seconds)
                probes[mode].append(json.loads(out.read_text()))

    rows = [[name, s["n"], s["median"] * 1e3, s["p90"] * 1e3, s["min"] * 1e3, f"{s['median'] / base:.1f}x"]
            for name, s in st.items()]
    t1 = common.table("query_standalone: wall time per process, ms (interleaved, shuffled)",
                      ["command", "runs", "median", "p90", "min", "/ pass"], rows,
                      note=f"index: {files:,} files, {chunks:,} chunks; CIDX_NO_DAEMON=1; default output "
                           "to a pipe")

    phase_names: list[str] = []
    for mode in MODES:
        for d in probes[mode]:
            for k in d:
                if not k.startswith("_") and k not in phase_names:
                    phase_names.append(k)
    med = {m: {k: common.percentile([d[k] for d in probes[m] if k in d], 50) if any(k in d for d in probes[m])
               else None for k in phase_names} for m in MODES}
    wall = {m: common.percentile(probe_wall[m], 50) * 1e3 for m in MODES}
    inproc = {m: common.percentile([d["_in_process_total"] for d in probes[m]], 50) for m in MODES}
    rows = []
    for k in phase_names:
        rows.append([k, *[med[m][k] if med[m][k] is not None else "-" for m in MODES]])
    rows.append(["interpreter start + exit (wall - in-process)", *[wall[m] - inproc[m] for m in MODES]])
    rows.append(["probe wall total", *[wall[m] for m in MODES]])
    rows.append(["(python -c pass, same run)", *[base * 1e3] * 3])
    t2 = common.table("query_standalone: where the time goes, ms (medians of fresh-process probes)",
                      ["phase", *MODES], rows,
                      note="model load = make_embedder (numpy MiniLM + tokenizer); index load = HNSW + Tantivy + "
                           "SQLite of the first snapshot; FTS never loads the model")
    return {
        "section": "query_standalone",
        "tables": [t1, t2],
        "raw": {"seconds": samples, "stats": st, "probe_phases_ms": probes, "probe_wall_s": probe_wall,
                "texts": texts, "index": {"files": files, "chunks": chunks},
                "loadavg": [load_before, common.loadavg()]},
        "checks": [],
    }


if __name__ == "__main__":
    sys.exit(common.standalone_main("query_standalone", run, __doc__))
