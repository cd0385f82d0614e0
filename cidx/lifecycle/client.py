"""The client's connection lifecycle: one instance per CLI invocation.

States and events are the `client` rows of cidx/lifecycle/table.py (diagram: docs/lifecycle.md).

The object only decides; the caller acts (see `drive_client` for the whole loop):
- `daemon_absent()` / `restart()` returning in `starting`: spawn the daemon now (once per start).
- `attempt()`: returns the seconds to sleep before the next connect attempt, or None when the
  attempts of this start are used up (the state is then `fallback`). Attempt i of a start waits
  `retry_delays_ms[i]`, and a start makes at most `max_retries` attempts, so `max_retries = 0`
  means: spawn the daemon for later invocations, but run this one in-process.
- after an attempt: `connected()` or `connect_failed()`.
- `connection_lost(why)` for refused/reset/EOF/timeout mid-call, `query_error()` for an error the
  daemon's query raised (reported to the user; never a crash, never a restart).
- `give_up(reason)`: fall back for a reason the caller found (e.g. the spawn failed).
`fallback` is terminal: every event there raises LifecycleError.
"""

from cidx.lifecycle.machine import TableMachine
from cidx.lifecycle.table import CLIENT, FALLBACK, STARTING


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class ClientLifecycle(TableMachine):
    MACHINE = CLIENT

    def __init__(self, retry_delays_ms: tuple[int, ...] | list[int], max_retries: int, max_restarts: int = 2,
                 engine: str = "transitions") -> None:
        delays = tuple(retry_delays_ms)
        if not delays or any(d < 0 for d in delays):
            raise ValueError("retry_delays_ms must be a non-empty list of non-negative milliseconds")
        if not 0 <= max_retries <= len(delays):
            raise ValueError(f"max_retries must be between 0 and len(retry_delays_ms) = {len(delays)}")
        if max_restarts < 0:
            raise ValueError("max_restarts must be >= 0")
        self.retry_delays_ms = delays
        self.max_retries = max_retries
        self.max_restarts = max_restarts
        self._attempts = 0
        self._restarts = 0
        self._starts = 0
        self._delays_used: list[float] = []
        self._query_errors = 0
        self._last_failure = ""
        self._fallback_reason: str | None = None
        self._pending_reason: str | None = None  # why a guarded row may be about to fall back
        super().__init__(engine)

    # --- events ---------------------------------------------------------------------------------

    def daemon_absent(self) -> None:
        """No socket, or it refused: go to `starting`; the caller spawns the daemon now."""
        self._fire("daemon_absent")
        self._begin_start()

    def attempt(self) -> float | None:
        """Seconds to sleep before the next connect attempt; None (and `fallback`) when used up."""
        n = self._attempts
        if n:
            waited = sum(self.retry_delays_ms[:n]) / 1000
            self._pending_reason = f"daemon did not accept a connection after {_plural(n, 'attempt')} (waited {waited:g} s)"
        else:
            self._pending_reason = "daemon not reachable and no connection attempts allowed (max_retries is 0)"
        self._fire("attempt")
        if self.state == FALLBACK:
            self._fall_back()
            return None
        delay = self.retry_delays_ms[n] / 1000
        self._attempts += 1
        self._delays_used.append(delay)
        return delay

    def connect_failed(self) -> None:
        self._fire("connect_failed")

    def connected(self) -> None:
        self._fire("connected")

    def query_error(self) -> None:
        """The daemon answered with an error (bad regex, missing index): stay warm, count it."""
        self._fire("query_error")
        self._query_errors += 1

    def connection_lost(self, why: str = "") -> None:
        """Refused, reset, EOF or timeout in the middle of a call."""
        self._fire("connection_lost")
        self._last_failure = why

    def restart(self) -> None:
        """After a crash: `starting` again (caller spawns) if restarts are left, else `fallback`."""
        last = f": {self._last_failure}" if self._last_failure else ""
        self._pending_reason = f"daemon connection failed again after {_plural(self._restarts, 'restart')}{last}"
        self._fire("restart")
        if self.state == STARTING:
            self._restarts += 1
            self._begin_start()
        else:
            self._fall_back()

    def give_up(self, reason: str) -> None:
        """Fall back now, for `reason` (shown to the user)."""
        self._pending_reason = reason
        self._fire("give_up")
        self._fall_back()

    # --- guards (names used by the table) -------------------------------------------------------

    def _guard_attempts_left(self) -> bool:
        return self._attempts < self.max_retries

    def _guard_restarts_left(self) -> bool:
        return self._restarts < self.max_restarts

    # --- bookkeeping ----------------------------------------------------------------------------

    def _begin_start(self) -> None:
        self._starts += 1
        self._attempts = 0  # every start gets the whole backoff sequence again

    def _fall_back(self) -> None:
        self._fallback_reason = self._pending_reason

    # --- read-only view -------------------------------------------------------------------------

    @property
    def attempts(self) -> int:
        """Connect attempts handed out by the current start."""
        return self._attempts

    @property
    def restarts(self) -> int:
        return self._restarts

    @property
    def starts(self) -> int:
        """Times the daemon was (re)spawned in this invocation."""
        return self._starts

    @property
    def delays_used(self) -> tuple[float, ...]:
        """Every delay (seconds) handed out by attempt(), in order, across the invocation."""
        return tuple(self._delays_used)

    @property
    def query_errors(self) -> int:
        return self._query_errors

    @property
    def fallback_reason(self) -> str | None:
        """Why we fell back, fit for the one dim line on stderr; None unless in `fallback`."""
        return self._fallback_reason
