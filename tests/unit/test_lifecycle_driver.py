"""drive_client: auto-start, retry with backoff, restart at most twice, then fall back.

The effects are fakes that log every call; `sleep` only records (no test ever sleeps).
"""

import pytest
from hypothesis import given, settings, strategies as st

from cidx.lifecycle import ClientLifecycle, ConnectionFailure, LifecycleError, Outcome, drive_client

DEFAULT = [100, 500, 1000, 2000]


class QueryError(Exception):
    """Stands in for an error the daemon's query raised (bad regex, missing index)."""


class FakeEffects:
    """Scripted effects. `connects`/`calls` are consumed in order; an exception instance is raised."""

    def __init__(self, probe=False, connects=(), calls=(), spawn_error=None):
        self._probe, self._connects, self._calls = probe, list(connects), list(calls)
        self._spawn_error = spawn_error
        self.log = []

    def _next(self, script, name):
        self.log.append(name)
        result = script.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    def probe(self):
        return self._next([self._probe], "probe")

    def spawn(self):
        self.log.append("spawn")
        if self._spawn_error:
            raise self._spawn_error

    def connect(self):
        return self._next(self._connects, "connect")

    def call(self):
        return self._next(self._calls, "call")

    def sleep(self, seconds):
        self.log.append(("sleep", seconds))


def lifecycle(delays=DEFAULT, max_retries=4):
    return ClientLifecycle(delays, max_retries=max_retries)


def test_running_daemon_is_used_directly():
    fx = FakeEffects(probe=True, calls=["results"])
    lc = lifecycle()
    assert drive_client(lc, fx) == Outcome(via_daemon=True, value="results", fallback_reason=None)
    assert fx.log == ["probe", "call"]
    assert lc.state == "warm"


def test_absent_daemon_is_spawned_once_and_connect_retries_follow_the_delays():
    fx = FakeEffects(probe=False, connects=[False, ConnectionFailure("refused"), True], calls=["r"])
    out = drive_client(lifecycle(), fx)
    assert out.via_daemon and out.value == "r"
    assert fx.log == ["probe", "spawn", ("sleep", 0.1), "connect", ("sleep", 0.5), "connect",
                      ("sleep", 1.0), "connect", "call"]


def test_unreachable_daemon_falls_back_after_max_retries_attempts():
    fx = FakeEffects(probe=ConnectionRefusedError(), connects=[False] * 10)
    lc = lifecycle(max_retries=3)
    out = drive_client(lc, fx)
    assert out == Outcome(via_daemon=False, value=None, fallback_reason=lc.fallback_reason)
    assert [e for e in fx.log if e != "connect"] == ["probe", "spawn", ("sleep", 0.1), ("sleep", 0.5),
                                                     ("sleep", 1.0)]
    assert fx.log.count("connect") == 3 and "call" not in fx.log
    assert "3 attempts" in out.fallback_reason


def test_connection_lost_restarts_at_most_twice_then_falls_back():
    lost = [ConnectionFailure("EOF"), ConnectionFailure("reset"), ConnectionFailure("timed out")]
    fx = FakeEffects(probe=True, connects=[True, True], calls=lost)
    lc = lifecycle()
    out = drive_client(lc, fx)
    assert not out.via_daemon
    assert fx.log.count("spawn") == 2 and fx.log.count("call") == 3
    assert lc.restarts == 2 and lc.state == "fallback"
    assert "2 restarts" in out.fallback_reason and "timed out" in out.fallback_reason


def test_one_lost_connection_is_recovered_by_a_restart():
    fx = FakeEffects(probe=True, connects=[True], calls=[ConnectionFailure("EOF"), "r"])
    out = drive_client(lifecycle(), fx)
    assert out == Outcome(True, "r", None)
    assert fx.log == ["probe", "call", "spawn", ("sleep", 0.1), "connect", "call"]


def test_query_error_propagates_unchanged_and_never_restarts():
    error = QueryError("bad regex: unbalanced parenthesis")
    fx = FakeEffects(probe=True, calls=[error])
    lc = lifecycle()
    with pytest.raises(QueryError) as info:
        drive_client(lc, fx)
    assert info.value is error
    assert fx.log == ["probe", "call"]
    assert (lc.state, lc.restarts, lc.query_errors) == ("warm", 0, 1)


def test_spawn_failure_falls_back_with_the_reason():
    fx = FakeEffects(probe=False, spawn_error=OSError("no such file: python"))
    out = drive_client(lifecycle(), fx)
    assert not out.via_daemon
    assert "could not start the daemon" in out.fallback_reason and "no such file" in out.fallback_reason


def test_keyboard_interrupt_is_neither_crash_nor_query_error():
    fx = FakeEffects(probe=True, calls=[KeyboardInterrupt()])
    lc = lifecycle()
    with pytest.raises(KeyboardInterrupt):
        drive_client(lc, fx)
    assert (lc.state, lc.query_errors, lc.restarts) == ("warm", 0, 0)


def test_driver_needs_a_fresh_lifecycle():
    lc = lifecycle()
    lc.give_up("disabled")
    with pytest.raises(LifecycleError):
        drive_client(lc, FakeEffects(probe=True, calls=["r"]))


# --- property: any mix of connect/call outcomes --------------------------------------------

class DrawnEffects(FakeEffects):
    """Outcomes drawn by hypothesis at the moment the driver asks for them."""

    def __init__(self, data):
        super().__init__()
        self.data = data
        self.kinds = []  # outcome of each call(), in order

    def probe(self):
        self.log.append("probe")
        return self.data.draw(st.booleans(), label="probe")

    def connect(self):
        self.log.append("connect")
        return self.data.draw(st.booleans(), label="connect")

    def call(self):
        self.log.append("call")
        kind = self.data.draw(st.sampled_from(["ok", "lost", "query error"]), label="call")
        self.kinds.append(kind)
        if kind == "lost":
            raise ConnectionFailure("lost")
        if kind == "query error":
            raise QueryError("bad")
        return "r"


@settings(max_examples=300, deadline=None)
@given(data=st.data(), delays=st.lists(st.integers(0, 5000), min_size=1, max_size=6))
def test_driver_invariants_for_any_outcomes(data, delays):
    max_retries = data.draw(st.integers(0, len(delays)), label="max_retries")
    lc = ClientLifecycle(delays, max_retries=max_retries)
    fx = DrawnEffects(data)
    try:
        out = drive_client(lc, fx)
    except QueryError:
        out = None
        assert fx.log[-1] == "call" and lc.state == "warm"  # reported as-is, nothing after it
    # A query error ends the run at once: no restart, no retry of the call.
    assert ("query error" in fx.kinds) == (out is None)
    if out is None:
        assert fx.kinds.count("query error") == 1 and fx.kinds[-1] == "query error"
    assert lc.restarts == min(fx.kinds.count("lost"), 2)  # only lost connections restart
    assert fx.log.count("spawn") <= 3  # the first start plus at most 2 restarts
    assert lc.restarts <= 2
    # Split the log at each spawn: every start sleeps delays[0], delays[1], ... before its connects.
    starts, current = [], None
    for entry in fx.log:
        if entry == "spawn":
            current = []
            starts.append(current)
        elif current is not None and entry != "call":
            current.append(entry)
    for start in starts:
        sleeps = [e[1] for e in start if isinstance(e, tuple)]
        assert sleeps == [d / 1000 for d in delays[:len(sleeps)]]
        assert start.count("connect") == len(sleeps) <= max_retries
    if out is not None:
        assert out.via_daemon == (lc.state == "warm")
        if out.via_daemon:
            assert fx.log[-1] == "call"
        assert bool(out.fallback_reason) == (not out.via_daemon)
