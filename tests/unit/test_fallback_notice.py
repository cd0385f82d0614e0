"""The fallback line: one line, names `cidx status` and the log, dim only on a terminal without NO_COLOR."""

import io
from pathlib import Path

from cidx.fastpath.delegate import fallback_notice


class Terminal(io.StringIO):
    def isatty(self):  # what the notice checks to decide on color
        return True


class Cfg:
    config_dir = Path("/repo/.code-indexer")


def test_plain_when_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    line = fallback_notice(Cfg(), "refused")
    assert "\033" not in line and "\n" not in line
    assert "refused" in line and "cidx status" in line and "/repo/.code-indexer/daemon.log" in line


def test_dim_on_a_terminal_unless_no_color(monkeypatch):
    monkeypatch.setattr("sys.stderr", Terminal())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert fallback_notice(Cfg(), "x").startswith("\033[2m")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033" not in fallback_notice(Cfg(), "x")
