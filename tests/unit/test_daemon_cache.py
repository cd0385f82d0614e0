"""The daemon cache's TTL, eviction loop and hit/miss accounting, on a real index with a fake clock."""

from __future__ import annotations

import pytest

from cidx.config import Config, write_config
from cidx.daemon.cache import DaemonCache, run_eviction_loop
from cidx.indexer import run_index
from cidx.fastpath.params import QueryParams
from cidx.search.engine import SearchEngine
from cidx.store.layout import IndexLayout
from cidx.store.reader import IndexReader
from tests.conftest import write_fixture_repo


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, embedder):
    config = Config(root=write_fixture_repo(tmp_path_factory.mktemp("cache") / "repo"))
    write_config(config)
    run_index(config, embedder)
    return config.index_dir


def make_cache(index_dir, embedder, clock, **kw):
    engine = SearchEngine(IndexReader(IndexLayout(index_dir)), lambda: embedder)
    shutdowns = []
    cache = DaemonCache(engine, ttl_seconds=kw.get("ttl", 60), check_interval_seconds=kw.get("interval", 10),
                        auto_shutdown_on_idle=kw.get("auto", False), clock=clock,
                        on_shutdown=lambda: shutdowns.append(clock()))
    cache.bound()
    return cache, shutdowns


FTS = QueryParams(text="circleArea", mode="fts")


def test_first_query_loads_then_hits(index_dir, embedder):
    cache, _ = make_cache(index_dir, embedder, FakeClock())
    assert cache.state == "evicted"
    cache.query(FTS)
    cache.query(FTS)
    assert cache.state == "warm" and (cache.queries, cache.misses, cache.hits) == (2, 1, 1)


def test_evicted_exactly_at_ttl_not_before(index_dir, embedder):
    clock = FakeClock()
    cache, _ = make_cache(index_dir, embedder, clock, ttl=60)
    cache.query(FTS)
    clock.now += 59.999
    assert cache.tick() == "warm"
    clock.now += 0.001
    assert cache.tick() == "evicted"
    assert cache.engine.reader.loaded_generation is None
    cache.query(FTS)
    assert cache.state == "warm" and cache.misses == 2


def test_each_query_refreshes_the_ttl(index_dir, embedder):
    clock = FakeClock()
    cache, _ = make_cache(index_dir, embedder, clock, ttl=60)
    cache.query(FTS)
    clock.now += 50
    cache.query(FTS)
    clock.now += 50
    assert cache.tick() == "warm" and cache.ttl_left() == pytest.approx(10)


def test_eviction_loop_evicts_within_one_interval_of_expiry(index_dir, embedder):
    clock = FakeClock()
    cache, _ = make_cache(index_dir, embedder, clock, ttl=60, interval=7)
    cache.query(FTS)
    start, evicted_at = clock.now, []

    def wait(seconds):  # the injected sleeper: advances fake time instead of sleeping
        if cache.state == "evicted" and not evicted_at:
            evicted_at.append(clock.now)  # the tick that just ran, at this time, evicted
        clock.now += seconds
        return bool(evicted_at) or clock.now - start > 200

    run_eviction_loop(cache, 7, wait)
    assert evicted_at and 60 <= evicted_at[0] - start <= 60 + 7


def test_auto_shutdown_only_when_idle_and_expired(index_dir, embedder):
    clock = FakeClock()
    cache, shutdowns = make_cache(index_dir, embedder, clock, ttl=60, auto=True)
    with cache.request():  # a long request in flight: never evicted or stopped under it
        clock.now += 500
        assert cache.tick() == "warm" and not shutdowns
    clock.now += 59  # idle time counts from the end of the request
    assert cache.tick() == "warm"
    clock.now += 1
    assert cache.tick() == "stopped" and shutdowns == [clock.now]


def test_no_auto_shutdown_when_disabled(index_dir, embedder):
    clock = FakeClock()
    cache, shutdowns = make_cache(index_dir, embedder, clock, ttl=60, auto=False)
    clock.now += 10_000
    assert cache.tick() == "evicted" and not shutdowns


def test_clear_cache_drops_loaded_indexes(index_dir, embedder):
    cache, _ = make_cache(index_dir, embedder, FakeClock())
    cache.query(FTS)
    cache.clear()
    assert cache.state == "evicted" and cache.engine.reader.loaded_generation is None
