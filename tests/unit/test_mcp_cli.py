"""`cidx mcp` without the optional SDK: one clear line; and the base CLI never imports it."""

from __future__ import annotations

import sys

from cidx.cli import main


def test_without_the_sdk_cidx_mcp_is_one_line_and_a_non_zero_exit(monkeypatch, capsys):
    for name in [n for n in sys.modules if n == "mcp" or n.startswith("mcp.")] + ["mcp"]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: `import mcp` fails
    code = main(["mcp", "--repo", "."])
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert err == "cidx: error: `cidx mcp` needs the MCP SDK, an optional extra: pip install 'cidx[mcp]'\n"


def test_the_base_cli_does_not_import_the_sdk():
    import subprocess

    probe = "import sys, cidx.cli; sys.exit(any(m == 'mcp' or m.startswith(('mcp.', 'cidx.mcp')) for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0


def test_an_sdk_of_the_old_major_version_is_refused_in_one_line(tmp_path):
    """A 1.x SDK has another API: a fake `mcp` 1.27.0 distribution first on sys.path."""
    import os
    import subprocess

    (tmp_path / "mcp" / "server" / "lowlevel").mkdir(parents=True)
    for package in ("mcp", "mcp/server", "mcp/server/lowlevel"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "mcp-1.27.0.dist-info").mkdir()
    (tmp_path / "mcp-1.27.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: mcp\nVersion: 1.27.0\n")
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), project])}
    out = subprocess.run([sys.executable, "-m", "cidx", "mcp", "--repo", str(tmp_path)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == ("cidx: error: `cidx mcp` needs the MCP SDK 2.x (installed: mcp 1.27.0): "
                          "pip install 'cidx[mcp]'\n")
