"""The client's connection lifecycle (cidx.lifecycle.ClientLifecycle).

Plain tests pin the messages and edge cases; the RuleBasedStateMachine fires *any* event in *any*
state (legal or not) and compares against a small independent model of the issue's rules.
"""

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cidx.lifecycle import ClientLifecycle, LifecycleError

EVENTS = ("daemon_absent", "attempt", "connect_failed", "connected", "query_error",
          "connection_lost", "restart", "give_up")


def fire(lc, event):
    return lc.give_up("test") if event == "give_up" else getattr(lc, event)()


# --- plain unit tests -------------------------------------------------------------------------

def test_default_restarts_is_two_and_initial_state_is_stopped():
    lc = ClientLifecycle([100, 500, 1000, 2000], max_retries=4)
    assert lc.max_restarts == 2
    assert lc.state == "stopped"
    assert (lc.restarts, lc.attempts, lc.delays_used, lc.fallback_reason) == (0, 0, (), None)


def test_attempts_hand_out_configured_delays_in_seconds_then_fall_back():
    lc = ClientLifecycle([100, 500, 1000, 2000], max_retries=3)
    lc.daemon_absent()
    got = []
    for _ in range(3):
        got.append(lc.attempt())
        lc.connect_failed()
    assert got == [0.1, 0.5, 1.0]
    assert lc.attempt() is None
    assert lc.state == "fallback"
    assert "3 attempts" in lc.fallback_reason


def test_zero_retries_falls_back_on_first_attempt():
    lc = ClientLifecycle([100], max_retries=0)
    lc.daemon_absent()
    assert lc.attempt() is None
    assert lc.state == "fallback"
    assert "max_retries is 0" in lc.fallback_reason


def test_query_error_keeps_warm_and_counts_no_restart():
    lc = ClientLifecycle([100], max_retries=1)
    lc.connected()
    lc.query_error()
    lc.query_error()
    assert (lc.state, lc.restarts, lc.query_errors) == ("warm", 0, 2)


def test_restarts_exhausted_falls_back_with_the_last_failure_in_the_reason():
    lc = ClientLifecycle([100], max_retries=1)
    lc.connected()
    for _ in range(2):
        lc.connection_lost("connection reset by peer")
        lc.restart()
        assert lc.state == "starting"
        assert lc.attempts == 0  # a new start gets the full backoff again
        lc.attempt()
        lc.connected()
    lc.connection_lost("EOF")
    lc.restart()
    assert lc.state == "fallback"
    assert lc.restarts == 2
    assert "2 restarts" in lc.fallback_reason and "EOF" in lc.fallback_reason


def test_illegal_event_names_machine_state_event_and_what_is_allowed():
    lc = ClientLifecycle([100], max_retries=1)
    with pytest.raises(LifecycleError) as info:
        lc.connection_lost()
    err = info.value
    assert (err.machine, err.state, err.event) == ("client", "stopped", "connection_lost")
    assert "connection_lost" in str(err) and "'stopped'" in str(err)
    assert "daemon_absent" in str(err)  # tells the caller what would have been legal
    assert lc.state == "stopped"


def test_fallback_is_terminal_and_says_so():
    lc = ClientLifecycle([100], max_retries=1)
    lc.give_up("daemon disabled")
    assert lc.fallback_reason == "daemon disabled"
    for event in EVENTS:
        with pytest.raises(LifecycleError, match="terminal"):
            fire(lc, event)
    assert lc.state == "fallback"


def test_lifecycle_error_is_not_a_machine_error():
    from transitions import MachineError

    lc = ClientLifecycle([100], max_retries=1)
    with pytest.raises(LifecycleError) as info:
        lc.restart()
    assert not isinstance(info.value, MachineError)


@pytest.mark.parametrize("delays, max_retries, max_restarts", [
    ([], 0, 2), ([100], 2, 2), ([100], -1, 2), ([100], 1, -1), ([-5], 1, 2),
])
def test_constructor_rejects_inconsistent_settings(delays, max_retries, max_restarts):
    with pytest.raises(ValueError):
        ClientLifecycle(delays, max_retries=max_retries, max_restarts=max_restarts)


# --- stateful: every event in every state -----------------------------------------------------

class ClientModel(RuleBasedStateMachine):
    """Independent model of the rules in the issue; the machine must agree on every step."""

    @initialize(data=st.data(), delays=st.lists(st.integers(0, 60_000), min_size=1, max_size=8))
    def setup(self, data, delays):
        self.delays_ms = delays
        self.max_retries = data.draw(st.integers(0, len(delays)), label="max_retries")
        self.lc = ClientLifecycle(delays, max_retries=self.max_retries)  # default max_restarts
        self.state = "stopped"
        self.restarts = 0
        self.attempts = 0
        self.handed = []  # delays handed out, in order, across the invocation
        self.per_start = []  # delays handed out by the current start
        self.seen_fallback = False

    def legal(self, event):
        return event in {
            "stopped": {"daemon_absent", "connected", "give_up"},
            "starting": {"attempt", "connect_failed", "connected", "give_up"},
            "warm": {"query_error", "connection_lost"},
            "crashed": {"restart", "give_up"},
            "fallback": set(),
        }[self.state]

    def expect(self, event):
        """Apply `event` to the model; return what the machine's method should return."""
        if event in ("daemon_absent", "restart"):
            if event == "restart" and self.restarts >= 2:
                self.state = "fallback"
                return None
            self.restarts += event == "restart"
            self.state, self.attempts, self.per_start = "starting", 0, []
        elif event == "attempt":
            if self.attempts >= self.max_retries:
                self.state = "fallback"
                return None
            delay = self.delays_ms[self.attempts] / 1000
            self.attempts += 1
            self.handed.append(delay)
            self.per_start.append(delay)
            return delay
        elif event == "connected":
            self.state = "warm"
        elif event == "connection_lost":
            self.state = "crashed"
        elif event == "give_up":
            self.state = "fallback"
        return None  # connect_failed, query_error: no state change

    @rule(event=st.sampled_from(EVENTS))
    def fire_event(self, event):
        before = (self.lc.state, self.lc.restarts, self.lc.attempts, self.lc.delays_used)
        if not self.legal(event):
            with pytest.raises(LifecycleError):
                fire(self.lc, event)
            assert (self.lc.state, self.lc.restarts, self.lc.attempts, self.lc.delays_used) == before
            return
        expected = self.expect(event)
        assert fire(self.lc, event) == expected
        if event == "query_error":  # a query error never crashes or restarts
            assert self.lc.state == "warm" and self.lc.restarts == before[1]

    @rule()
    def crash_and_restart(self):
        """Random single events rarely reach a third crash; this rule walks there on purpose."""
        if self.state in ("stopped", "starting"):
            self.fire_event("connected")
        if self.state == "warm":
            self.fire_event("connection_lost")
        if self.state == "crashed":
            self.fire_event("restart")

    @invariant()
    def agrees_with_model(self):
        assert self.lc.state == self.state
        assert self.lc.restarts == self.restarts

    @invariant()
    def never_more_than_two_restarts(self):
        assert self.lc.restarts <= 2

    @invariant()
    def backoff_delays_in_order_never_exceeded(self):
        assert list(self.lc.delays_used) == self.handed
        assert self.per_start == [d / 1000 for d in self.delays_ms[:len(self.per_start)]]
        assert self.lc.attempts <= self.max_retries

    @invariant()
    def fallback_is_terminal(self):
        if self.seen_fallback:
            assert self.lc.state == "fallback"
        self.seen_fallback = self.lc.state == "fallback"
        if self.seen_fallback:
            assert self.lc.fallback_reason


ClientModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestClientLifecycle = ClientModel.TestCase
