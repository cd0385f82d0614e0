"""The config fingerprint of the version handshake: a digest of the config file's bytes.

Client and daemon both hash the bytes of the same config.json, so the fast path needs no config
parsing to compute it, and any edit of the file makes a running daemon give way to a fresh one.
crc32 (zlib, already needed by the wire) is enough: this detects change, it is not security.
"""

import zlib


def config_digest(data: bytes) -> str:
    return f"{zlib.crc32(data):08x}-{len(data):x}"
