"""The part of config.json the query fast path needs, read with the json scanner alone.

cidx.config validates everything with dataclasses (which import inspect: ~15 ms). The fast path
only needs the repository root, the daemon's retry settings and the config digest. Anything it
cannot vouch for (an odd value, a missing key of the wrong type) sends the invocation to the full
CLI, which reports the problem properly. The other keys are validated by cidx.config before a
daemon is spawned (delegate.py), and the running daemon validated them when it started.
"""

import os
import zlib
from collections import namedtuple

from cidx.fastpath import lightjson

DaemonSettings = namedtuple("DaemonSettings", "retry_delays_ms max_retries")
DEFAULT_DELAYS = (100, 500, 1000, 2000)
DEFAULT_RETRIES = 4


def config_digest(data: bytes) -> str:
    """The config fingerprint of the version handshake: crc32 of config.json's bytes, and their
    length. Client and daemon both hash the same file, so the fast path needs no parsing for it and
    any edit makes a running daemon give way to a fresh one. It detects change, it is not security:
    an edit within 4 bytes always changes it, others collide with odds of about 2**-32."""
    return f"{zlib.crc32(data):08x}-{len(data):x}"


class FastConfig:
    """Duck-types the attributes of cidx.config.Config that the client path uses, with str paths
    where Config has pathlib.Path ones (pathlib costs the fast path ~3 ms; ADR 0009)."""

    def __init__(self, config_path: str, data: bytes, daemon: DaemonSettings):
        self.config_path = config_path
        self.config_dir = os.path.dirname(config_path)
        self.root = os.path.dirname(self.config_dir)
        self.daemon = daemon
        self._fingerprint = config_digest(data)

    def fingerprint(self) -> str:
        return self._fingerprint

    def full(self):
        """The fully validated Config (for running the query in-process)."""
        from pathlib import Path

        from cidx.config import load_config

        return load_config(Path(self.config_path))


def _int_list(value) -> bool:
    return isinstance(value, list) and 0 < len(value) <= 20 and all(
        type(v) is int and 0 <= v <= 60_000 for v in value)


def read_fast_config(start: str) -> FastConfig | None:
    """The enclosing repository's config when its daemon is enabled and the settings the client
    needs are plainly valid; None otherwise (no config, daemon off, or anything doubtful)."""
    here = os.path.abspath(start)
    while True:
        candidate = os.path.join(here, ".code-indexer", "config.json")
        if os.path.isfile(candidate):
            break
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    try:
        with open(candidate, "rb") as handle:
            data = handle.read()
        raw = lightjson.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None  # the full CLI reports it
    daemon = raw.get("daemon") if isinstance(raw, dict) else None
    if not isinstance(daemon, dict) or daemon.get("enabled") is not True:
        return None
    delays = daemon.get("retry_delays_ms", list(DEFAULT_DELAYS))
    retries = daemon.get("max_retries", DEFAULT_RETRIES)
    if not _int_list(delays) or type(retries) is not int or not 0 <= retries <= len(delays):
        return None
    return FastConfig(candidate, data, DaemonSettings(tuple(delays), retries))
