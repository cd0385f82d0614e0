"""The table engine (used on the query fast path) and the transitions engine run the same table with
the same results: for random event sequences, both end every step in the same state, return the
same values, run the same effects and raise the same errors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cidx.lifecycle import CacheLifecycle, ClientLifecycle, LifecycleError

CLIENT_EVENTS = st.sampled_from(["daemon_absent", "attempt", "connect_failed", "connected", "connection_lost",
                                 "restart", "give_up", "query_error"])
CACHE_EVENTS = st.tuples(
    st.sampled_from(["bind", "bound", "bind_failed", "access", "request_started", "request_finished", "tick",
                     "evict", "stop", "touch"]),
    st.floats(min_value=0, max_value=100, allow_nan=False),
)


def step(machine, name, *args):
    try:
        return ("ok", getattr(machine, name)(*args), machine.state)
    except LifecycleError as exc:
        return ("illegal", str(exc), machine.state)


@given(delays=st.lists(st.integers(0, 3000), min_size=1, max_size=5), data=st.data(),
       events=st.lists(CLIENT_EVENTS, max_size=40))
def test_client_engines_agree(delays, data, events):
    retries = data.draw(st.integers(0, len(delays)))
    a = ClientLifecycle(delays, retries, engine="transitions")
    b = ClientLifecycle(delays, retries, engine="table")
    for name in events:
        args = ("why",) if name in ("connection_lost", "give_up") else ()
        assert step(a, name, *args) == step(b, name, *args)
        assert (a.restarts, a.attempts, a.delays_used, a.fallback_reason) == \
            (b.restarts, b.attempts, b.delays_used, b.fallback_reason)


@given(ttl=st.floats(0.5, 50), auto=st.booleans(), events=st.lists(CACHE_EVENTS, max_size=40))
def test_cache_engines_agree(ttl, auto, events):
    logs = {"transitions": [], "table": []}

    def make(engine):
        log = logs[engine]
        return CacheLifecycle(ttl, 1.0, auto, on_load=lambda: log.append("load"), on_evict=lambda: log.append("evict"),
                              on_shutdown=lambda: log.append("shutdown"), engine=engine)

    a, b = make("transitions"), make("table")
    now = 0.0
    for name, delta in events:
        now += delta
        args = (now,) if name in ("bound", "access", "tick", "touch") else ()
        assert step(a, name, *args) == step(b, name, *args)
        assert logs["transitions"] == logs["table"]


def test_fast_path_engine_does_not_import_transitions():
    import subprocess
    import sys

    code = ("import sys\nfrom cidx.lifecycle import ClientLifecycle, drive_client\n"
            "ClientLifecycle([1], 1, engine='table').daemon_absent()\n"
            "print('transitions' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
