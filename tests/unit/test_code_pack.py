"""cidx/fastpath/code_pack.py: modules served from the pack behave as if imported from their files, and a
pack never serves code that differs from the source on disk now."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

PKG_MODULES = ("pkg", "pkg.a", "pkg.b")


@pytest.fixture
def pkg(tmp_path):
    """A small package outside cidx, so that tests can edit its sources."""
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text('"""pkg."""\nNAME = "pkg"\n')
    (root / "pkg" / "a.py").write_text("from pkg import b\n\ndef value():\n    return 'a' + b.VALUE\n")
    (root / "pkg" / "b.py").write_text("VALUE = 'b'\n")
    return root


def run(code: str, *paths, write_bytecode: bool = True) -> dict:
    """Run `code` in a fresh interpreter (sys.path: `paths` first); it prints one JSON line.
    Bytecode writing is on unless `write_bytecode` is False, whatever the calling shell says."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), os.getcwd()])
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def write_pack(pkg, pack) -> None:
    assert run(f"""
        import json
        from cidx.fastpath import code_pack
        print(json.dumps(code_pack.write({str(pack)!r}, {PKG_MODULES!r})))
    """, pkg) is True


LOAD = """
    import json, sys
    from cidx.fastpath import code_pack
    installed = code_pack.install({pack!r})
    import pkg.a
    print(json.dumps({{"installed": installed, "value": pkg.a.value(),
                      "from_pack": sorted(n for n in ("pkg", "pkg.a", "pkg.b")
                                          if isinstance(sys.modules[n].__spec__.loader, code_pack.PackFinder)),
                      "files": [sys.modules[n].__file__ for n in ("pkg", "pkg.a", "pkg.b")],
                      "path": list(pkg.__path__)}}))
"""


def test_modules_load_from_the_pack_with_the_attributes_of_a_file_import(pkg, tmp_path):
    pack = tmp_path / "fast.pack"
    write_pack(pkg, pack)
    got = run(LOAD.format(pack=str(pack)), pkg)
    assert got["installed"] and got["value"] == "ab"
    assert got["from_pack"] == ["pkg", "pkg.a", "pkg.b"]
    assert got["files"] == [str(pkg / "pkg" / "__init__.py"), str(pkg / "pkg" / "a.py"), str(pkg / "pkg" / "b.py")]
    assert got["path"] == [str(pkg / "pkg")]


@pytest.mark.parametrize("edit", ["content", "touch"])
def test_a_source_changed_since_packing_is_imported_from_its_file(pkg, tmp_path, edit):
    pack = tmp_path / "fast.pack"
    write_pack(pkg, pack)
    b = pkg / "pkg" / "b.py"
    if edit == "content":
        b.write_text("VALUE = 'bb'\n")  # another size (an mtime may not move within one clock tick)
    else:
        st = b.stat()
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # same bytes, one nanosecond newer
    got = run(LOAD.format(pack=str(pack)), pkg)
    assert got["from_pack"] == ["pkg", "pkg.a"]
    assert got["value"] == ("abb" if edit == "content" else "ab")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other interpreter", "missing"])
def test_a_damaged_or_foreign_pack_is_ignored(pkg, tmp_path, damage):
    pack = tmp_path / "fast.pack"
    write_pack(pkg, pack)
    data = pack.read_bytes()
    if damage == "garbage":
        pack.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        pack.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        pack.write_bytes(b"")
    elif damage == "other interpreter":
        import marshal

        header, entries = marshal.loads(data)
        pack.write_bytes(marshal.dumps(((header[0], b"\x00\x00\r\n", header[2]), entries)))
    else:
        pack.unlink()
    got = run(LOAD.format(pack=str(pack)), pkg)
    assert (got["installed"], got["from_pack"], got["value"]) == (False, [], "ab")


def test_is_current_and_refresh(pkg, tmp_path):
    pack = tmp_path / "fast.pack"
    code = f"""
        import json, os
        from cidx.fastpath import code_pack
        pack, mods = {str(pack)!r}, {PKG_MODULES!r}
        states = [code_pack.is_current(pack, mods), code_pack.refresh(pack, mods), code_pack.is_current(pack, mods)]
        first = os.stat(pack).st_mtime_ns
        states.append(code_pack.refresh(pack, mods))  # current already: not rewritten
        states.append(os.stat(pack).st_mtime_ns == first)
        states.append(code_pack.is_current(pack, mods[:2]))  # another module list: not this pack
        print(json.dumps(states))
    """
    assert run(code, pkg) == [False, True, True, True, True, False]


def test_refresh_writes_nothing_when_bytecode_writing_is_off(pkg, tmp_path):
    pack = tmp_path / "fast.pack"
    code = f"""
        import json, os
        from cidx.fastpath import code_pack
        print(json.dumps([code_pack.refresh({str(pack)!r}, {PKG_MODULES!r}), os.path.exists({str(pack)!r})]))
    """
    assert run(code, pkg, write_bytecode=False) == [False, False]


def test_write_reports_what_it_cannot_do(pkg, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the pack's directory would go")
    code = f"""
        import json
        from cidx.fastpath import code_pack
        print(json.dumps([code_pack.write({str(blocked / "fast.pack")!r}, {PKG_MODULES!r}),
                          code_pack.write({str(tmp_path / "x.pack")!r}, ("pkg", "sys")),  # no source file
                          code_pack.write({str(tmp_path / "y.pack")!r}, ("pkg", "pkg.missing"))]))
    """
    assert run(code, pkg) == [False, False, False]
    assert not (tmp_path / "x.pack").exists() and not (tmp_path / "y.pack").exists()
    assert list(tmp_path.glob("*.tmp")) == []

