"""Section `quality`: retrieval quality (DESIGN.md §8, issue 14), measured like speed.

    python benchmarks/quality.py [--corpus PATH ... | --check-set] [--modes semantic,fts,hybrid] [--max-queries N]
                                 [--quick] [--baseline OLD.json] [--out DIR]

The corpus (default: the dev set of the standard library) is copied into OUT/work/quality-*/ with every
docstring stripped (line numbers kept); each public function's docstring summary becomes a query whose
target is the function's lines. The copy is indexed with `cidx init` + `cidx index` (standalone; re-runs
are incremental), the queries run in-process through cidx's SearchEngine (the code the daemon runs)
with limit 10, and MRR@10, recall@1/@10 and file-level recall@10 are reported per mode side by side.
OUT/quality.json (and a timestamped copy) holds every query's rank per mode, so runs can be diffed:
`--baseline OLD.json` prints the change and the queries won and lost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _HERE = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import common  # noqa: E402
from benchmarks import quality_corpus as qc  # noqa: E402
from benchmarks import quality_metrics as qm  # noqa: E402
from benchmarks.quality_report import compare, summary_tables  # noqa: E402

MODES = ("semantic", "fts", "hybrid")
QUICK_QUERIES = 300  # `--quick` (and run_all --quick): a deterministic sample; the index is the same
# Quality does not depend on BLAS threads, but speed on a shared machine does: with 2 OpenBLAS threads
# per process on 2 busy cores the threads spin against each other (measured at load 16: query embedding
# 2.5 s median with the default, 0.15 s with 1 thread). So one thread unless the caller chose.
BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def single_threaded_blas() -> dict:
    """Set the BLAS thread variables the caller did not set (for this process and the indexer)."""
    chosen = {k: os.environ.setdefault(k, v) for k, v in BLAS_THREADS.items()}
    if "numpy" in sys.modules:
        common.log("quality: numpy was imported before the thread limit was set; in-process queries "
                   "use its thread count")
    return chosen


def corpus_for(corpora: list[Path] | None, check_set: bool = False) -> tuple[str, list[qc.CorpusFile], list[str]]:
    """(label, files, spec): the dev set by default, the held-out-like check set, else the given trees."""
    if check_set:
        return "check", qc.files_under(qc.DEV_ROOT, qc.CHECK_PARTS), [str(qc.DEV_ROOT), *qc.CHECK_PARTS]
    if not corpora:
        return "dev", qc.dev_set_files(), [str(qc.DEV_ROOT), *qc.DEV_PARTS]
    paths = [Path(p).resolve() for p in corpora]
    return "+".join(p.name for p in paths)[:60], qc.corpus_files(paths), [str(p) for p in paths]


def workspace_dir(out_dir: Path, label: str, spec: list[str]) -> Path:
    key = hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:8]
    return (out_dir / "work" / f"quality-{label}-{key}").resolve()


def index_workspace(root: Path, blas_threads: dict) -> dict:
    """`cidx init --force` and `cidx index` (standalone, incremental) as a user would run them. The
    workspace is ours, so its config is re-made from the code's defaults every run: a changed default
    embedder is what gets measured. An index built with another model is rebuilt (`--clear`; the
    embedding cache is per model, so switching back costs nothing)."""
    from benchmarks.index import _parse_summary

    common.run([*common.CIDX, "init", "--force", str(root)], cwd=root)
    # The local engine under test (CIDX_EMBED_VARIANT=int8|fp32|numpy, ADR 0017) must be the one the
    # in-process queries use too, so it passes through bench_env's CIDX_* filter.
    variant = {k: os.environ[k] for k in ("CIDX_EMBED_VARIANT",) if k in os.environ}
    env = common.bench_env(CIDX_NO_DAEMON="1", **blas_threads, **variant)
    argv = [*common.CIDX, "index"]
    common.log(f"quality: cidx index in {root} (the first time embeds every chunk: minutes)")
    cleared = False
    try:
        seconds, stderr = common.time_cmd(argv, cwd=root, env=env, timeout=7200)
    except RuntimeError as exc:
        if "cidx index --clear" not in str(exc):
            raise
        common.log("quality: the index was built with another embedding model: cidx index --clear")
        cleared = True
        seconds, stderr = common.time_cmd([*argv, "--clear"], cwd=root, env=env, timeout=7200)
    files, chunks = common.index_counts(common.Workspace(root, root, (), False, 0, 0))
    return {"seconds": seconds, "summary": _parse_summary(stderr), "files": files, "chunks": chunks,
            "cleared": cleared}


def run_queries(root: Path, queries: list[qc.Query], modes: tuple[str, ...]) -> dict:
    """Every query in every mode through one in-process SearchEngine: mode -> {results, seconds, errors}."""
    from cidx.config import load_config
    from cidx.fastpath.errors import UsageError
    from cidx.fastpath.params import QueryParams
    from cidx.services import make_engine

    engine = make_engine(load_config(root / ".code-indexer" / "config.json"))
    if "semantic" in modes or "hybrid" in modes:
        engine.embedder.embed_query("warm up the model")  # model load is not query time
    out = {}
    for mode in modes:
        results, errors = [], []
        t0 = time.perf_counter()
        for q in queries:
            try:
                hits = engine.query(QueryParams(q.text, mode, qm.K, snippet_lines=0)).hits
                results.append([(h.path, h.start_line, h.end_line) for h in hits])
            except UsageError as exc:  # e.g. a summary with no word for full-text search: a miss
                results.append([])
                errors.append(f"{q.id}: {exc}")
        out[mode] = {"results": results, "seconds": time.perf_counter() - t0, "errors": errors}
        common.log(f"quality: {len(queries)} {mode} queries in {out[mode]['seconds']:.1f}s")
    engine.evict()
    return out


def evaluate(queries: list[qc.Query], searched: dict) -> tuple[dict, list[dict]]:
    """Per-mode summary and per-query ranks (the JSON others diff)."""
    per_query = [{"id": q.id, "text": q.text, "path": q.path, "start_line": q.start_line,
                  "end_line": q.end_line, "rank": {}, "file_rank": {}, "top": {}} for q in queries]
    summary = {}
    for mode, data in searched.items():
        ranks, file_ranks = [], []
        for q, row, results in zip(queries, per_query, data["results"]):
            rank = qm.hit_rank(results, q.path, q.start_line, q.end_line)
            frank = qm.file_rank(results, q.path)
            ranks.append(rank)
            file_ranks.append(frank)
            row["rank"][mode], row["file_rank"][mode] = rank, frank
            row["top"][mode] = f"{results[0][0]}:{results[0][1]}-{results[0][2]}" if results else None
        summary[mode] = qm.summarize(ranks, file_ranks)
        summary[mode]["no_results"] = sum(1 for r in data["results"] if not r)
        # Bigger chunks overlap more functions: recall must be read beside the size of what is returned.
        spans = [end - start + 1 for results in data["results"] for _, start, end in results]
        summary[mode]["mean_result_lines"] = sum(spans) / len(spans) if spans else float("nan")
        summary[mode]["errors"] = len(data["errors"])
        summary[mode]["seconds"] = data["seconds"]
        summary[mode]["ms_per_query"] = data["seconds"] * 1e3 / max(len(queries), 1)
    return summary, per_query


def _meta(label: str, root: Path, spec: list[str]) -> dict:
    from cidx.config import load_config

    try:
        from cidx.indexer import INDEX_FORMAT_ID as chunking  # chunker, header and text analysis
    except ImportError:  # an older checkout
        from cidx.source.chunker import CHUNKING_ID as chunking
    embedding = load_config(root / ".code-indexer" / "config.json").embedding
    return {"corpus": label, "corpus_spec": spec, "workspace": str(root), "git": _git_head(),
            "chunking": chunking, "embedding": f"{embedding.provider}/{embedding.model}",
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "loadavg": common.loadavg()}


def _git_head() -> str:
    from benchmarks.run_all import _git_head as head

    return head()


def run(ctx: common.Context) -> dict:
    args = ctx.args
    blas_threads = single_threaded_blas()
    modes = tuple(getattr(args, "modes", None) or MODES)
    max_queries = getattr(args, "max_queries", None)
    if max_queries is None and ctx.quick:
        max_queries = QUICK_QUERIES
    label, files, spec = corpus_for(getattr(args, "corpus", None), getattr(args, "check_set", False))
    root = workspace_dir(ctx.out_dir, label, spec)

    t0 = time.perf_counter()
    prepared = qc.prepare(files, root)
    prepare_s = time.perf_counter() - t0
    for problem in prepared.skipped:
        common.log(f"quality: skipped {problem}")
    unique = qc.drop_duplicate_texts(prepared.queries)
    queries = qc.sample(unique, max_queries)
    common.log(f"quality: {prepared.files} files ({prepared.written} rewritten) in {prepare_s:.1f}s; "
               f"{len(prepared.queries)} queries, {len(unique)} with a unique text, {len(queries)} used")
    if not queries:
        raise qc.CorpusError(f"no queries in {label}: no public function with a docstring summary")

    index = index_workspace(root, blas_threads)
    searched = run_queries(root, queries, modes)
    summary, per_query = evaluate(queries, searched)
    meta = _meta(label, root, spec)
    meta.update({"files": prepared.files, "files_skipped": prepared.skipped, "files_rewritten": prepared.written,
                 "queries_found": len(prepared.queries), "queries_unique": len(unique),
                 "queries_used": len(queries), "max_queries": max_queries, "prepare_seconds": prepare_s,
                 "index": index, "modes": list(modes), "blas_threads": blas_threads,
                 "errors": {m: searched[m]["errors"][:20] for m in modes}})
    result = {"section": "quality", "meta": meta, "summary": summary, "queries": per_query,
              "tables": summary_tables(meta, summary), "checks": []}
    if {"semantic", "fts", "hybrid"} <= set(modes):
        key = f"mrr@{qm.K}"
        sides = max(summary["semantic"][key], summary["fts"][key])
        result["checks"].append(common.check(
            "quality: hybrid beats each side (DESIGN.md §8)", "hybrid MRR@10 > semantic and > fts",
            f"hybrid {summary['hybrid'][key]:.3f}, semantic {summary['semantic'][key]:.3f}, "
            f"fts {summary['fts'][key]:.3f}", summary["hybrid"][key] > sides))
    baseline = getattr(args, "baseline_data", None)
    if baseline:
        result["tables"].extend(compare(baseline, result))
    return result


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, action="append", default=None,
                   help="a Python tree (or .py file) to build the benchmark from; repeatable "
                        "(default: the dev set of the standard library, DESIGN.md §8)")
    p.add_argument("--check-set", action="store_true",
                   help="the held-out-like check set (other standard-library modules) instead of the dev set")
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated: semantic,fts,hybrid")
    p.add_argument("--max-queries", type=int, default=None, help="a deterministic sample of at most N queries")
    p.add_argument("--quick", action="store_true", help=f"--max-queries {QUICK_QUERIES} unless given")
    p.add_argument("--baseline", type=Path, default=None, help="an earlier quality.json to compare with")
    p.add_argument("--out", type=Path, default=common.BENCH_DIR / "out", help="output directory (default benchmarks/out)")
    args = p.parse_args(argv)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        p.error(f"--modes: unknown mode(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(MODES)}")
    args.modes = modes
    if args.max_queries is not None and args.max_queries < 1:
        p.error("--max-queries must be at least 1")
    if args.check_set and args.corpus:
        p.error("--check-set and --corpus are two corpora: give one")
    for path in args.corpus or []:
        if not path.exists():
            p.error(f"--corpus {path}: no such file or directory")
    args.baseline_data = None
    if args.baseline is not None:
        try:
            args.baseline_data = json.loads(args.baseline.read_text())
        except (OSError, ValueError) as exc:
            p.error(f"--baseline {args.baseline}: {getattr(exc, 'strerror', None) or exc}")
        if not isinstance(args.baseline_data, dict) or "queries" not in args.baseline_data:
            p.error(f"--baseline {args.baseline}: not a quality.json (no per-query ranks)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    common.compile_bytecode()
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = run(common.Context(args, None, out_dir))
    except qc.CorpusError as exc:
        print(f"quality: {exc}", file=sys.stderr)
        return 2
    common.print_result(result)
    for c in result["checks"]:
        print(f"{c['status']:<5} {c['check']}: {c['measured']} (budget {c['budget']})")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    common.write_json(out_dir / "quality.json", result)
    common.write_json(out_dir / f"quality-{stamp}.json", result)
    print(f"\nper-query ranks: {out_dir / 'quality.json'} (and quality-{stamp}.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
