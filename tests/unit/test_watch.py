"""Debounce logic of cidx watch, with scripted snapshots and a fake clock."""

from cidx.watch import Watcher


class Scripted:
    def __init__(self):
        self.now = 0.0
        self.files = {"a.py": (1, 1)}
        self.runs = []

    def scan(self):
        return dict(self.files)

    def reindex(self):
        self.runs.append(self.now)


def make(debounce=2.0):
    s = Scripted()
    return s, Watcher(s.scan, s.reindex, debounce_seconds=debounce, poll_seconds=0.5, clock=lambda: s.now)


def test_no_change_no_index():
    s, w = make()
    for _ in range(10):
        s.now += 0.5
        assert not w.step()
    assert s.runs == []


def test_indexes_once_after_the_quiet_period():
    s, w = make(debounce=2.0)
    s.files["a.py"] = (2, 2)
    s.now = 10.0
    assert not w.step() and w.state()["pending"]
    s.now = 11.9
    assert not w.step()
    s.now = 12.0
    assert w.step() and s.runs == [12.0]
    s.now = 20.0
    assert not w.step() and s.runs == [12.0]  # nothing new


def test_changes_during_the_quiet_period_restart_it():
    s, w = make(debounce=2.0)
    s.files["b.py"] = (1, 1)
    s.now = 1.0
    w.step()
    s.now = 2.5
    s.files["b.py"] = (2, 2)  # still being edited
    w.step()
    s.now = 4.0
    assert not w.step()  # 1.5 s since the last change
    s.now = 4.5
    assert w.step() and s.runs == [4.5]


def test_a_failed_reindex_is_reported_and_retried():
    s, w = make(debounce=0.0)
    errors = []
    w.on_error = errors.append

    def failing():
        raise RuntimeError("writer busy")
    w.reindex = failing
    s.files["c.py"] = (1, 1)
    assert not w.step() and w.state()["last_error"] == "writer busy" and len(errors) == 1
    w.reindex = s.reindex
    assert w.step() and w.state()["last_error"] is None and w.runs == 2


def test_run_stops_when_told():
    s, w = make()
    calls = []
    w.run(wait=lambda seconds: calls.append(seconds) or len(calls) > 3)
    assert calls == [0.5] * 4
