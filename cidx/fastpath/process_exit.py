"""How a cidx process leaves: output flushed, a vanished reader is not an error, and the query fast
path skips the interpreter's teardown.

- `cidx query ... | head`: when the reader goes away, writing raises BrokenPipeError. That is the
  user's choice, not a failure: exit 141 (128 + SIGPIPE, what a tool killed by SIGPIPE reports)
  without a word on stderr.
- Interpreter teardown (module cleanup, garbage collection) costs ~3 ms of a warm query's ~20 ms
  (ADR 0009). After a query the daemon answered, the process holds nothing that needs it (no file
  open for writing, no atexit handler, no thread), so `fast=True` flushes and calls os._exit.
"""

import os
import sys

SIGPIPE_EXIT = 141


def silence_stdout() -> None:
    """Point stdout at /dev/null so that the final flush cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def leave(code: int, *, fast: bool = False):
    """Flush stdout and stderr, then exit with `code` (141 if the reader of stdout went away)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = SIGPIPE_EXIT
        silence_stdout()
    except (OSError, ValueError, AttributeError):
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    if fast:
        os._exit(code)
    sys.exit(code)
