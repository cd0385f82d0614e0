"""Scale benchmark (issue 17 item 3): an index of N chunks built without embedding, then what keeping
it fresh costs: one-file commit, the refresh of a warm reader, "searchable within", semantic query
latency and recall@10 after 0, 5 and 20 one-file commits, RSS, disk size, compaction.

    PYTHONPATH=. python benchmarks/scale.py --chunks 100000 [--json out.json]

It uses only the store's public API (StoreWriter(...).commit(Batch), IndexReader(...).snapshot(),
SearchEngine over that reader), so the same file measures the store before and after segments.
The corpus is benchmarks/scale_corpus.py. Queries go through SearchEngine with an "embedder" that
looks the query's vector up in a table (no model: the vectors are synthetic).
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402
from benchmarks import scale_corpus as sc  # noqa: E402
from cidx.fastpath.params import ACCURACY_EF, QueryParams  # noqa: E402
from cidx.search.engine import SearchEngine  # noqa: E402
from cidx.store import vectors as store_vectors  # noqa: E402
from cidx.store.layout import IndexLayout  # noqa: E402
from cidx.store.metadata import FileRow  # noqa: E402
from cidx.store.reader import IndexReader  # noqa: E402
from cidx.store.writer import Batch, NewChunk, StoreWriter  # noqa: E402

MODEL = "bench:synthetic-384"
K = 10
DELTA_POINTS = (0, 5, 20)
TIMED_COMMITS = 5  # the one-file commit time is the median of the first five


class TableEmbedder:
    """Stands in for the model: a query's text is a key into a table of vectors."""

    name = MODEL

    def __init__(self):
        self.table: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        return self.table[text]


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.PROJECT_DIR,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def file_batch(corpus: sc.Corpus, files, matrix: np.ndarray) -> Batch:
    """A batch that (re)writes `files` at their current version; their rows of `matrix` follow."""
    batch = Batch()
    for f in files:
        f = int(f)
        texts, vecs = corpus.texts(f), corpus.vectors(f)
        chunks = [NewChunk(corpus.start_line(f, c), corpus.start_line(f, c) + sc.LINES_PER_CHUNK - 1, "python",
                           corpus.chunk_hash(f, c, t), t) for c, t in enumerate(texts)]
        size = sum(len(t) + 1 for t in texts)
        batch.replace_file(FileRow(corpus.path(f), size, 1_700_000_000_000_000_000 + f, corpus.file_hash(f)),
                           chunks, vecs)
        matrix[f * sc.CHUNKS_PER_FILE:(f + 1) * sc.CHUNKS_PER_FILE] = vecs
    return batch


def build(writer: StoreWriter, corpus: sc.Corpus, matrix: np.ndarray, files_per_commit: int) -> list[dict]:
    commits = []
    for start in range(0, corpus.files, files_per_commit):
        files = range(start, min(start + files_per_commit, corpus.files))
        t0 = time.perf_counter()
        batch = file_batch(corpus, files, matrix)
        t1 = time.perf_counter()
        writer.commit(batch)
        t2 = time.perf_counter()
        commits.append({"chunks": batch.chunk_count, "prepare_s": t1 - t0, "commit_s": t2 - t1})
        common.log(f"build: {(start + len(files)) * sc.CHUNKS_PER_FILE:,} chunks; commit {t2 - t1:.1f} s "
                   f"(batch prepared in {t1 - t0:.1f} s); RSS {sc.vm_status() / 1e9:.2f} GB; load {common.loadavg()}")
    return commits


def measure_queries(engine: SearchEngine, corpus: sc.Corpus, names: list[str], exact: np.ndarray) -> dict:
    latencies, search_ms, found = [], [], []
    for name in names:
        t0 = time.perf_counter()
        result = engine.query(QueryParams(name, "semantic", K))
        latencies.append(time.perf_counter() - t0)
        search_ms.append(result.timings_ms.get("search", float("nan")))
        found.append([corpus.row_of(h.path, h.start_line) for h in result.hits])
    st = common.stats(latencies)
    return {"median_ms": st["median"] * 1e3, "p99_ms": st["p99"] * 1e3,
            "search_median_ms": float(np.median(search_ms)),
            "recall": sc.recall_at_k(found, exact.tolist(), K), "queries": len(names)}


def one_file_commit(writer, reader, engine, embedder, corpus, matrix, f: int, i: int) -> dict:
    """Replace file f (one line inserted at its top: every chunk new, lines shifted), then time the
    refresh of the warm reader and the first query that returns the file's new first chunk."""
    corpus.version[f] += 1
    batch = file_batch(corpus, [f], matrix)
    row = f * sc.CHUNKS_PER_FILE
    probe = f"new{i}"
    embedder.table[probe] = matrix[row].copy()
    t0 = time.perf_counter()
    writer.commit(batch)
    t1 = time.perf_counter()
    with reader.snapshot():
        pass
    t2 = time.perf_counter()
    searchable = None
    for _ in range(20):  # the same generation answers the same: more tries only help a lazy refresh
        result = engine.query(QueryParams(probe, "semantic", K))
        if row in [corpus.row_of(h.path, h.start_line) for h in result.hits]:
            searchable = time.perf_counter() - t0
            break
    return {"file": f, "commit_s": t1 - t0, "refresh_s": t2 - t1, "searchable_s": searchable}


def compact_now(writer: StoreWriter, minor: bool = False) -> float | None:
    """Seconds of a full compaction if the store has one (`compact`, forced past its thresholds
    when it takes `force`); with `minor`, of a merge of every segment but the base, if the store
    has those. None on a store without them (main before segments)."""
    compact = getattr(writer, "compact", None)
    if not callable(compact):
        return None
    params = inspect.signature(compact).parameters
    if minor and "minor" not in params:
        return None
    kwargs = {"force": True} if "force" in params else {}
    if minor:
        kwargs["minor"] = True
    t = time.perf_counter()
    compact(**kwargs)
    return time.perf_counter() - t


def compact_and_measure(writer, reader, engine, corpus, names, matrix, queries, phases: dict, phase: str,
                        minor: bool = False) -> tuple[float | None, float | None]:
    """A forced compaction (minor or major), then the warm reader's refresh and the queries after
    it as phase `phase`: (compaction s, refresh s), or (None, None) on a store without that kind."""
    seconds = compact_now(writer, minor=minor)
    if seconds is None:
        return None, None
    t = time.perf_counter()
    with reader.snapshot():
        pass
    refresh_s = time.perf_counter() - t
    phases[phase] = measure_queries(engine, corpus, names, sc.exact_topk(matrix, queries, K))
    common.log(f"{'minor' if minor else 'major'} compaction {seconds:.2f} s; then {phases[phase]}")
    return seconds, refresh_s


def run(args) -> dict:
    load_start = common.loadavg()
    files = max(1, args.chunks // sc.CHUNKS_PER_FILE)
    files_per_commit = max(1, args.commit_chunks // sc.CHUNKS_PER_FILE)
    t = time.perf_counter()
    pool = sc.text_pool(args.source)
    corpus = sc.Corpus(files, seed=args.seed, kind=args.vectors, pool=pool)
    common.log(f"text pool: {len(pool):,} snippets from {args.source} in {time.perf_counter() - t:.1f} s; "
               f"{corpus.rows:,} chunks in {files:,} files")
    index_dir = args.out / f"scale-{corpus.rows}" / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    layout = IndexLayout(index_dir)
    matrix = np.empty((corpus.rows, sc.DIM), dtype=np.float32)

    default_ef_c = store_vectors.EF_CONSTRUCTION
    build_ef_c = args.ef_construction or default_ef_c
    if build_ef_c != default_ef_c:
        common.log(f"NOTE: vectors.EF_CONSTRUCTION monkeypatched {default_ef_c} -> {build_ef_c} for the base build")
    store_vectors.EF_CONSTRUCTION = build_ef_c
    writer = StoreWriter(layout, model=MODEL, dim=sc.DIM, chunking="scale-bench")
    t = time.perf_counter()
    try:
        build_commits = build(writer, corpus, matrix, files_per_commit)
    finally:
        store_vectors.EF_CONSTRUCTION = default_ef_c  # later (delta) indexes use the store's own value
    build_s = time.perf_counter() - t
    # A segmented store keeps each build commit as its own segment: merge them first, so that
    # "0 one-file commits" means one base, as on a store without segments.
    build_compaction_s = compact_now(writer)
    if build_compaction_s is not None:
        common.log(f"build: compacted into one base in {build_compaction_s:.1f} s")
    rss_built = sc.vm_status()

    embedder = TableEmbedder()
    reader = IndexReader(layout)
    engine = SearchEngine(reader, lambda: embedder)
    queries = sc.queries_near(matrix, args.queries, seed=args.seed)
    names = [f"q{i}" for i in range(len(queries))]
    embedder.table.update(zip(names, queries))
    t = time.perf_counter()
    with reader.snapshot():
        pass
    cold_load_s = time.perf_counter() - t
    rss_reader = sc.vm_status()
    common.log(f"reader: first snapshot (cold load) {cold_load_s * 1e3:.0f} ms; RSS {rss_reader / 1e9:.2f} GB")
    engine.query(QueryParams(names[0], "semantic", K))  # warm the SQLite connection and caches

    rng = np.random.default_rng([args.seed, 5])
    edits = rng.choice(files, size=min(max(DELTA_POINTS), files), replace=False)
    phases, commits = {}, []
    for n in range(max(DELTA_POINTS) + 1):
        if n in DELTA_POINTS:
            t = time.perf_counter()
            exact = sc.exact_topk(matrix, queries, K)
            exact_s = time.perf_counter() - t
            phases[str(n)] = measure_queries(engine, corpus, names, exact)
            phases[str(n)]["exact_s"] = exact_s
            common.log(f"after {n} one-file commits: {phases[str(n)]}")
        if n < len(edits):
            commits.append(one_file_commit(writer, reader, engine, embedder, corpus, matrix, int(edits[n]), n))
            common.log(f"one-file commit {n + 1}: {commits[-1]}")

    minor_s, refresh_after_minor_s = compact_and_measure(writer, reader, engine, corpus, names, matrix, queries,
                                                         phases, "minor", minor=True)
    compaction_s, refresh_after_compaction_s = compact_and_measure(writer, reader, engine, corpus, names, matrix,
                                                                   queries, phases, "compacted")
    writer.close()
    result = {
        "params": {"chunks": corpus.rows, "files": files, "commit_chunks": files_per_commit * sc.CHUNKS_PER_FILE,
                   "vectors": args.vectors, "dim": sc.DIM, "seed": args.seed, "queries": len(names), "k": K,
                   "ef_search": ACCURACY_EF["balanced"], "ef_construction_base": build_ef_c,
                   "ef_construction_default": default_ef_c, "M": store_vectors.M, "text_pool": len(pool),
                   "git": git_revision(), "index_dir": str(index_dir)},
        "build": {"seconds": build_s, "commits": build_commits, "compaction_s": build_compaction_s},
        "cold_load_s": cold_load_s,
        "one_file_commits": commits,
        "phases": phases,
        "minor_compaction_s": minor_s,
        "refresh_after_minor_s": refresh_after_minor_s,
        "compaction_s": compaction_s,
        "refresh_after_compaction_s": refresh_after_compaction_s,
        "rss": {"after_build": rss_built, "after_reader_load": rss_reader, "end": sc.vm_status(),
                "peak": sc.vm_status("VmHWM")},
        "disk_bytes": sc.dir_bytes(index_dir),
        "loadavg": {"start": load_start, "end": common.loadavg()},
    }
    if not args.keep:
        shutil.rmtree(index_dir.parent, ignore_errors=True)
    return result


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def summary_rows(r: dict) -> list[list[str]]:
    """The table: one measure per row (so before/after tables line up in docs/performance.md)."""
    first = r["one_file_commits"][:TIMED_COMMITS]
    every = r["one_file_commits"]
    found = [c["searchable_s"] for c in every]

    def ms(v):
        return "-" if v is None else f"{v * 1e3:,.0f}"

    rows = [
        ["chunks / files", f"{r['params']['chunks']:,} / {r['params']['files']:,}"],
        ["build (commits of {:,} chunks), s".format(r["params"]["commit_chunks"]), f"{r['build']['seconds']:,.0f}"
         + ("" if r["build"].get("compaction_s") is None else f" + {r['build']['compaction_s']:,.0f} compaction")],
        ["cold load of a fresh reader, ms", ms(r["cold_load_s"])],
        [f"one-file commit (20 chunks), median of {len(first)}, ms", ms(_median(c["commit_s"] for c in first))],
        [f"  median / max of all {len(every)}, ms",
         f"{ms(_median(c['commit_s'] for c in every))} / {ms(max((c['commit_s'] for c in every), default=None))}"],
        ["warm reader refresh after it, median, ms", ms(_median(c["refresh_s"] for c in every))],
        ["searchable within (commit start -> query finds it), median / max, ms",
         f"{ms(_median(found))} / {ms(max((v for v in found if v is not None), default=None))}"
         + ("" if all(v is not None for v in found) else f" ({sum(v is None for v in found)} not found)")],
    ]
    for name, p in r["phases"].items():
        label = {"compacted": "compacted (major)", "minor": "after a minor compaction"}.get(name, f"{name} one-file commits")
        rows.append([f"query k=10, {label}: median / p99 ms",
                     f"{p['median_ms']:.2f} / {p['p99_ms']:.2f}"])
        rows.append([f"  recall@10 vs exact, {label}", f"{p['recall']:.4f}"])
    comp, minor = r["compaction_s"], r.get("minor_compaction_s")
    rows += [
        ["minor compaction of the 20 one-file commits (base untouched), s",
         "n/a (the store has none)" if minor is None else f"{minor:,.2f}"],
        ["  warm reader refresh after it, ms", ms(r.get("refresh_after_minor_s"))],
        ["major compaction (everything into a new base), s", "n/a (the store has none)" if comp is None else f"{comp:,.1f}"],
        ["  warm reader refresh after it, ms", ms(r.get("refresh_after_compaction_s"))],
        ["process RSS after build / after reader load / end, MB",
         " / ".join(f"{r['rss'][k] / 1e6:,.0f}" for k in ("after_build", "after_reader_load", "end"))],
        ["process peak RSS (VmHWM), MB", f"{r['rss']['peak'] / 1e6:,.0f}"],
        ["index directory on disk, MB", f"{r['disk_bytes'] / 1e6:,.0f}"],
    ]
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=100_000, help="chunks in the index (20 per file; default 100,000)")
    p.add_argument("--commit-chunks", type=int, default=100_000, help="chunks per build commit (default 100,000)")
    p.add_argument("--queries", type=int, default=200, help="semantic queries per measurement (default 200)")
    p.add_argument("--vectors", choices=sc.KINDS, default="clustered", help="synthetic vectors (default clustered)")
    p.add_argument("--ef-construction", type=int, default=None,
                   help="HNSW ef_construction for the base build only (monkeypatches vectors.EF_CONSTRUCTION)")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--source", type=Path, default=common.DEFAULT_REPO if common.DEFAULT_REPO.is_dir()
                   else common.PROJECT_DIR / "cidx", help="Python tree the chunk texts are drawn from")
    p.add_argument("--out", type=Path, default=common.BENCH_DIR / "out",
                   help="the index is built in OUT/scale-<chunks>/index (default benchmarks/out)")
    p.add_argument("--keep", action="store_true", help="keep the index directory afterwards")
    p.add_argument("--json", type=Path, default=None, help="also write the raw figures to this file")
    args = p.parse_args(argv)
    if args.chunks < sc.CHUNKS_PER_FILE or args.commit_chunks < sc.CHUNKS_PER_FILE or args.queries < 1:
        print("scale: --chunks and --commit-chunks must be at least 20, --queries at least 1", file=sys.stderr)
        return 2
    if not args.source.is_dir():
        print(f"scale: --source {args.source} is not a directory", file=sys.stderr)
        return 2
    args.out = args.out.resolve()
    result = run(args)
    prm = result["params"]
    note = (f"{prm['vectors']} vectors, {prm['dim']} dims, M={prm['M']}, ef_construction "
            f"{prm['ef_construction_base']} for the base" + (" (monkeypatched; store default "
            f"{prm['ef_construction_default']})" if prm["ef_construction_base"] != prm["ef_construction_default"]
            else "") + f", ef_search {prm['ef_search']} (balanced), {prm['queries']} queries, seed {prm['seed']}, "
            f"git {prm['git']}; load average {result['loadavg']['start']} -> {result['loadavg']['end']}")
    common.print_result({"tables": [common.table(f"scale: {prm['chunks']:,} chunks", ["measure", "value"],
                                                 summary_rows(result), note=note, left=True)]})
    if args.json:
        common.write_json(args.json, result)
        print(f"raw figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
