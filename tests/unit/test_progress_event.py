"""Progress events cross the daemon wire as plain tuples: the notice message must survive the trip."""

from __future__ import annotations

import io

from rich.console import Console

from cidx.indexer import REBUILD_NOTICE, ProgressEvent
from cidx.progress_ui import IndexProgressBar


def test_a_notice_survives_the_tuple_round_trip():
    event = ProgressEvent("notice", 0, 0, 0, "", 0.0, -1.0, REBUILD_NOTICE)
    assert ProgressEvent.from_tuple(event.as_tuple()) == event


def test_a_seven_value_tuple_from_an_older_daemon_still_reads():
    assert ProgressEvent.from_tuple(("scan", 0, 0, 0, "", 0.0, -1.0)).message == ""


def test_the_progress_bar_prints_a_notice_as_one_unwrapped_line():
    out = io.StringIO()
    with IndexProgressBar(Console(file=out, width=40)) as bar:
        bar.update(ProgressEvent("notice", 0, 0, 0, "", 0.0, -1.0, REBUILD_NOTICE))
    assert out.getvalue() == REBUILD_NOTICE + "\n"
