"""Console-script entry point: decides, with light imports, whether this `cidx query` goes to the
repository's daemon (the fast path, cidx/fastpath/: the standard library and nothing else of cidx
but the lifecycle table) or to the full CLI. Everything the fast path cannot vouch for goes to the
full CLI."""

import os
import sys

FAST_COMMANDS = ("query",)


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in FAST_COMMANDS and os.environ.get("CIDX_NO_DAEMON") != "1":
        from cidx.fastpath import code_pack

        code_pack.install()  # the fast path's modules in one read, when the daemon has packed them
        from cidx.fastpath.config import read_fast_config
        from cidx.fastpath.process_exit import leave

        config = read_fast_config(os.getcwd())
        if config is not None:
            from cidx.fastpath import query

            code = query.main_query(config, argv[1:])
            leave(code, fast=not query.RAN_IN_PROCESS)
    from cidx.cli import main as cli_main
    from cidx.fastpath.process_exit import leave

    leave(cli_main(argv))
