"""A minimal RPyC client in the standard library, for the query fast path.

`import rpyc` costs ~48 ms on our 2-core machines (it pulls inspect, logging, ssl, pickle) against a
50 ms budget for a whole `cidx query` (ADR 0008). Our calls need very little of the protocol: fetch
the root object (HANDLE_GETROOT), then call one exposed method with plain immutable arguments
(HANDLE_CALLATTR) and read a plain tuple back. This module speaks exactly that subset of RPyC 6's
wire format; the daemon is an unmodified rpyc ThreadedServer, and tests/unit/test_client_wire.py
checks the encoding byte for byte against rpyc's own brine.

Frames: `!LB` (length, zlib flag) + payload + b"\\n". Payload: one byte message type, then
brine((seq, body)). A request body is (handler, boxed args); a reply body is a boxed value.

Numbers are packed with int.to_bytes and memoryview casts rather than struct, and zlib is loaded
only if a compressed frame arrives (our daemon sends none): each of those C extensions costs a
fresh interpreter ~0.3-0.4 ms to load (ADR 0010).
"""

import sys
from itertools import count

# The C module under `socket`: socket.py imports enum, selectors and io on top (~3 ms of the fast
# path, ADR 0009) to add conveniences this client does not use.
from _socket import AF_UNIX, SOCK_STREAM
from _socket import socket as _unix_socket

from cidx.fastpath.protocol import ERROR, OK
from cidx.fastpath.errors import CidxError
from cidx.lifecycle.errors import ConnectionFailure

MSG_REQUEST, MSG_REPLY, MSG_EXCEPTION = 1, 2, 3
LABEL_VALUE, LABEL_TUPLE, LABEL_LOCAL_REF, LABEL_REMOTE_REF = 1, 2, 3, 4
HANDLE_GETROOT, HANDLE_CALLATTR = 3, 8
FRAME_HEADER_SIZE = 5  # !LB
_LITTLE_ENDIAN = sys.byteorder == "little"

# --- brine: the subset of types we send and receive ------------------------------------------------
def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def _f64(x: float) -> bytes:
    """Big-endian IEEE double, as struct's "!d"."""
    raw = bytearray(8)
    memoryview(raw).cast("d")[0] = x
    return bytes(raw[::-1]) if _LITTLE_ENDIAN else bytes(raw)


def _take(buf: memoryview, pos: int, n: int) -> bytes:
    end = pos + n
    if end > len(buf):
        raise ValueError("truncated message from the daemon")
    return bytes(buf[pos:end])


T_NONE, T_EMPTY_STR, T_EMPTY_TUPLE, T_TRUE, T_FALSE = 0x00, 0x01, 0x02, 0x03, 0x04
T_UNICODE, T_STR1, T_STR_L1, T_STR_L4 = 0x08, 0x0A, 0x0E, 0x0F
T_TUP1, T_TUP_L1, T_TUP_L4 = 0x10, 0x14, 0x15
T_INT_L1, T_INT_L4, T_FLOAT = 0x16, 0x17, 0x18
IMM_INT_MIN, IMM_INT_MAX, IMM_INT_BASE = -0x30, 0x9F, 0x50


def _dump_bytes(data: bytes, out: list) -> None:
    n = len(data)
    if n == 0:
        out.append(bytes((T_EMPTY_STR,)))
    elif n <= 4:
        out.append(bytes((T_STR1 + n - 1,)) + data)
    elif n < 256:
        out.append(bytes((T_STR_L1, n)) + data)
    else:
        out.append(bytes((T_STR_L4,)) + _u32(n) + data)


def _dump(obj, out: list) -> None:
    kind = type(obj)
    if obj is None:
        out.append(bytes((T_NONE,)))
    elif kind is bool:
        out.append(bytes((T_TRUE if obj else T_FALSE,)))
    elif kind is int:
        if IMM_INT_MIN <= obj <= IMM_INT_MAX:
            out.append(bytes((obj + IMM_INT_BASE,)))
        else:
            digits = str(obj).encode()
            out.append((bytes((T_INT_L1, len(digits))) if len(digits) < 256
                        else bytes((T_INT_L4,)) + _u32(len(digits))) + digits)
    elif kind is float:
        out.append(bytes((T_FLOAT,)) + _f64(obj))
    elif kind is str:
        out.append(bytes((T_UNICODE,)))
        _dump_bytes(obj.encode("utf8"), out)
    elif kind is bytes:
        _dump_bytes(obj, out)
    elif kind is tuple:
        n = len(obj)
        if n == 0:
            out.append(bytes((T_EMPTY_TUPLE,)))
        elif n <= 4:
            out.append(bytes((T_TUP1 + n - 1,)))
        elif n < 256:
            out.append(bytes((T_TUP_L1, n)))
        else:
            out.append(bytes((T_TUP_L4,)) + _u32(n))
        for item in obj:
            _dump(item, out)
    else:
        raise TypeError(f"cannot send {kind.__name__} to the daemon")


def dump(obj) -> bytes:
    out: list = []
    _dump(obj, out)
    return b"".join(out)


def load(data: bytes):
    value, end = _load(memoryview(data), 0)
    if end != len(data):
        raise ValueError("trailing bytes in message")
    return value


def _load(buf: memoryview, pos: int):
    tag = buf[pos]
    pos += 1
    if tag == T_NONE:
        return None, pos
    if tag == T_TRUE:
        return True, pos
    if tag == T_FALSE:
        return False, pos
    if tag == T_EMPTY_STR:
        return b"", pos
    if tag == T_EMPTY_TUPLE:
        return (), pos
    if IMM_INT_MIN + IMM_INT_BASE <= tag <= IMM_INT_MAX + IMM_INT_BASE:
        return tag - IMM_INT_BASE, pos
    if T_STR1 <= tag <= T_STR1 + 3:
        n = tag - T_STR1 + 1
        return bytes(buf[pos:pos + n]), pos + n
    if tag in (T_STR_L1, T_STR_L4, T_INT_L1, T_INT_L4):
        if tag in (T_STR_L1, T_INT_L1):
            n, pos = buf[pos], pos + 1
        else:
            n, pos = int.from_bytes(_take(buf, pos, 4), "big"), pos + 4
        raw = _take(buf, pos, n)
        return (int(raw) if tag in (T_INT_L1, T_INT_L4) else raw), pos + n
    if tag == T_UNICODE:
        raw, pos = _load(buf, pos)
        return raw.decode("utf8"), pos
    if tag == T_FLOAT:
        raw = _take(buf, pos, 8)
        return memoryview(raw[::-1] if _LITTLE_ENDIAN else raw).cast("d")[0], pos + 8
    if T_TUP1 <= tag <= T_TUP1 + 3 or tag in (T_TUP_L1, T_TUP_L4):
        if tag == T_TUP_L1:
            n, pos = buf[pos], pos + 1
        elif tag == T_TUP_L4:
            n, pos = int.from_bytes(_take(buf, pos, 4), "big"), pos + 4
        else:
            n = tag - T_TUP1 + 1
        items = []
        for _ in range(n):
            item, pos = _load(buf, pos)
            items.append(item)
        return tuple(items), pos
    raise ValueError(f"unsupported brine tag {tag:#x} from the daemon")


def box(value):
    """Values we send are plain, so they box as LABEL_VALUE (rpyc's _box for brine-dumpable)."""
    return (LABEL_VALUE, value)


def unbox(package):
    label, value = package
    if label == LABEL_VALUE:
        return value
    if label == LABEL_TUPLE:
        return tuple(unbox(item) for item in value)
    raise ConnectionFailure(f"the daemon sent an object by reference (label {label}); expected plain data")


# --- the connection ---------------------------------------------------------------------------------

class WireConnection:
    """One Unix-socket connection speaking RPyC to the daemon. Same call() contract as
    client.connection.DaemonConnection: ("ok", ...) payloads returned, ("error", code, message)
    raised as CidxError, anything connection-level raised as ConnectionFailure."""

    def __init__(self, sock_path, *, call_timeout: float, connect_timeout: float = 2.0):
        self.sock = _unix_socket(AF_UNIX, SOCK_STREAM)
        self.sock.settimeout(connect_timeout)
        try:
            self.sock.connect(str(sock_path))
        except OSError as exc:
            self.sock.close()
            raise ConnectionFailure(f"cannot connect to {sock_path}: {exc.__class__.__name__}") from None
        self.call_timeout = call_timeout
        self._seq = count()
        self._root_ref = None
        self._buffer = b""
        self._ahead: dict[tuple, int] = {}  # (method, args) sent ahead -> its seq, reply not read yet
        self._replies: dict[int, tuple] = {}  # replies that arrived while waiting for another seq

    def send_ahead(self, method: str, *args) -> None:
        """Send a call now and read its reply later, in call() with the same arguments: a request
        pipelined behind another saves a round trip. The daemon answers one connection's requests
        in order."""
        self._guard(method, self._root)
        self._ahead[(method, args)] = self._guard(method, self._send, HANDLE_CALLATTR, self._call_args(method, args))

    def call(self, method: str, *args, timeout: float | None = None):
        self.sock.settimeout(timeout if timeout is not None else self.call_timeout)
        seq = self._ahead.pop((method, args), None)
        if seq is None:
            self._guard(method, self._root)
            seq = self._guard(method, self._send, HANDLE_CALLATTR, self._call_args(method, args))
        reply = unbox(self._guard(method, self._receive, seq))
        if not isinstance(reply, tuple) or not reply or reply[0] not in (OK, ERROR):
            raise ConnectionFailure(f"daemon sent a malformed reply to {method}")
        if reply[0] == ERROR:
            error = CidxError(str(reply[2]))
            error.exit_code = int(reply[1])
            raise error
        return reply[1] if len(reply) == 2 else reply[1:]

    def _call_args(self, method: str, args: tuple):
        return (LABEL_TUPLE, ((LABEL_LOCAL_REF, self._root_ref), box(method), box(tuple(args)), box(())))

    @staticmethod
    def _guard(method: str, action, *args):
        try:
            return action(*args)
        except (OSError, EOFError) as exc:  # a timeout (TimeoutError) is an OSError
            raise ConnectionFailure(f"daemon connection lost during {method}: {exc.__class__.__name__}") from None

    def _root(self) -> None:
        if self._root_ref is None:
            root = self._receive(self._send(HANDLE_GETROOT, box(())))
            if root[0] != LABEL_REMOTE_REF:
                raise ConnectionFailure("the daemon's root is not an object reference")
            self._root_ref = root[1]

    def _send(self, handler: int, boxed_args) -> int:
        seq = next(self._seq)
        payload = bytes((MSG_REQUEST,)) + dump((seq, (handler, boxed_args)))
        self.sock.sendall(_u32(len(payload)) + b"\x00" + payload + b"\n")
        return seq

    def _receive(self, seq: int):
        while seq not in self._replies:
            data = self._recv_frame()
            got_seq, body = load(data[1:])
            self._replies[got_seq] = (data[0], body)
        msg, body = self._replies.pop(seq)
        if msg == MSG_REPLY:
            return body
        if msg == MSG_EXCEPTION:
            raise CidxError(f"the daemon raised {_exception_text(body)}; see `cidx status` and the daemon log")
        raise ConnectionFailure(f"unexpected message type {msg} from the daemon")

    def _recv_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("daemon closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _recv_frame(self) -> bytes:
        header = self._recv_exact(FRAME_HEADER_SIZE)
        data = self._recv_exact(int.from_bytes(header[:4], "big") + 1)[:-1]
        if header[4]:  # a compressed frame: never from our daemon (service.on_connect), but valid RPyC
            import zlib

            return zlib.decompress(data)
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _exception_text(body) -> str:
    """rpyc's vinegar form: (module, name, args, ...); the first three suffice for a message."""
    try:
        module, name, args = body[0], body[1], body[2]
        return f"{module}.{name}: {' '.join(str(a) for a in args)}"
    except (TypeError, IndexError):
        return "an error"
