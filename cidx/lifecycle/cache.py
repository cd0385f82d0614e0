"""The daemon's cache lifecycle: one instance per daemon process (one repository).

States and events are the `cache` rows of cidx/lifecycle/table.py (diagram: docs/lifecycle.md).

How the daemon drives it (all calls under ONE lock: this object is not thread-safe, on purpose):
- startup: `bind()`, then `bound(now)` once the socket listens (or `bind_failed()` when another
  daemon already serves: exit 0 without touching its socket).
- each request: `request_started()` ... `request_finished()` (in a finally). A request that needs
  the indexes calls `access(now)` in between: in `evicted` that runs `on_load` (state `warm` only
  if it returns; if it raises, e.g. no index yet, the state stays `evicted` and the error goes to
  the user). Every access refreshes `last_access`, even a failed one. If `request_started()`
  raises LifecycleError (the daemon just stopped), refuse the request: the client restarts.
- eviction thread: `tick(now)` every `check_interval_seconds`; stop ticking once `state` is
  `stopped`. A tick evicts (`on_evict`) when no request is in flight and
  `now - last_access >= ttl_seconds`; with `auto_shutdown_on_idle` the same tick then stops
  (`on_shutdown`). So eviction happens no earlier than the TTL and no later than one check
  interval after the cache became idle and expired.
- `evict()` for clear_cache or after reindexing; `stop(reason)` for signals and `cidx stop`.
Callbacks take no arguments; `on_shutdown` can read `shutdown_reason`. `now` is any monotonic
clock in seconds (the daemon passes time.monotonic(); tests pass a fake clock).
"""

from __future__ import annotations

from collections.abc import Callable

from cidx.lifecycle.errors import LifecycleError
from cidx.lifecycle.machine import TableMachine
from cidx.lifecycle.table import CACHE, EVICTED, WARM

Callback = Callable[[], object]


def _nothing() -> None:
    return None


class CacheLifecycle(TableMachine):
    MACHINE = CACHE

    def __init__(self, ttl_seconds: float, check_interval_seconds: float, auto_shutdown_on_idle: bool,
                 on_load: Callback | None = None, on_evict: Callback | None = None,
                 on_shutdown: Callback | None = None, engine: str = "transitions") -> None:
        if not ttl_seconds > 0 or not check_interval_seconds > 0:
            raise ValueError("ttl_seconds and check_interval_seconds must be positive")
        self.ttl_seconds = float(ttl_seconds)
        self.check_interval_seconds = float(check_interval_seconds)
        self.auto_shutdown_on_idle = bool(auto_shutdown_on_idle)
        self._on_load, self._on_evict = on_load or _nothing, on_evict or _nothing
        self._on_shutdown = on_shutdown or _nothing
        self._now: float | None = None  # the `now` of the event being processed (guards read it)
        self._last_access: float | None = None
        self._in_flight = 0
        self._loads = 0
        self._evictions = 0
        self._reason = ""
        self._shutdown_reason: str | None = None
        super().__init__(engine)

    # --- events ---------------------------------------------------------------------------------

    def bind(self) -> None:
        self._fire("bind")

    def bound(self, now: float) -> None:
        """The socket listens. Nothing is loaded; the TTL counts from now, so a daemon that is
        never queried still auto-shuts down."""
        self._fire("bound")
        self._last_access = now

    def bind_failed(self) -> None:
        self._fire("bind_failed")

    def access(self, now: float) -> None:
        """A query needs the indexes: load them if evicted, and refresh the last access time."""
        self._require("access")
        self._last_access = now  # before the load, so a failing load still counts as activity
        self._fire("access")

    def touch(self, now: float) -> None:
        """Client activity that needs no indexes (a connection opening or closing): the idle
        clock restarts, nothing is loaded."""
        self._require("touch")
        self._last_access = now
        self._fire("touch")

    def request_started(self) -> None:
        self._fire("request_started")
        self._in_flight += 1

    def request_finished(self) -> None:
        self._require("request_finished")
        if self._in_flight == 0:
            raise LifecycleError(CACHE, self.state, "request_finished",
                                 message="cache lifecycle: request_finished without a matching request_started")
        self._fire("request_finished")
        self._in_flight -= 1

    def tick(self, now: float) -> str:
        """The eviction check. Returns the state after it."""
        self._require("tick")
        self._now = now
        if self._last_access is not None:
            self._reason = (f"idle for {now - self._last_access:g} s "
                            f"(ttl {self.ttl_seconds:g} s, auto_shutdown_on_idle)")
        before = self.state
        self._fire("tick")
        if before == WARM and self.state == EVICTED:
            self._fire("tick")  # same check again: an expired, idle cache may shut down right away
        return self.state

    def evict(self) -> None:
        """Drop the loaded indexes now (clear_cache, or the index changed)."""
        self._fire("evict")

    def stop(self, reason: str = "stop requested") -> None:
        self._require("stop")
        self._reason = reason
        self._fire("stop")

    # --- guards and effects (names used by the table) -------------------------------------------

    def _guard_expired(self) -> bool:
        return self._in_flight == 0 and self.is_expired(self._now)

    def _guard_auto_shutdown(self) -> bool:
        return self.auto_shutdown_on_idle

    def _effect_load(self) -> None:
        self._on_load()
        self._loads += 1

    def _effect_evict(self) -> None:
        self._on_evict()
        self._evictions += 1

    def _effect_shutdown(self) -> None:
        self._shutdown_reason = self._reason
        self._on_shutdown()

    def _require(self, event: str) -> None:
        if event not in self.allowed_events():
            raise self._illegal(event)

    # --- read-only view -------------------------------------------------------------------------

    def is_expired(self, now: float | None) -> bool:
        """TTL elapsed since the last access (in-flight requests are not considered here)."""
        return now is not None and self._last_access is not None and now - self._last_access >= self.ttl_seconds

    @property
    def expires_at(self) -> float | None:
        return None if self._last_access is None else self._last_access + self.ttl_seconds

    @property
    def last_access(self) -> float | None:
        return self._last_access

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def loads(self) -> int:
        return self._loads

    @property
    def evictions(self) -> int:
        return self._evictions

    @property
    def shutdown_reason(self) -> str | None:
        return self._shutdown_reason
