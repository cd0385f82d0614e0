"""The query fast path's modules, compiled into one file (a "code pack") that the client loads with
one read instead of 23 module lookups.

A warm `cidx query` spends ~40 us per module in the file finder and the bytecode loader (stat the
directory and the source, open and validate the .pyc): ~1 ms of a ~17 ms query, against a budget
that counts every millisecond (ADR 0010). The pack holds each module's code object together with
the size and mtime of the source it was compiled from, like a .pyc; a module whose source differs
now is simply not served from the pack, so an edited or upgraded file always wins. A pack from
another Python (bytecode magic), another optimisation level or another pack format is ignored
whole. Any problem reading it means: import as usual.

The daemon writes the pack when it starts (off every client's path), next to cidx's .pyc files,
unless bytecode writing is off (PYTHONDONTWRITEBYTECODE). Which modules go in is PACKED below;
tests/integration/test_client.py checks it against what the fast path really imports.
"""

import marshal
import os
import sys

import _frozen_importlib
import _frozen_importlib_external

# The fast path after cidx.entry, cidx.fastpath and this module (which load the usual way).
PACKED = (
    "cidx.fastpath.process_exit", "cidx.fastpath.config", "cidx.fastpath.lightjson",
    "cidx.fastpath.query", "cidx.fastpath.errors", "cidx.fastpath.params",
    "cidx.fastpath.argv", "cidx.fastpath.render", "cidx.fastpath.results", "cidx.fastpath.delegate",
    "cidx.fastpath.socket_path", "cidx.fastpath.protocol", "cidx.lifecycle", "cidx.lifecycle.client",
    "cidx.lifecycle.machine", "cidx.lifecycle.errors", "cidx.lifecycle.table", "cidx.lifecycle.driver",
    "cidx.fastpath.wire",
)
PACK_FORMAT = 1


def pack_path() -> str:
    return os.path.join(os.path.dirname(__file__), "__pycache__", f"fastpath.{sys.implementation.cache_tag}.pack")


def _header() -> tuple:
    return (PACK_FORMAT, _frozen_importlib_external.MAGIC_NUMBER, sys.flags.optimize)


class PackFinder:
    """Meta path finder and loader for the modules of one pack. `entries`: name -> (source path,
    is_package, source mtime_ns, source size, code object)."""

    def __init__(self, entries: dict):
        self._entries = entries

    def find_spec(self, name, path=None, target=None):
        entry = self._entries.get(name)
        if entry is None:
            return None
        origin, is_package, mtime_ns, size, _ = entry
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None  # the source changed since the pack was written: the usual import reads it
        spec = _frozen_importlib.ModuleSpec(name, self, origin=origin, is_package=is_package)
        spec.has_location = True  # __file__ and __cached__ as for a module loaded from its file
        if is_package:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        exec(self._entries[module.__spec__.name][4], module.__dict__)

    def is_package(self, name) -> bool:
        return self._entries[name][1]


def _read(path: str | None) -> dict | None:
    """The pack's entries, or None when it is missing, damaged or made for another interpreter."""
    try:
        with open(path or pack_path(), "rb") as handle:
            header, entries = marshal.loads(handle.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if header != _header() or not isinstance(entries, dict):
        return None
    return entries


def install(path: str | None = None) -> bool:
    """Serve the pack's modules from now on, if the pack at `path` is usable; False otherwise."""
    entries = _read(path)
    if entries is None:
        return False
    sys.meta_path.insert(0, PackFinder(entries))
    return True


def is_current(path: str | None = None, modules: tuple = PACKED) -> bool:
    """Whether the pack holds every one of `modules`, compiled from their sources as they are now."""
    entries = _read(path)
    if entries is None or set(entries) != set(modules):
        return False
    finder = PackFinder(entries)
    return all(finder.find_spec(name) is not None for name in modules)


def refresh(path: str | None = None, modules: tuple = PACKED) -> bool:
    """Make the pack current, as Python writes .pyc files: not when bytecode writing is off
    (PYTHONDONTWRITEBYTECODE, -B). True when a current pack is in place."""
    if sys.dont_write_bytecode:
        return False
    return is_current(path, modules) or write(path, modules)


def write(path: str | None = None, modules: tuple = PACKED) -> bool:
    """Compile `modules` from their sources into a pack at `path` (atomically). False when a module
    has no source file or the pack cannot be written; a pack that is not written costs nothing."""
    import importlib.util

    entries = {}
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = getattr(spec, "origin", None)
        if not origin or not origin.endswith(".py"):
            return False
        try:
            with open(origin, "rb") as handle:
                st = os.fstat(handle.fileno())
                source = handle.read()
        except OSError:
            return False
        code = compile(source, origin, "exec", dont_inherit=True)
        entries[name] = (origin, spec.submodule_search_locations is not None, st.st_mtime_ns, st.st_size, code)
    target = path or pack_path()
    temp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(temp, "wb") as handle:
            handle.write(marshal.dumps((_header(), entries)))
        os.replace(temp, target)  # readers see the old pack or the new one, never half of one
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
        return False
    return True


if __name__ == "__main__":  # `make install`: write the pack now, whatever PYTHONDONTWRITEBYTECODE says
    sys.exit(0 if write() else 1)
