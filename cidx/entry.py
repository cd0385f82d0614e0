"""Console-script entry point: decides, with stdlib-only imports, whether this `cidx query` goes to
the repository's daemon (fast path: no click, rich, numpy, tantivy or hnswlib) or to the full CLI."""

from __future__ import annotations

import json
import os
import sys

FAST_COMMANDS = ("query",)


def _daemon_config_path(start: str) -> str | None:
    """The config of the enclosing repository if its daemon is enabled. Cheap on purpose: plain
    os.path and json; the full validation happens in cidx.config below."""
    here = os.path.abspath(start)
    while True:
        candidate = os.path.join(here, ".code-indexer", "config.json")
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as handle:
                    raw = json.load(handle)
                enabled = raw.get("daemon", {}).get("enabled") is True
            except (OSError, ValueError, AttributeError):
                return None  # the full CLI reports the broken config properly
            return candidate if enabled else None
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in FAST_COMMANDS and os.environ.get("CIDX_NO_DAEMON") != "1":
        config_path = _daemon_config_path(os.getcwd())
        if config_path is not None:
            from pathlib import Path

            from cidx.config import load_config
            from cidx.errors import CidxError

            try:
                config = load_config(Path(config_path))
            except CidxError as exc:
                print(f"cidx: error: {exc.message}", file=sys.stderr)
                sys.exit(exc.exit_code)
            from cidx.client.fast_query import main_query

            sys.exit(main_query(config, argv[1:]))
    from cidx.cli import main as cli_main

    sys.exit(cli_main(argv))
