"""The transition table is the single source: docs are generated from it, and it is well formed."""

from collections import defaultdict
from pathlib import Path

from cidx.lifecycle import render
from cidx.lifecycle.table import CACHE, CLIENT, GUARDS, ROWS, STATES

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def test_committed_doc_is_what_render_produces_now():
    assert DOC.read_text(encoding="utf-8") == render.render(), (
        "docs/lifecycle.md is stale: run `python -m cidx.lifecycle.render`")


def test_render_draws_every_row_in_its_machines_diagram():
    text = render.render()
    client, cache = text.split("## ")[1:3]
    for row in ROWS:
        section = client if row.machine == CLIENT else cache
        # One edge per (from, to); its label lists every event that takes it.
        edges = [line for line in section.splitlines() if line.startswith(f"    {row.source} --> {row.dest}: ")]
        assert len(edges) == 1, (row, edges)
        assert row.trigger in edges[0].split(": ", 1)[1]
    assert text.count("stateDiagram-v2") == 2


def test_main_writes_and_check_detects_staleness(tmp_path):
    out = tmp_path / "lifecycle.md"
    assert render.main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render.render()
    assert render.main(["--check", "--output", str(out)]) == 0
    out.write_text("stale\n", encoding="utf-8")
    assert render.main(["--check", "--output", str(out)]) == 1


def test_states_are_the_six_from_the_design():
    assert STATES == ("stopped", "starting", "warm", "evicted", "crashed", "fallback")


def test_rows_use_known_states_machines_and_guards():
    for row in ROWS:
        assert row.machine in (CLIENT, CACHE)
        assert row.source in STATES and row.dest in STATES
        assert set(row.guard) <= set(GUARDS)


def test_each_event_has_at_most_one_else_row_and_it_comes_last():
    # Rows for one (machine, source, event) are tried in order; an unguarded row is the "else".
    groups = defaultdict(list)
    for row in ROWS:
        groups[(row.machine, row.source, row.trigger)].append(row)
    for key, rows in groups.items():
        unguarded = [r for r in rows if not r.guard]
        assert len(unguarded) == 1 and rows[-1] is unguarded[0], key


def test_each_machine_uses_only_its_states():
    used = defaultdict(set)
    for row in ROWS:
        used[row.machine] |= {row.source, row.dest}
    assert used[CLIENT] == {"stopped", "starting", "warm", "crashed", "fallback"}
    assert used[CACHE] == {"stopped", "starting", "evicted", "warm"}
