"""The config fingerprint of the version handshake: a digest of the config file's bytes.

Client and daemon both hash the bytes of the same config.json, so the fast path needs no config
parsing to compute it, and any edit of the file makes a running daemon give way to a fresh one.
This detects change, it is not security: the bytes read as one big-endian number, reduced modulo
a 64-bit prime, plus the length. A change of one byte always changes the residue (256**k is
invertible modulo the prime); other edits collide with odds of about 2**-64. Pure integer
arithmetic, so the fast path loads no zlib or hashlib extension for it (~0.4 ms; ADR 0010).
"""

_PRIME = (1 << 64) - 59  # the largest prime below 2**64


def config_digest(data: bytes) -> str:
    return f"{int.from_bytes(data, 'big') % _PRIME:016x}-{len(data):x}"
