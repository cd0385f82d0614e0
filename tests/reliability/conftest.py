"""The reliability suite's session report (trials, faults injected, failures) and its fixtures.

Every test records what it tried in the session-scoped collector; the summary is printed at the end
of the run by pytest_terminal_summary (a hook in this directory's conftest: pytest calls it once the
directory has been collected, i.e. whenever a reliability test ran).
"""

from __future__ import annotations

import pytest

from tests.conftest import kill_daemons
from tests.reliability.support import PROFILE, REPORT, SOAK, Daemons


@pytest.fixture(scope="session")
def report():
    return REPORT


@pytest.fixture(autouse=True)
def _current_test(request):
    REPORT.current_test = request.node.nodeid
    yield


@pytest.fixture
def daemons(tmp_path):
    """Every daemon a test starts (directly or through a client) under tmp_path dies by PID."""
    tracker = Daemons(tmp_path)
    yield tracker
    tracker.kill_all()
    kill_daemons(tmp_path)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not REPORT.trials and not REPORT.faults:
        return

    def ours(key):
        return [r for r in terminalreporter.stats.get(key, ()) if "tests/reliability/" in getattr(r, "nodeid", "")]

    known_bugs = {r.nodeid for r in ours("xfailed")}
    terminalreporter.section("cidx reliability report")
    terminalreporter.write_line(f"profile: {PROFILE}{' + soak trials' if SOAK else ''}")
    for line in REPORT.lines(known_bugs):
        terminalreporter.write_line(line)
    for key, label in (("failed", "tests failed"), ("error", "test errors"), ("xpassed", "xfail tests passing"),
                       ("xfailed", "xfail tests (known product bugs, see their reasons)")):
        if ours(key):
            terminalreporter.write_line(f"{label}: {len(ours(key))}")
