"""`cidx mcp`: a Model Context Protocol server over stdio for coding agents (ADR 0015).

The SDK is an optional extra (`pip install 'cidx[mcp]'`); only cidx/mcp/server.py imports it, and
nothing on the query fast path imports this package.
"""

from cidx.fastpath.errors import CidxError

INSTALL_HINT = "pip install 'cidx[mcp]'"
MIN_SDK_MAJOR = 2


def require_sdk() -> None:
    """Raise a one-line CidxError when the MCP SDK is missing or of an older major version."""
    try:
        import mcp.server.lowlevel  # noqa: F401
    except ImportError:
        raise CidxError(f"`cidx mcp` needs the MCP SDK, an optional extra: {INSTALL_HINT}") from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("mcp")
    except PackageNotFoundError:
        return  # importable but not installed as a distribution (a vendored copy): trust it
    major = installed.split(".", 1)[0]
    if not major.isdigit() or int(major) < MIN_SDK_MAJOR:
        raise CidxError(f"`cidx mcp` needs the MCP SDK 2.x (installed: mcp {installed}): {INSTALL_HINT}")
