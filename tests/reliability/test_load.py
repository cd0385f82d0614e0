"""Many clients at once against one daemon for a bounded time: zero errors, every answer identical to
the standalone search, one daemon throughout, and the daemon's RSS growth measured and printed.

Clients are of both real kinds: threads running the fast-path client (cidx.fastpath.delegate, the code
`cidx query` uses: lifecycle, wire protocol, a new connection per query) and `cidx query --json`
subprocesses.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from cidx.fastpath.delegate import run_via_daemon
from cidx.fastpath.params import parse_query_args
from cidx.fastpath.results import QueryResult
from tests.integration.daemon_support import status, wait_serving
from tests.reliability.support import (CI, REPORT, assert_same_hits, cli, committed_generation, hits_of, make_repo,
                                       oracle, query_json, soak_only)

CASES = (["sort numbers"], ["circleArea", "--fts"], ["http retries backoff", "--hybrid"],
         ["configuration", "--language", "python"], ["load_settings", "--fts", "--path-filter", "src/*"],
         ["area of a circle", "--limit", "3"], ["BubbleSort", "--fts", "--fuzzy"],
         ["parse config", "--hybrid", "--exclude-path", "tests/*"])
MB = 1024 * 1024


def load_run(tmp_path, embedder, daemons, *, seconds: float, threads: int, processes: int,
             reindex: bool = False, **daemon_settings) -> dict:
    """Clients for `seconds`; with `reindex`, the same content is re-indexed from scratch over and
    over meanwhile (in the daemon and standalone, alternately): every generation answers alike."""
    config = make_repo(tmp_path / "repo", embedder, **daemon_settings)
    daemon = daemons.spawn(config.root)
    assert wait_serving(config, timeout=60)["pid"] == daemon.pid
    params = [parse_query_args(case) for case in CASES]
    expected = [hits_of(oracle(config, p, embedder)) for p in params]
    root = str(config.root)

    def via_daemon(k: int) -> QueryResult:
        outcome = run_via_daemon(config, lambda conn: conn.call("cli_query", root, params[k].to_wire()))
        assert outcome.via_daemon, outcome.fallback_reason
        return QueryResult.from_wire(outcome.value)

    for k in range(len(CASES)):  # warm the cache: the first query of each kind loads
        assert_same_hits(via_daemon(k), {"hits": expected[k]}, f"warm-up {CASES[k]}")

    lock = threading.Lock()
    counts = {"threads": 0, "processes": 0, "re-indexes": 0}
    errors: list[str] = []
    rss: dict[str, int] = {"start": status(config)["rss_bytes"]}
    started = time.monotonic()
    deadline = started + seconds

    def thread_client(n: int) -> None:
        rng = random.Random(n)
        while time.monotonic() < deadline:
            k = rng.randrange(len(CASES))
            try:
                assert_same_hits(via_daemon(k), {"hits": expected[k]}, f"thread {n} {CASES[k]}")
            except BaseException as exc:  # collected: a thread's failure must fail the test
                with lock:
                    errors.append(f"thread {n}: {exc.__class__.__name__}: {exc}")
                return
            with lock:
                counts["threads"] += 1

    def process_client(n: int) -> None:
        rng = random.Random(1000 + n)
        while time.monotonic() < deadline:
            k = rng.randrange(len(CASES))
            proc, result = query_json(config, *CASES[k])
            try:
                assert proc.returncode == 0 and proc.stderr == "", proc.stderr
                assert_same_hits(result, {"hits": expected[k]}, f"process {n} {CASES[k]}")
            except BaseException as exc:
                with lock:
                    errors.append(f"process {n}: {exc.__class__.__name__}: {exc}")
                return
            with lock:
                counts["processes"] += 1

    def reindexer() -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            env = {"CIDX_NO_DAEMON": "1"} if n % 2 else None
            proc = cli(config, "index", "--clear", env=env, timeout=300)
            if proc.returncode != 0 and "already running" not in proc.stderr:  # the other indexer: fine
                with lock:
                    errors.append(f"re-index {n}: {proc.stderr.strip()}")
                return
            with lock:
                counts["re-indexes"] += 1

    def sample_rss() -> None:  # after a quarter of the run: per-thread arenas and caches have grown
        time.sleep(seconds / 4)
        rss["after warm-up"] = status(config)["rss_bytes"]

    workers = ([threading.Thread(target=thread_client, args=(n,)) for n in range(threads)]
               + [threading.Thread(target=process_client, args=(n,)) for n in range(processes)]
               + [threading.Thread(target=sample_rss)] + ([threading.Thread(target=reindexer)] if reindex else []))
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=seconds + 120)
    elapsed = time.monotonic() - started
    final = status(config)
    rss["end"] = final["rss_bytes"]
    total = counts["threads"] + counts["processes"]
    growth = (rss["end"] - rss["after warm-up"]) / MB
    summary = (f"{total} queries in {elapsed:.1f} s ({total / elapsed:.0f}/s) from {threads + processes} concurrent "
               f"clients ({counts['threads']} fast-path, {counts['processes']} CLI)"
               + (f" during {counts['re-indexes']} full re-indexes" if reindex else "")
               + f", {len(errors)} errors; daemon "
               f"RSS {rss['start'] / MB:.1f} -> {rss['after warm-up'] / MB:.1f} -> {rss['end'] / MB:.1f} MB "
               f"(growth after warm-up {growth:+.1f} MB)")
    print(summary)
    REPORT.note(f"load ({seconds:.0f} s{', re-indexing, ' + str(daemon_settings) if reindex else ''})", summary)
    assert not errors, errors[:5]
    assert final["pid"] == daemon.pid and final["query_errors"] == 0  # no crash, no restart, no error
    if reindex:  # and the daemon now serves the last generation, whoever committed it
        assert counts["re-indexes"] >= 2 and via_daemon(0).generation == committed_generation(config)
    assert total >= threads + processes  # every client got answers
    return {"queries": total, "growth_mb": growth, "elapsed": elapsed}


def test_twelve_clients_at_once_zero_errors(tmp_path, embedder, daemons):
    with REPORT.trial("load"):
        REPORT.fault("12 concurrent clients")
        load_run(tmp_path, embedder, daemons, seconds=15 if CI else 10, threads=10, processes=2)


def test_clients_during_eviction_storm_and_full_reindexes(tmp_path, embedder, daemons):
    """A 60 ms TTL checked every 10 ms evicts between (and under) queries while generations replace
    each other: in-flight queries are never evicted under, and every answer is still exact."""
    with REPORT.trial("load with evictions and re-indexing"):
        REPORT.fault("TTL 60 ms eviction storm")
        REPORT.fault("full re-index under load")
        load_run(tmp_path, embedder, daemons, seconds=10, threads=6, processes=2, reindex=True,
                 ttl_minutes=0.001, eviction_check_interval_seconds=0.01)


@soak_only
@pytest.mark.timeout(900)
def test_sustained_load_memory_soak(tmp_path, embedder, daemons):
    with REPORT.trial("load (soak)"):
        REPORT.fault("16 concurrent clients (soak)")
        run = load_run(tmp_path, embedder, daemons, seconds=120, threads=12, processes=4)
        assert run["growth_mb"] < 20, f"daemon RSS grew {run['growth_mb']:.1f} MB over {run['queries']} queries"
