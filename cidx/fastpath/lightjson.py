"""JSON for the query fast path without the json package.

`import json` costs ~6 ms in a fresh interpreter (json.decoder imports re, which imports enum and
functools), an eighth of a warm query's budget (ADR 0009). The fast path reads config.json and
prints `--json` output, nothing else, so it calls CPython's `_json` accelerator directly: the same
C scanner and string encoder that json.loads and json.dumps use. Where `_json` is missing (another
Python implementation) it falls back to the json package. tests/unit/test_lightjson.py checks both
directions against json itself.
"""

try:
    from _json import encode_basestring_ascii as _encode_str
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover (CPython always has it)
    _make_scanner = None

_WHITESPACE = " \t\n\r"  # JSON's four whitespace characters (json.decoder.WHITESPACE)
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _ScannerContext:
    """The attributes the C scanner reads from its context, set as json.JSONDecoder() sets them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _make_scanner(_ScannerContext()) if _make_scanner is not None else None


def loads(text: str):
    """json.loads(text) for a str. Raises ValueError (json.JSONDecodeError) on anything json.loads
    rejects: only valid documents take the light path."""
    if _scan is not None:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except Exception:  # noqa: BLE001 (see below)
            # The C scanner reports errors through json.decoder.JSONDecodeError, looked up in
            # sys.modules without importing it (a SystemError when json is not loaded): let json
            # itself find and word the error.
            pass
        else:
            if not text[end:].strip(_WHITESPACE):
                return value
    import json

    return json.loads(text)


def dumps(value, indent: int = 2) -> str:
    """json.dumps(value, indent=indent) for None, bool, int, float, str, lists/tuples, and dicts
    with str keys; anything else raises TypeError."""
    out: list[str] = []
    _write(value, out, "\n", " " * indent)
    return "".join(out)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _write(value, out: list, newline: str, step: str) -> None:
    kind = type(value)
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is str:
        out.append(_encode_str(value))
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        out.append(_float(value))
    elif kind in (list, tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + step
        out.append("[")
        for i, item in enumerate(value):
            out.append(inner if i == 0 else "," + inner)
            _write(item, out, inner, step)
        out.append(newline + "]")
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + step
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if type(key) is not str:
                raise TypeError(f"lightjson writes str keys only, not {type(key).__name__}")
            out.append((inner if i == 0 else "," + inner) + _encode_str(key) + ": ")
            _write(item, out, inner, step)
        out.append(newline + "}")
    else:
        raise TypeError(f"lightjson cannot write {kind.__name__}")
