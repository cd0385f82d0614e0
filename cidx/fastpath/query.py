"""`cidx query` through the daemon with nothing heavy imported: the standard library and cidx's own
light modules (ADR 0008). When the daemon cannot be used, the query runs in-process after one dim
line on stderr.
"""

import sys

from cidx.fastpath.errors import CidxError
from cidx.fastpath.params import parse_query_args
from cidx.fastpath.process_exit import SIGPIPE_EXIT, silence_stdout
from cidx.fastpath.render import render
from cidx.fastpath.results import QueryResult


# True once the query ran in this process (fallback): the heavy modules it loaded may hold state
# that wants a normal interpreter exit, so entry.py then skips the fast exit.
RAN_IN_PROCESS = False


def run_query(config, argv: list[str]) -> int:
    """`config` is a cidx.fastpath.config.FastConfig."""
    params = parse_query_args(argv)  # a usage error never involves the daemon
    result, _ = search(config, params)
    render(result, params)
    return 0


def search(config, params) -> tuple:
    """(QueryResult, None) from the daemon, or (QueryResult, fallback reason) computed in-process
    after the one-line notice on stderr. Also the MCP server's search (cidx/mcp/)."""
    from cidx.fastpath.delegate import fallback_notice, run_via_daemon

    call = ("cli_query", str(config.root), params.to_wire())
    outcome = run_via_daemon(config, lambda conn: conn.call(*call), send_ahead=call)
    if outcome.via_daemon:
        try:
            result = QueryResult.from_wire(outcome.value)
        except ValueError as exc:  # a daemon bug, not the user's: say so in one line
            raise CidxError(f"{exc}; see `cidx status` and the daemon log") from None
    else:
        print(fallback_notice(config, outcome.fallback_reason), file=sys.stderr)
        global RAN_IN_PROCESS
        RAN_IN_PROCESS = True
        from cidx.services import run_query_standalone

        result = run_query_standalone(config.full(), params)
        return result, outcome.fallback_reason
    return result, None


def main_query(config, argv: list[str]) -> int:
    try:
        return run_query(config, argv)
    except CidxError as exc:
        print(f"cidx: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cidx: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cidx query ... | head`: the reader left; not an error
        silence_stdout()
        return SIGPIPE_EXIT
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:  # a bug: one line, never a traceback (CIDX_DEBUG=1 shows it)
        import os

        if os.environ.get("CIDX_DEBUG"):
            import traceback

            traceback.print_exc()
        print(f"cidx: internal error: {exc.__class__.__name__}: {exc} (set CIDX_DEBUG=1 for details)",
              file=sys.stderr)
        return 1
