"""Run by query_standalone.py in a fresh interpreter: the calls of `cidx query` in standalone mode
(cidx/cli.py `query` -> cidx/services.py -> SearchEngine.query -> cidx/fastpath/render.py render), each timed with
perf_counter. Usage: python benchmarks/probes/standalone.py ROOT OUT_JSON QUERY_ARGS..."""

import time

T_START = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from laps import Laps  # noqa: E402  (benchmarks/probes/ is sys.path[0] for a probe script)


def main() -> None:
    root, out_path, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    laps = Laps()
    phases, lap = laps.phases, laps.lap

    import cidx.cli  # noqa: F401  (click, config, errors: what the console script imports first)
    lap("import cidx.cli (click)")
    from cidx.fastpath.params import parse_query_args
    from cidx.fastpath.render import render
    from cidx.services import make_embedder
    lap("import params, render, services")
    from cidx.search.engine import SearchEngine
    from cidx.store.layout import IndexLayout
    from cidx.store.reader import IndexReader
    lap("import search stack (numpy, tantivy, hnswlib)")
    from cidx.config import find_and_load

    params = parse_query_args(argv)
    config = find_and_load(root)
    lap("parse args + load config")
    embedder = None
    if params.mode in ("semantic", "hybrid"):
        embedder = make_embedder(config)  # what the engine's lazy factory would do on first use
        lap("model load (make_embedder)")
    engine = SearchEngine(IndexReader(IndexLayout(config.index_dir)),
                          (lambda: embedder) if embedder is not None else (lambda: make_embedder(config)))
    with engine.reader.snapshot():
        pass
    lap("index load (first snapshot)")
    result = engine.query(params)
    total = laps.take()
    embed = result.timings_ms.get("embed", 0.0)
    search = result.timings_ms.get("search", 0.0)
    if "embed" in result.timings_ms:
        phases["query: embed"] = embed
    phases["query: search"] = search
    phases["query: other (validate, snapshot)"] = total - embed - search
    laps.take()
    with open(os.devnull, "w") as devnull:
        render(result, params, out=devnull)
    lap("render")
    phases["_in_process_total"] = (time.perf_counter() - T_START) * 1e3
    phases["_hits"] = len(result.hits)
    with open(out_path, "w") as out:
        json.dump(phases, out)


main()
