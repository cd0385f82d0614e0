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
