"""The two exceptions of the lifecycle package. Stdlib-only: the fast client path imports them."""


class LifecycleError(Exception):
    """An event was fired in a state that does not accept it: a bug in the caller, not a user error.

    Carries `machine` ("client" or "cache"), `state`, `event` and `allowed` (the events that state
    does accept) so the message says exactly what went wrong and what would have been legal.
    """

    def __init__(self, machine: str, state: str, event: str, allowed: tuple[str, ...] = (),
                 message: str | None = None):
        self.machine, self.state, self.event, self.allowed = machine, state, event, tuple(allowed)
        if message is None:
            legal = ", ".join(self.allowed) if self.allowed else f"none ({state!r} is terminal)"
            message = (f"{machine} lifecycle: event {event!r} is not allowed in state {state!r}; "
                       f"allowed there: {legal}")
        super().__init__(message)


class ConnectionFailure(Exception):
    """A connection-level failure talking to the daemon: refused, reset, EOF, timeout.

    Client effects raise this (wrapping OSError, EOFError, rpyc timeouts) to tell the driver the
    daemon is gone. It is the ONLY thing that counts as a crash: any other exception from a call is
    the query's own error, goes to the user unchanged, and never restarts the daemon.
    """
