"""drive_client: the whole client loop, pure, over injected effects.

    probe -> (absent) spawn, [sleep delay_i, connect] x up to max_retries -> call
    call raised ConnectionFailure -> restart: spawn, backoff again, call again (at most 2 restarts)
    attempts or restarts used up, or spawn failed -> Outcome(via_daemon=False, fallback_reason=...)
    call raised anything else -> the query's own error: re-raised unchanged, no restart

The caller runs the request in-process when `via_daemon` is False and prints the reason as one
dim line. `call()` may run more than once (after a restart), so it must be safe to repeat:
queries are; an indexing call is incremental, so a repeat redoes only unfinished work.
"""

from collections import namedtuple

from cidx.lifecycle.client import ClientLifecycle
from cidx.lifecycle.errors import ConnectionFailure, LifecycleError
from cidx.lifecycle.table import CLIENT, FALLBACK, STARTING, STOPPED

# What counts as "could not reach/start the daemon" during probe/spawn/connect. These have no
# query semantics, so plain OSErrors (refused, missing socket file, exec failure) count too.
_UNREACHABLE = (ConnectionFailure, OSError)


class ClientEffects:
    """The effects drive_client needs. Duck-typed: any object with these methods will do; subclass
    this only for the documentation. (Not a typing.Protocol: importing typing costs the fast path
    ~2 ms.)"""

    def probe(self) -> bool:
        """Connect to an already running daemon; True if connected. No spawning, no waiting."""
        raise NotImplementedError

    def spawn(self) -> None:
        """Start a daemon in the background and return at once (do not wait for it to bind)."""
        raise NotImplementedError

    def connect(self) -> bool:
        """One connect attempt; True if connected."""
        raise NotImplementedError

    def call(self):
        """Run the request over the connection and return its result. Raise ConnectionFailure for
        refused/reset/EOF/timeout; any other exception is the query's own error and reaches the
        user unchanged."""
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError


Outcome = namedtuple("Outcome", "via_daemon value fallback_reason", defaults=(None, None))
Outcome.__doc__ = """How drive_client ended. via_daemon: bool; value: what call() returned (only when
via_daemon); fallback_reason: why not, one line for the user (only when not via_daemon)."""


def drive_client(lc: ClientLifecycle, effects: ClientEffects) -> Outcome:
    """Run one request through the daemon, auto-starting and restarting it as the lifecycle allows.

    `lc` must be fresh (state `stopped`). Returns an Outcome; re-raises query errors unchanged.
    """
    if lc.state != STOPPED:
        raise LifecycleError(CLIENT, lc.state, "drive_client",
                             message=f"drive_client needs a fresh ClientLifecycle (state 'stopped'), not {lc.state!r}")
    if _succeeds(effects.probe):
        lc.connected()
    else:
        lc.daemon_absent()
        _start(lc, effects)
    while lc.state != FALLBACK:
        try:
            value = effects.call()
        except ConnectionFailure as exc:
            lc.connection_lost(str(exc) or type(exc).__name__)
            lc.restart()
            if lc.state == STARTING:
                _start(lc, effects)
        except Exception:
            lc.query_error()  # KeyboardInterrupt & co. are BaseException: neither crash nor query error
            raise
        else:
            return Outcome(via_daemon=True, value=value)
    return Outcome(via_daemon=False, fallback_reason=lc.fallback_reason)


def _start(lc: ClientLifecycle, effects: ClientEffects) -> None:
    """In `starting`: spawn once, then connect with backoff. Ends in `warm` or `fallback`."""
    try:
        effects.spawn()
    except _UNREACHABLE as exc:
        lc.give_up(f"could not start the daemon: {exc}")
        return
    while lc.state == STARTING:
        delay = lc.attempt()
        if delay is None:
            return  # attempts used up: lc is in fallback with the reason
        effects.sleep(delay)
        if _succeeds(effects.connect):
            lc.connected()
        else:
            lc.connect_failed()


def _succeeds(effect) -> bool:
    try:
        return bool(effect())
    except _UNREACHABLE:
        return False
