"""The daemon's cache lifecycle (cidx.lifecycle.CacheLifecycle), driven by a fake clock.

Times in the stateful test are multiples of 1/8 s so float arithmetic is exact and the TTL bounds
can be asserted with `<=` instead of a tolerance.
"""

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cidx.lifecycle import CacheLifecycle, LifecycleError

EVENTS = ("bind", "bound", "bind_failed", "access", "request_started", "request_finished", "tick",
          "evict", "stop")
LEGAL = {
    "stopped": {"bind", "tick", "request_finished"},
    "starting": {"bound", "bind_failed", "stop"},
    "evicted": {"access", "request_started", "request_finished", "tick", "evict", "stop"},
    "warm": {"access", "request_started", "request_finished", "tick", "evict", "stop"},
}


class LoadFailed(Exception):
    pass


def fire(lc, event, now=0.0):
    if event in ("bound", "access", "tick"):
        return getattr(lc, event)(now)
    return getattr(lc, event)()


class Recorder:
    def __init__(self):
        self.calls = []
        self.fail_load = False

    def load(self):
        if self.fail_load:
            raise LoadFailed("no index")
        self.calls.append("load")

    def evict(self):
        self.calls.append("evict")

    def shutdown(self):
        self.calls.append("shutdown")


def make(ttl=10.0, interval=1.0, auto=False):
    rec = Recorder()
    lc = CacheLifecycle(ttl, interval, auto, on_load=rec.load, on_evict=rec.evict, on_shutdown=rec.shutdown)
    return lc, rec


# --- plain unit tests -------------------------------------------------------------------------

def test_bind_bound_then_first_access_loads_once():
    lc, rec = make()
    assert lc.state == "stopped"
    lc.bind()
    assert lc.state == "starting"
    lc.bound(100.0)
    assert (lc.state, lc.last_access) == ("evicted", 100.0)
    lc.access(101.0)
    lc.access(102.0)
    assert (lc.state, lc.last_access, rec.calls, lc.loads) == ("warm", 102.0, ["load"], 1)


def test_failed_load_stays_evicted_but_refreshes_last_access():
    lc, rec = make()
    lc.bind()
    lc.bound(0.0)
    rec.fail_load = True
    with pytest.raises(LoadFailed):
        lc.access(5.0)
    assert (lc.state, lc.last_access, lc.loads) == ("evicted", 5.0, 0)


def test_tick_evicts_at_ttl_not_before():
    lc, rec = make(ttl=10.0)
    lc.bind()
    lc.bound(0.0)
    lc.access(0.0)
    lc.tick(9.99)
    assert lc.state == "warm"
    lc.tick(10.0)
    assert (lc.state, rec.calls, lc.evictions) == ("evicted", ["load", "evict"], 1)


def test_in_flight_request_blocks_eviction_and_shutdown():
    lc, rec = make(ttl=10.0, auto=True)
    lc.bind()
    lc.bound(0.0)
    lc.request_started()
    lc.access(0.0)
    lc.tick(50.0)
    assert lc.state == "warm" and lc.in_flight == 1
    lc.request_finished()
    lc.tick(51.0)
    assert lc.state == "stopped"
    assert rec.calls == ["load", "evict", "shutdown"]  # one tick evicts and shuts down
    assert "idle" in lc.shutdown_reason


def test_never_queried_daemon_auto_shuts_down_after_ttl_from_bind():
    lc, rec = make(ttl=10.0, auto=True)
    lc.bind()
    lc.bound(3.0)
    lc.tick(12.0)
    assert lc.state == "evicted"
    lc.tick(13.0)
    assert lc.state == "stopped" and rec.calls == ["shutdown"]


def test_without_auto_shutdown_evicted_daemon_keeps_serving():
    lc, rec = make(ttl=1.0, auto=False)
    lc.bind()
    lc.bound(0.0)
    lc.tick(1000.0)
    assert lc.state == "evicted" and rec.calls == []


def test_explicit_evict_and_stop():
    lc, rec = make()
    lc.bind()
    lc.bound(0.0)
    lc.access(0.0)
    lc.evict()
    lc.evict()  # already evicted: nothing to free
    assert (lc.state, rec.calls) == ("evicted", ["load", "evict"])
    lc.stop("SIGTERM")
    assert (lc.state, lc.shutdown_reason, rec.calls[-1]) == ("stopped", "SIGTERM", "shutdown")


def test_bind_failed_returns_to_stopped_without_shutdown_callback():
    # Another daemon owns the socket: we must not run on_shutdown (it would remove *their* socket).
    lc, rec = make()
    lc.bind()
    lc.bind_failed()
    assert lc.state == "stopped" and rec.calls == []


def test_request_finished_after_stop_is_tolerated():
    lc, _ = make()
    lc.bind()
    lc.bound(0.0)
    lc.request_started()
    lc.stop()
    lc.request_finished()  # the query that was running when SIGTERM arrived
    assert lc.in_flight == 0


def test_unmatched_request_finished_is_an_error():
    lc, _ = make()
    lc.bind()
    lc.bound(0.0)
    with pytest.raises(LifecycleError, match="request_started"):
        lc.request_finished()


@pytest.mark.parametrize("state_events, event", [
    ((), "access"), ((), "stop"), (("bind",), "access"), (("bind", "bound"), "bind"),
])
def test_illegal_events_raise_with_state_and_event(state_events, event):
    lc, _ = make()
    for e in state_events:
        fire(lc, e)
    state = lc.state
    with pytest.raises(LifecycleError) as info:
        fire(lc, event)
    assert (info.value.machine, info.value.state, info.value.event) == ("cache", state, event)
    assert f"'{event}'" in str(info.value) and f"'{state}'" in str(info.value)
    assert lc.state == state


@pytest.mark.parametrize("ttl, interval", [(0, 1), (1, 0), (-1, 1)])
def test_constructor_rejects_non_positive_times(ttl, interval):
    with pytest.raises(ValueError):
        CacheLifecycle(ttl, interval, False)


# --- stateful: fake clock, ticks at every check interval --------------------------------------

# Small ranges on a 1/8 s grid on purpose: TTL expiries then often fall exactly on a tick, which
# is where off-by-one bugs (> instead of >=, a missed re-check) hide.
quarters = st.integers(1, 12).map(lambda q: q / 4)


class CacheModel(RuleBasedStateMachine):
    @initialize(ttl=quarters, interval=quarters, auto=st.booleans())
    def setup(self, ttl, interval, auto):
        self.ttl, self.interval, self.auto = ttl, interval, auto
        self.rec = Recorder()
        self.lc = CacheLifecycle(ttl, interval, auto, on_load=self.on_load, on_evict=self.on_evict,
                                 on_shutdown=self.on_shutdown)
        self.now = 0.0
        self.ticks = 0  # ticks happen at k * interval, k = 1, 2, ...
        self.in_flight = 0
        self.last_access = None
        self.idle_since = None
        self.ticking = False  # an eviction/shutdown is only allowed from inside tick()
        self.start_daemon()

    # callbacks: check the bounds at the instant the effect happens
    def on_load(self):
        self.rec.load()
        assert self.lc.state == "evicted"

    def on_evict(self):
        if self.ticking:
            assert self.in_flight == 0
            assert self.now - self.last_access >= self.ttl  # never earlier than the TTL
            assert self.now <= self.due() + self.interval  # never later than TTL + check interval
        self.rec.evict()

    def on_shutdown(self):
        if self.ticking:  # auto-shutdown: only when enabled, idle and expired
            assert self.auto and self.in_flight == 0
            assert self.now - self.last_access >= self.ttl
        self.rec.shutdown()

    def due(self):
        """The first instant the cache is both idle and past its TTL."""
        return max(self.last_access + self.ttl, self.idle_since)

    def start_daemon(self):
        self.lc.bind()
        self.lc.bound(self.now)
        self.last_access = self.idle_since = self.now

    @precondition(lambda self: self.lc.state == "stopped" and self.in_flight == 0)
    @rule()
    def restart_daemon(self):
        self.start_daemon()

    @rule(eighths=st.integers(0, 32))
    def advance(self, eighths):
        target = self.now + eighths / 8
        while (self.ticks + 1) * self.interval <= target:
            self.ticks += 1
            self.now = self.ticks * self.interval
            serving = self.lc.state != "stopped"
            self.ticking = True
            try:
                self.lc.tick(self.now)
            finally:
                self.ticking = False
            if serving:
                self.check_tick_acted()
        self.now = target

    def check_tick_acted(self):
        """A tick at or after `due` must evict, and with auto-shutdown also stop, at once."""
        if self.in_flight == 0 and self.last_access is not None and self.now >= self.due():
            assert self.lc.state == ("stopped" if self.auto else "evicted")

    @precondition(lambda self: self.lc.state in ("evicted", "warm"))
    @rule(access=st.booleans())
    def begin_request(self, access):
        self.lc.request_started()
        self.in_flight += 1
        if access:
            self.last_access = self.now
            try:
                self.lc.access(self.now)
            except LoadFailed:
                assert self.lc.state == "evicted"
            else:
                assert self.lc.state == "warm"

    @precondition(lambda self: self.lc.state in ("evicted", "warm") and self.in_flight == 0)
    @rule()
    def short_query(self):
        """The everyday case in one step, so warm-and-idle states come up often."""
        self.begin_request(access=True)
        self.end_request()

    @precondition(lambda self: self.in_flight > 0)
    @rule()
    def end_request(self):
        self.lc.request_finished()
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle_since = self.now

    @rule()
    def toggle_load_failure(self):
        self.rec.fail_load = not self.rec.fail_load

    @precondition(lambda self: self.lc.state in ("evicted", "warm"))
    @rule()
    def clear_cache(self):
        self.lc.evict()
        assert self.lc.state == "evicted"

    @precondition(lambda self: self.lc.state in ("evicted", "warm"))
    @rule()
    def stop(self):
        self.lc.stop("stop requested")
        assert self.lc.state == "stopped"

    @rule(event=st.sampled_from(EVENTS))
    def illegal_event(self, event):
        state = self.lc.state
        if event in LEGAL[state]:
            return
        with pytest.raises(LifecycleError):
            fire(self.lc, event, self.now)
        assert self.lc.state == state

    @invariant()
    def bookkeeping_matches(self):
        assert self.lc.state in ("stopped", "evicted", "warm")
        assert self.lc.in_flight == self.in_flight
        if self.lc.state != "stopped":
            assert self.lc.last_access == self.last_access

    @invariant()
    def no_missed_eviction(self):
        # Ticks run at every interval, so an idle cache past due + interval must be gone.
        if self.lc.state != "stopped" and self.in_flight == 0 and self.now > self.due() + self.interval:
            assert self.lc.state == "evicted"
            assert not self.auto  # and with auto-shutdown the daemon must have stopped


CacheModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestCacheLifecycle = CacheModel.TestCase
