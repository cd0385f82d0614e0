"""The fast-path import boundary (ADR 0016): cidx/fastpath/ imports the standard library, itself
and the client half of cidx/lifecycle/, nothing else, both as written (ast over its files) and as
run (a fresh interpreter answering a warm `cidx query`)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import cidx
from tests.integration.daemon_support import fast_path_modules, make_repo
from tests.conftest import run_cidx

CIDX_DIR = Path(cidx.__file__).parent
FASTPATH = "cidx.fastpath"
# The lifecycle state machine drives connect, retry and restart on the fast path, and it lives in
# cidx/lifecycle/ by project rule (pure decisions, no I/O, shared with the daemon's cache machine).
# So the fast path may use exactly the client half of it: the table, the table engine, the client
# machine, its driver and its exceptions. These modules obey the same rule as the package.
LIFECYCLE = ("cidx.lifecycle", "cidx.lifecycle.client", "cidx.lifecycle.driver", "cidx.lifecycle.errors",
             "cidx.lifecycle.machine", "cidx.lifecycle.table")
# What the console script itself loads before the fast path: the top package (it holds only
# __version__, which the handshake sends) and the dispatcher between fast path and full CLI.
ENTRY = ("cidx", "cidx.entry")
# Imports inside functions that leave the boundary: each is a way OFF the warm path, taken only when
# the daemon cannot answer (module, function, what it imports).
EXITS = {
    ("cidx.fastpath.config", "full", "cidx.config"),  # validate everything before a fallback or a spawn
    ("cidx.fastpath.delegate", "spawn", "cidx.client.connection"),  # start a daemon
    ("cidx.fastpath.query", "search", "cidx.services"),  # run the query in-process (fallback)
    ("cidx.lifecycle.machine", "__init__", "transitions"),  # the daemon's engine; the client uses "table"
    ("cidx.lifecycle.machine", "_fire", "transitions"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(CIDX_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _bounded_files() -> list[Path]:
    files = sorted((CIDX_DIR / "fastpath").glob("*.py"))
    files += [CIDX_DIR / "lifecycle" / f"{name.rsplit('.', 1)[-1] if name != 'cidx.lifecycle' else '__init__'}.py"
              for name in LIFECYCLE]
    return files


def _imports(path: Path, module: str):
    """(imported module, enclosing function or None) for every import statement in the file."""
    tree = ast.parse(path.read_text(), str(path))

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, function
            elif isinstance(child, ast.ImportFrom):
                assert not child.level, f"{path}: relative import (write it out: cidx.fastpath.x)"
                base = child.module
                for alias in child.names:
                    # `from cidx.fastpath import query` imports a submodule, `from x import name` a name of x
                    yield (f"{base}.{alias.name}" if f"{base}.{alias.name}".startswith(FASTPATH + ".")
                           and (path.parent / f"{alias.name}.py").exists() else base), function
            yield from visit(child, inner)

    yield from visit(tree, None)


def _allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top != "cidx":
        return top in sys.stdlib_module_names  # private C modules included: _socket, _json
    return name == FASTPATH or name.startswith(FASTPATH + ".") or name in LIFECYCLE or name == "cidx"


def test_the_package_and_the_lifecycle_it_uses_import_only_the_standard_library_and_themselves():
    outside, exits = [], set()
    for path in _bounded_files():
        module = _module_name(path)
        for name, function in _imports(path, module):
            if _allowed(name):
                continue
            if function is not None and (module, function, name) in EXITS:
                exits.add((module, function, name))
                continue
            outside.append(f"{path.relative_to(CIDX_DIR.parent)}: {name} (in {function or 'module scope'})")
    assert not outside, "imports outside the fast-path boundary:\n" + "\n".join(outside)
    assert exits == EXITS, f"listed exits no longer in the code: {EXITS - exits}"


@pytest.fixture
def repo(tmp_path, embedder, reap_daemons):
    return make_repo(tmp_path / "repo", embedder)


@pytest.mark.parametrize("output", [["-q"], ["--json"], []])
def test_a_warm_query_loads_nothing_of_cidx_outside_the_boundary(repo, tmp_path, output):
    run_cidx("query", "circleArea", "--fts", "-q", cwd=repo.root)  # the daemon is up: the warm path
    modules = fast_path_modules(repo, tmp_path / "modules.txt", output)
    ours = {m for m in modules if m.split(".")[0] == "cidx"}
    assert ours - set(ENTRY) - set(LIFECYCLE) == {m for m in ours if m == FASTPATH or m.startswith(FASTPATH + ".")}
    assert set(LIFECYCLE) <= ours  # the lifecycle table really drives it
    startup = set((tmp_path / "modules.txt.startup").read_text().split())  # site's doing, not ours
    foreign = sorted(m for m in modules if m not in startup and m.split(".")[0] != "cidx" and not _allowed(m))
    assert not foreign, f"a warm query imported modules outside the standard library: {foreign}"
