"""THE lifecycle table: states and transitions of both machines, declared once, as data.

`ClientLifecycle` and `CacheLifecycle` build their `transitions.Machine` from `ROWS`; the diagrams
in docs/lifecycle.md are rendered from the same rows (`python -m cidx.lifecycle.render`), so code,
docs and tests cannot drift apart.

Row semantics:
- rows for one (machine, source, trigger) are tried in order; the first whose guards all hold
  fires. The last row of such a group has no guard: it is the "else".
- `source == dest` is an internal transition: bookkeeping only, no exit/enter.
- `effect` names a callback run BEFORE the state changes; if it raises, the state stays and the
  exception propagates (a failed load leaves the cache evicted).
"""

from collections import namedtuple

STOPPED, STARTING, WARM, EVICTED, CRASHED, FALLBACK = (
    "stopped", "starting", "warm", "evicted", "crashed", "fallback")
STATES = (STOPPED, STARTING, WARM, EVICTED, CRASHED, FALLBACK)

CLIENT, CACHE = "client", "cache"
INITIAL = {CLIENT: STOPPED, CACHE: STOPPED}

MEANING = {
    CLIENT: {
        STOPPED: "not connected yet (start of every invocation)",
        STARTING: "daemon spawned; connect attempts with backoff",
        WARM: "connected; calls go to the daemon",
        CRASHED: "the connection failed mid-call",
        FALLBACK: "terminal: this invocation runs in-process",
    },
    CACHE: {
        STOPPED: "no socket bound (process not serving)",
        STARTING: "holding the lock, binding the socket",
        EVICTED: "serving, nothing loaded",
        WARM: "serving, indexes loaded",
    },
}

GUARDS = {
    "attempts_left": "fewer than `max_retries` connect attempts in this start",
    "restarts_left": "fewer than `max_restarts` (2) restarts in this invocation",
    "expired": "no request in flight and `now - last_access >= ttl`",
    "auto_shutdown": "`auto_shutdown_on_idle` is set",
}


# A namedtuple, not a dataclass: the client's fast path imports this module, and dataclasses imports
# inspect (~15 ms; ADR 0008). collections is loaded anyway by then (ADR 0016).
Row = namedtuple("Row", "machine source trigger dest guard effect note", defaults=((), None, ""))
Row.__doc__ = """One transition: `trigger` in `source` goes to `dest` when every name in `guard` holds,
running the callback named `effect` first. `note` is for the rendered docs."""


def _client(source, trigger, dest, guard=(), note=""):
    return Row(CLIENT, source, trigger, dest, tuple(guard), None, note)


def _cache(source, trigger, dest, guard=(), effect=None, note=""):
    return Row(CACHE, source, trigger, dest, tuple(guard), effect, note)


ROWS: tuple[Row, ...] = (
    # --- client: one per CLI invocation; the caller performs the effects the notes name ---------
    _client(STOPPED, "connected", WARM, note="a daemon was already serving"),
    _client(STOPPED, "daemon_absent", STARTING, note="no socket or refused: caller spawns the daemon once"),
    _client(STOPPED, "give_up", FALLBACK, note="e.g. the daemon cannot be used at all"),
    _client(STARTING, "attempt", STARTING, ["attempts_left"],
            note="returns delay i = retry_delays_ms[i]; caller sleeps, then connects"),
    _client(STARTING, "attempt", FALLBACK, note="max_retries attempts failed: unreachable"),
    _client(STARTING, "connect_failed", STARTING, note="refused or timed out; next attempt decides"),
    _client(STARTING, "connected", WARM),
    _client(STARTING, "give_up", FALLBACK, note="e.g. the spawn itself failed"),
    _client(WARM, "query_error", WARM, note="the daemon answered with an error: report it, never restart"),
    _client(WARM, "connection_lost", CRASHED, note="refused, reset, EOF or timeout mid-call"),
    _client(CRASHED, "restart", STARTING, ["restarts_left"], note="caller spawns a new daemon"),
    _client(CRASHED, "restart", FALLBACK, note="restarts used up"),
    _client(CRASHED, "give_up", FALLBACK),
    # --- cache: one per daemon process; effects are the daemon's callbacks -----------------------
    _cache(STOPPED, "bind", STARTING, note="take the lock, probe, bind the socket"),
    _cache(STOPPED, "tick", STOPPED, note="late tick after shutdown: ignored"),
    _cache(STOPPED, "request_finished", STOPPED, note="a request that outlived stop()"),
    _cache(STARTING, "bound", EVICTED, note="serving; the TTL clock starts now"),
    _cache(STARTING, "bind_failed", STOPPED, note="another daemon serves: exit 0, touch nothing"),
    _cache(STARTING, "stop", STOPPED, effect="shutdown"),
    _cache(EVICTED, "access", WARM, effect="load", note="first query loads; refreshes last access"),
    _cache(WARM, "access", WARM, note="cache hit; refreshes last access"),
    _cache(EVICTED, "request_started", EVICTED),
    _cache(WARM, "request_started", WARM),
    _cache(EVICTED, "request_finished", EVICTED),
    _cache(WARM, "request_finished", WARM),
    _cache(EVICTED, "touch", EVICTED, note="client activity (a connection): refreshes last access, loads nothing"),
    _cache(WARM, "touch", WARM, note="client activity: refreshes last access"),
    _cache(WARM, "tick", EVICTED, ["expired"], effect="evict",
           note="tick() then re-checks at once, so shutdown needs no extra interval"),
    _cache(WARM, "tick", WARM),
    _cache(EVICTED, "tick", STOPPED, ["expired", "auto_shutdown"], effect="shutdown"),
    _cache(EVICTED, "tick", EVICTED),
    _cache(WARM, "evict", EVICTED, effect="evict", note="clear_cache, or the index changed"),
    _cache(EVICTED, "evict", EVICTED),
    _cache(EVICTED, "stop", STOPPED, effect="shutdown", note="signal or `cidx stop`"),
    _cache(WARM, "stop", STOPPED, effect="shutdown", note="signal or `cidx stop`"),
)


def rows_for(machine: str) -> tuple[Row, ...]:
    return tuple(row for row in ROWS if row.machine == machine)


def states_for(machine: str) -> tuple[str, ...]:
    """The states a machine uses, in STATES order."""
    used = {s for row in rows_for(machine) for s in (row.source, row.dest)}
    return tuple(s for s in STATES if s in used)


def events_from(machine: str, state: str) -> tuple[str, ...]:
    """The events `state` accepts, in table order (for error messages and docs)."""
    return tuple(dict.fromkeys(r.trigger for r in rows_for(machine) if r.source == state))
