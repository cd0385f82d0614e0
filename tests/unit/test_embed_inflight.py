"""The pieces that keep HTTP embedding requests in flight: request planning, the shared 429 gate
(with an injected clock: nothing sleeps for real), and ordered, all-or-nothing parallel runs."""

import threading

import pytest

from cidx.embed.inflight import RateGate, plan_batches, run_in_flight


def test_plan_respects_inputs_and_characters_and_keeps_order():
    texts = ["aaaa", "bb", "cccccc", "d", "eeeeeeeeeeee", "f"]
    assert plan_batches(texts, max_inputs=3, max_chars=8) == [(0, 2), (2, 4), (4, 5), (5, 6)]
    assert plan_batches(texts, max_inputs=2, max_chars=1000) == [(0, 2), (2, 4), (4, 6)]
    assert plan_batches([], max_inputs=2, max_chars=10) == []


def test_plan_sends_an_oversized_text_alone():
    assert plan_batches(["x" * 50, "y"], max_inputs=10, max_chars=10) == [(0, 1), (1, 2)]


class FakeTime:
    def __init__(self):
        self.now, self.slept = 0.0, []
        self.on_sleep = lambda: None

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep()


def test_gate_without_a_pause_does_not_sleep():
    t = FakeTime()
    RateGate(lambda: t.now, t.sleep).wait()
    assert t.slept == []


def test_gate_sleeps_only_the_rest_of_the_pause():
    t = FakeTime()
    gate = RateGate(lambda: t.now, t.sleep)
    gate.pause_until(5.0)
    t.now = 2.0
    gate.wait()
    assert t.slept == [3.0]
    gate.wait()  # the pause is over
    assert t.slept == [3.0]


def test_gate_pauses_only_extend():
    t = FakeTime()
    gate = RateGate(lambda: t.now, t.sleep)
    gate.pause_until(10.0)
    gate.pause_until(4.0)  # a shorter Retry-After from another worker does not cut the pause
    gate.wait()
    assert t.slept == [10.0]


def test_gate_waits_again_when_the_pause_grows_during_the_sleep():
    t = FakeTime()
    gate = RateGate(lambda: t.now, t.sleep)
    gate.pause_until(3.0)
    t.on_sleep = lambda: (gate.pause_until(8.0), setattr(t, "on_sleep", lambda: None))
    gate.wait()
    assert t.slept == [3.0, 5.0]


def test_run_in_flight_keeps_job_order_and_limits_concurrency():
    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Barrier(3, timeout=5)  # 3 jobs must be running together to pass

    def job(i):
        def run(_abort):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            if i < 3:
                release.wait()
            with lock:
                running[0] -= 1
            return i * 10
        return run

    assert run_in_flight([job(i) for i in range(7)], max_in_flight=3) == [0, 10, 20, 30, 40, 50, 60]
    assert peak[0] == 3


def test_run_in_flight_raises_the_first_error_and_tells_the_others():
    seen_abort = []
    started = threading.Event()

    def failing(_abort):
        started.wait(5)
        raise ValueError("boom")

    def slow(abort):
        started.set()
        seen_abort.append(abort.wait(5))
        return 1

    with pytest.raises(ValueError, match="boom"):
        run_in_flight([slow, failing], max_in_flight=2)
    assert seen_abort == [True]


def test_run_in_flight_with_one_slot_runs_in_the_caller():
    names = []
    run_in_flight([lambda _a: names.append(threading.current_thread().name)] * 2, max_in_flight=1)
    assert names == [threading.current_thread().name] * 2
