"""Console-script entry point. Decides between the fast daemon path and the full CLI using only
stdlib imports (the fast path arrives with the client issue)."""

from __future__ import annotations

import sys


def main() -> None:
    from cidx.cli import main as cli_main

    sys.exit(cli_main(sys.argv[1:]))
