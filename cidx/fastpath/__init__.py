"""The query fast path: everything `cidx query` loads before it knows whether the daemon answers.

cidx/entry.py sends a `cidx query` here when the repository's daemon is enabled. These modules read
the config (config.py), parse the command line (params.py), talk to the daemon over the stdlib RPyC
subset (wire.py, delegate.py), print the result (results.py, render.py) and leave (process_exit.py).
The rule that makes it fast (DESIGN.md §6, ADR 0016): at import time they use the standard library,
each other and the client half of the lifecycle table (cidx/lifecycle/: the state machine that drives
connect, retry and restart lives there by project rule) and nothing else; the heavy parts of cidx
(full config validation, spawning a daemon, the in-process search) are imported inside the functions
that need them, off the warm path. tests/integration/test_fastpath_boundary.py checks both.

The rest of cidx imports the shared pieces from here: QueryParams, QueryResult, the errors, the socket
path and the reply shape of the wire protocol.
"""
