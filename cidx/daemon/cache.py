"""The daemon's in-memory cache: one SearchEngine (HNSW, Tantivy, SQLite connections and the
embedding model) whose lifetime is decided by the CacheLifecycle machine.

Queries run concurrently: the lock guards only lifecycle bookkeeping (and the first load, which every
waiting query needs anyway), never the search itself. Time comes in through `clock`; the eviction
loop waits through `wait` (an Event.wait), so tests drive both without sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable

from cidx.fastpath.errors import CidxError
from cidx.lifecycle import STOPPED, CacheLifecycle
from cidx.fastpath.params import QueryParams
from cidx.fastpath.results import QueryResult

log = logging.getLogger("cidx.daemon")


class DaemonCache:
    def __init__(self, engine, *, ttl_seconds: float, check_interval_seconds: float, auto_shutdown_on_idle: bool,
                 clock: Callable[[], float] = time.monotonic, on_shutdown: Callable[[], None] = lambda: None):
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._on_shutdown = on_shutdown
        self.lifecycle = CacheLifecycle(ttl_seconds, check_interval_seconds, auto_shutdown_on_idle,
                                        on_load=self._load, on_evict=self._evict, on_shutdown=self._shutdown)
        self.queries = self.hits = self.misses = self.errors = 0

    # -- lifecycle events -------------------------------------------------------------------------
    def bound(self) -> None:
        with self._lock:
            self.lifecycle.bind()
            self.lifecycle.bound(self.clock())

    def tick(self) -> str:
        with self._lock:
            if self.lifecycle.state == STOPPED:
                return STOPPED
            return self.lifecycle.tick(self.clock())

    def clear(self) -> None:
        with self._lock:
            if "evict" in self.lifecycle.allowed_events():
                self.lifecycle.evict()
            else:
                self._evict()  # evicted already: drop whatever a previous index run loaded

    def hold(self) -> None:
        """Activity that keeps the daemon from evicting or idling out while it lasts (an open
        client connection, a running watch). It does not refresh the TTL: only queries do, so a
        loop polling `cidx status` never keeps the cache warm."""
        with self._lock:
            self.lifecycle.request_started()

    def release(self) -> None:
        with self._lock:
            if self.lifecycle.in_flight:
                self.lifecycle.request_finished()

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.lifecycle.state != STOPPED:
                self.lifecycle.stop(reason)

    @property
    def state(self) -> str:
        return self.lifecycle.state

    def ttl_left(self) -> float | None:
        expires = self.lifecycle.expires_at
        return None if expires is None else max(0.0, expires - self.clock())

    # -- requests ---------------------------------------------------------------------------------
    @contextmanager
    def request(self, *, needs_cache: bool = True):
        """Bracket a request: in-flight requests are never evicted under, and each access refreshes
        the TTL (and loads the cache when evicted)."""
        with self._lock:
            self.lifecycle.request_started()
        try:
            if needs_cache:
                with self._lock:
                    self.lifecycle.access(self.clock())
            yield
        finally:
            with self._lock:
                self.lifecycle.request_finished()
                if "touch" in self.lifecycle.allowed_events():
                    self.lifecycle.touch(self.clock())  # idle time counts from the end of a request

    def query(self, params: QueryParams) -> QueryResult:
        loads_before = sum(self.engine.reader.loads.values())  # before access(): a cold load is a miss
        with self.request():
            try:
                result = self.engine.query(params)
            except Exception:
                self.errors += 1
                raise
            finally:
                self.queries += 1
            if sum(self.engine.reader.loads.values()) == loads_before:
                self.hits += 1
            else:
                self.misses += 1
            return result

    # -- effects ----------------------------------------------------------------------------------
    def _load(self) -> None:
        """Warm everything a query needs: the model and the committed generation's indexes."""
        started = time.perf_counter()
        # Best effort: a piece that cannot load (no index yet, a damaged file, an embedding provider
        # without its key) is reported by the query that needs it, and `cidx index --clear` can
        # still run to repair the index. A full-text query never needs the model.
        try:
            self.engine.embedder  # noqa: B018 - loads the model once
        except CidxError as exc:
            log.warning("embedding model not loaded: %s", exc)
        try:
            with self.engine.reader.snapshot():
                pass
        except CidxError as exc:
            log.warning("index not loaded: %s", exc)
        log.info("cache loaded in %.0f ms", (time.perf_counter() - started) * 1e3)

    def _evict(self) -> None:
        self.engine.evict()
        log.info("cache evicted")

    def _shutdown(self) -> None:
        log.info("shutting down: %s", self.lifecycle.shutdown_reason)
        self._on_shutdown()


def run_eviction_loop(cache: DaemonCache, interval_seconds: float, wait: Callable[[float], bool]) -> None:
    """Tick every interval until the cache stops. `wait(seconds)` returns True to end early (an
    Event.wait: set on shutdown)."""
    while not wait(interval_seconds):
        if cache.tick() == STOPPED:
            return
