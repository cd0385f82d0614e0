"""A cidx client written from the RPyC interface alone: it imports rpyc and the standard library,
nothing of cidx. See docs/clients.md.

    python plain_rpyc_client.py REPOSITORY "what to search for"

The repository's daemon must be running (`cidx start`, or any `cidx query` with the daemon enabled).
tests/integration/test_spec_interface.py runs this script against a real daemon.
"""

import hashlib
import json
import os
import sys

import rpyc


def find_config_dir(start: str) -> str:
    """The `.code-indexer/` of the repository containing `start` (searched upward, as cidx does)."""
    path = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(path, ".code-indexer", "config.json")):
            return os.path.join(path, ".code-indexer")
        parent = os.path.dirname(path)
        if parent == path:
            raise SystemExit(f"no .code-indexer/config.json in {start} or above: run `cidx init --daemon`")
        path = parent


def socket_path(config_dir: str) -> str:
    """`.code-indexer/daemon.sock`, unless that path is too long for AF_UNIX: then a short path named
    by a hash of the config directory (cidx also records it in `.code-indexer/daemon.sock.path`)."""
    preferred = os.path.join(config_dir, "daemon.sock")
    limit = 103 if sys.platform == "darwin" else 107
    if len(os.fsencode(preferred)) <= limit:
        return preferred
    digest = hashlib.sha256(os.fsencode(os.path.abspath(config_dir))).hexdigest()[:24]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    directory = os.path.join(runtime, "cidx") if runtime and os.path.isdir(runtime) else f"/tmp/cidx-{os.getuid()}"
    return os.path.join(directory, f"{digest}.sock")


def call(method, *args, **kwargs) -> dict:
    """Every reply is one JSON text; an error is {"error": {"type": ..., "message": ...}}."""
    reply = json.loads(method(*args, **kwargs))
    if "error" in reply:
        raise SystemExit(f"{reply['error']['type']}: {reply['error']['message']}")
    return reply


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    config_dir = find_config_dir(sys.argv[1])
    root = os.path.dirname(config_dir)  # the repository root: what the daemon serves
    conn = rpyc.utils.factory.unix_connect(socket_path(config_dir))
    try:
        service = conn.root
        text = sys.argv[2]
        for title, reply in (
            ("semantic", call(service.query, root, text, 3)),
            ("semantic, python only", call(service.query, root, text, limit=3, language="python")),
            ("full-text, one typo allowed", call(service.query_fts, root, text, limit=3, fuzzy=True)),
            ("hybrid", call(service.query_hybrid, root, text, limit=3, snippet_lines=0)),
        ):
            print(f"{title}:")
            for hit in reply["hits"]:
                print(f"  {hit['path']}:{hit['line']}  {hit['score']:.3f}  ({hit['source']})")
        status = call(service.get_status)
        print(f"daemon {status['pid']}: cache {status['cache_state']}, {status['queries']} queries, "
              f"generation {status['generation_loaded']}")
        try:
            call(service.query, root, text, 3, colour="red")
        except SystemExit as error:  # an unknown option is an error reply, not an exception
            print(f"as expected, {error}")
    finally:
        conn.close()


if __name__ == "__main__":
    main()
