"""Random sequences of everything that happens to a repository's daemon, against real processes.

A hypothesis RuleBasedStateMachine drives real `cidx` clients (subprocesses) and real daemons:
queries of every kind (alone and several at once), two daemons started at the same instant, kill -9
(between and during queries), SIGSTOP/SIGCONT (a hung daemon), TTL eviction, `clear_cache`,
re-indexing (standalone, through the CLI, over RPC), file edits, `cidx stop` and SIGTERM.

Invariants, checked after every step (a step that ran no query is followed by one client query):
- every query answers exactly what the standalone search (the oracle) answers for the committed
  generation, whether the daemon or the in-process fallback served it;
- at most one daemon process lives per repository, and when one serves, its socket is mode 0600;
- a client invocation spawns at most 3 daemons (the first start + 2 restarts), counted from the
  daemon log (every daemon process logs its pid once it runs);
- stderr is empty when a healthy daemon served, else exactly one "daemon unavailable" line;
- a clean stop leaves no socket behind.

Under CI hypothesis runs derandomized with few examples, so a fixed sequence also runs every rule
once; `make soak` runs many more random sequences.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from cidx.fastpath.socket_path import socket_path
from cidx.fastpath.params import parse_query_args
from cidx.store.check import verify_index
from cidx.store.layout import IndexLayout
from tests.conftest import daemon_pids
from tests.integration.daemon_support import alive, connect, status, wait_until
from tests.reliability.support import (PROFILE, REPORT, Daemons, assert_same_hits, cli, committed_generation, kill_pid,
                                       log_size, make_repo, oracle, pids_logged_since, settle, soak_only)

KINDS = {"semantic": (), "fts": ("--fts",), "hybrid": ("--hybrid",)}
TEXTS = ("sort numbers", "circleArea", "http retries backoff", "load_settings", "parse the configuration file")
MAX_SPAWNS = 3  # the first start + at most 2 restarts per invocation


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


class DaemonMachine(RuleBasedStateMachine):
    base: Path
    embedder = None

    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(dir=self.base, prefix="machine-"))
        self.daemons = Daemons(self.dir)
        # TTL 1.2 s with 0.2 s checks: the cache also expires on its own between steps.
        self.config = make_repo(self.dir / "repo", self.embedder, ttl_minutes=0.02,
                                eviction_check_interval_seconds=0.2)
        self.sock = socket_path(self.config.config_dir)
        self.serving: int | None = None  # the daemon known to serve (not frozen)
        self.frozen: int | None = None  # a SIGSTOPped daemon
        self.frozen_queries = 0
        self.markers: list[str] = []
        self.counter = 0
        self.queried = False  # did the last step run a query?
        self.probes = 0

    def teardown(self):
        self.daemons.kill_all()

    # -- helpers ------------------------------------------------------------------------------------
    def _healthy(self) -> int | None:
        return self.serving if self.frozen is None else None

    def _check_query(self, kind: str, text: str, proc, healthy_before: int | None) -> None:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.splitlines()
        if self.frozen is not None:
            assert len(lines) == 1 and "daemon unavailable" in lines[0], proc.stderr  # hung: fallback
        elif healthy_before is not None:
            assert lines == [], f"a healthy daemon served, yet: {proc.stderr!r}"
        else:
            assert lines == [] or (len(lines) == 1 and "daemon unavailable" in lines[0]), proc.stderr
        got = json.loads(proc.stdout)
        generation = committed_generation(self.config)
        expected = oracle(self.config, parse_query_args([text, *KINDS[kind]]), self.embedder)
        assert got["generation"] == expected.generation == generation
        assert_same_hits(got, expected, f"{kind} {text!r}")

    def _queries(self, specs: list[tuple[str, str]], kill_after: float | None = None) -> None:
        healthy_before, offset = self._healthy(), log_size(self.config)
        known = {p for p in (self.serving, self.frozen) if p}
        with ThreadPoolExecutor(len(specs) + 1) as pool:
            futures = [pool.submit(cli, self.config, "query", text, *KINDS[kind], "--json") for kind, text in specs]
            if kill_after is not None:
                time.sleep(kill_after)  # the kill instant is the random variable
                kill_pid(self.serving)
                REPORT.fault("SIGKILL during a query")
                wait_until(lambda: not alive(self.serving), 20, what="the killed daemon to die")
                self.serving, healthy_before = None, None
            procs = [f.result() for f in futures]
        self.serving = settle(self.config, self.frozen)
        if self.serving == self.frozen:
            self.serving = None
        spawned = pids_logged_since(self.config, offset) - known
        assert len(spawned) <= MAX_SPAWNS * len(specs), f"{len(spawned)} daemons spawned for {len(specs)} clients"
        for (kind, text), proc in zip(specs, procs):
            self._check_query(kind, text, proc, healthy_before)
        self.queried = True
        if self.frozen is not None:
            self.frozen_queries += 1

    # -- rules --------------------------------------------------------------------------------------
    @precondition(lambda self: self.frozen is None or self.frozen_queries < 1)  # each costs ~6 s of timeouts
    @rule(kind=st.sampled_from(sorted(KINDS)), data=st.data())
    def query(self, kind, data):
        text = data.draw(st.sampled_from(TEXTS + tuple(self.markers[-3:])), label="text")
        with REPORT.trial("query"):
            self._queries([(kind, text)])

    @precondition(lambda self: self.frozen is None)
    @rule(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=2, max_size=4), text=st.sampled_from(TEXTS))
    def queries_at_once(self, kinds, text):
        with REPORT.trial("concurrent queries"):
            self._queries([(kind, text) for kind in kinds])

    @precondition(lambda self: self.serving is not None and self.frozen is None)
    @rule(kind=st.sampled_from(sorted(KINDS)), instant=st.floats(0.0, 0.6))
    def kill_9_during_query(self, kind, instant):
        with REPORT.trial("kill -9 during a query"):
            self._queries([(kind, TEXTS[0])], kill_after=instant)

    @rule()
    def start_two_daemons_at_once(self):
        with REPORT.trial("two daemons started at once"):
            REPORT.fault("concurrent daemon start")
            before = self.frozen or self.serving
            procs = [self.daemons.spawn(self.config.root) for _ in range(2)]
            if before is not None:
                assert [p.wait(timeout=60) for p in procs] == [0, 0]  # the socket is served: both leave
                assert settle(self.config, self.frozen) == before
                return
            served = settle(self.config)
            assert served in {p.pid for p in procs}
            loser = next(p for p in procs if p.pid != served)
            assert loser.wait(timeout=60) == 0
            self.serving = served

    @precondition(lambda self: self.serving is not None or self.frozen is not None)
    @rule()
    def kill_9(self):
        with REPORT.trial("kill -9"):
            pids = daemon_pids(self.config.root)
            assert pids
            for pid in pids:
                kill_pid(pid)
            REPORT.fault("SIGKILL")
            wait_until(lambda: not any(alive(p) for p in pids), 20, what="the killed daemon to die")
            self.serving = self.frozen = None
            assert os.path.lexists(self.sock)  # a stale socket: what the next start must cope with

    @precondition(lambda self: self.serving is not None and self.frozen is None)
    @rule()
    def freeze(self):
        with REPORT.trial("SIGSTOP"):
            kill_pid(self.serving, signal.SIGSTOP)
            REPORT.fault("SIGSTOP")
            wait_until(lambda: _state(self.serving) == "T", 10, what="the daemon to stop")
            self.frozen, self.serving, self.frozen_queries = self.serving, None, 0

    @precondition(lambda self: self.frozen is not None)
    @rule()
    def thaw(self):
        with REPORT.trial("SIGCONT"):
            pid, self.frozen = self.frozen, None
            kill_pid(pid, signal.SIGCONT)
            assert settle(self.config) == pid  # it answers again; no other daemon took its socket
            self.serving = pid

    @precondition(lambda self: self.serving is not None and self.frozen is None)
    @rule()
    def ttl_expiry(self):
        with REPORT.trial("TTL eviction"):
            REPORT.fault("TTL eviction")
            wait_until(lambda: (s := status(self.config)) and s["cache_state"] == "evicted", 20,
                       what="TTL eviction")

    @precondition(lambda self: self.serving is not None and self.frozen is None)
    @rule()
    def clear_cache(self):
        with REPORT.trial("clear_cache"):
            conn = connect(self.config)
            try:
                assert json.loads(conn.conn.root.clear_cache(str(self.config.root)))["cleared"] is True
            finally:
                conn.close()
            assert status(self.config)["cache_state"] == "evicted"

    @rule(how=st.sampled_from(["standalone", "cli", "rpc"]))
    def reindex(self, how):
        if self.frozen is not None:
            how = "standalone"  # through a hung daemon this is the fallback path, ~6 s: covered by queries
        elif how == "rpc" and self.serving is None:
            how = "cli"
        with REPORT.trial(f"re-index ({how})"):
            known, offset = {p for p in (self.serving, self.frozen) if p}, log_size(self.config)
            if how == "rpc":
                conn = connect(self.config, timeout=300)
                try:
                    json.loads(conn.call("cli_index", str(self.config.root), None, False, False))
                finally:
                    conn.close()
            else:
                proc = cli(self.config, "index", env={"CIDX_NO_DAEMON": "1"} if how == "standalone" else None)
                assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
            self.serving = settle(self.config, self.frozen)
            if self.serving == self.frozen:
                self.serving = None
            assert len(pids_logged_since(self.config, offset) - known) <= MAX_SPAWNS
            assert verify_index(IndexLayout(self.config.index_dir)) == []

    @rule(action=st.sampled_from(["edit", "add", "delete"]), pick=st.integers(0, 99))
    def change_files(self, action, pick):
        root = self.config.root
        files = sorted(p for p in root.rglob("*") if p.is_file() and not {".git", ".code-indexer"} & set(p.parts))
        self.counter += 1
        word = f"quokka{self.counter}"
        if action == "edit":
            with open(files[pick % len(files)], "a") as handle:
                handle.write(f"\n// {word} was here\n")
        elif action == "add":
            (root / "extra").mkdir(exist_ok=True)
            (root / f"extra/mod_{self.counter}.py").write_text(f"def {word}_handler(x):\n    return '{word}'\n")
        elif len(files) > 3:
            files[pick % len(files)].unlink()
        self.markers.append(word)

    @precondition(lambda self: self.frozen is None)
    @rule(how=st.sampled_from(["cidx stop", "SIGTERM"]))
    def stop(self, how):
        with REPORT.trial(f"clean stop ({how})"):
            was_serving = self.serving
            if how == "SIGTERM":
                if was_serving is None:
                    return
                kill_pid(was_serving, signal.SIGTERM)
            else:
                proc = cli(self.config, "stop")
                assert proc.returncode == 0 and proc.stderr == "", proc.stderr
                if was_serving is not None:
                    assert f"pid {was_serving}" in proc.stdout
            wait_until(lambda: not daemon_pids(self.config.root), 20, what="the daemon to exit")
            if was_serving is not None:
                assert not os.path.lexists(self.sock), "a clean stop left its socket behind"
            self.serving = None

    # -- invariants ---------------------------------------------------------------------------------
    @invariant()
    def answers_like_the_oracle(self):
        """After any step that ran no query, one client query (kinds and texts in rotation) must
        answer like the standalone search: every fault is followed by the check that matters."""
        if not self.queried and (self.frozen is None or self.frozen_queries < 1):
            kind = sorted(KINDS)[self.probes % len(KINDS)]
            text = self.markers[-1] if self.markers and self.probes % 2 else TEXTS[self.probes % len(TEXTS)]
            self.probes += 1
            with REPORT.trial("query after a step"):
                self._queries([(kind, text)])
        self.queried = False

    @invariant()
    def one_daemon_per_repository(self):
        pids = daemon_pids(self.config.root)
        assert len(pids) <= 1, f"several daemons for one repository: {pids}"
        if self.serving is not None:
            assert pids == [self.serving]
            assert stat.S_IMODE(os.stat(self.sock).st_mode) == 0o600


def run_machine(base: Path, embedder, examples: int, steps: int) -> None:
    DaemonMachine.base, DaemonMachine.embedder = base, embedder
    try:
        run_state_machine_as_test(DaemonMachine, settings=settings(
            max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
            phases=(Phase.explicit, Phase.generate),  # no shrinking: each step runs real processes
            suppress_health_check=list(HealthCheck)))
    finally:
        Daemons(base).kill_all()


def test_random_sequences_against_real_daemons(tmp_path, embedder, daemons):
    examples, steps = (5, 8) if PROFILE == "ci" else (6, 10)
    run_machine(tmp_path, embedder, examples, steps)


@soak_only
@pytest.mark.timeout(1200)
def test_random_sequences_soak(tmp_path, embedder, daemons):
    run_machine(tmp_path, embedder, 15, 20)


def test_every_rule_in_one_fixed_sequence(tmp_path, embedder, daemons):
    """Under CI, hypothesis runs derandomized with few examples, which may never pick some rules;
    this fixed sequence runs every rule (hung daemon included) with the same invariants."""
    DaemonMachine.base, DaemonMachine.embedder = tmp_path, embedder
    m = DaemonMachine()

    def step(action, expect=lambda: True):
        assert expect(), f"the script is not in the state {action.__name__} needs"
        action()
        m.one_daemon_per_repository()
        m.answers_like_the_oracle()  # a client query after every step that ran none

    def serving() -> bool:
        """Make sure a daemon serves (a query auto-starts one; with the 170 ms backoff it may fall
        back first and be served by the daemon it spawned on the next try)."""
        for _ in range(3):
            if m.serving is not None:
                return True
            step(lambda: m._queries([("fts", TEXTS[1])]))
        return m.serving is not None

    try:
        step(lambda: None)  # no daemon yet: the first query spawns one
        step(m.start_two_daemons_at_once, serving)
        step(m.clear_cache, serving)
        step(m.freeze, serving)  # ...and the probe query falls back (hung daemon)
        step(m.start_two_daemons_at_once, lambda: m.frozen is not None)  # both leave: the socket is held
        step(m.thaw, lambda: m.frozen is not None)
        step(lambda: m.kill_9_during_query("semantic", 0.3), serving)
        step(lambda: (m.kill_9(), m.start_two_daemons_at_once()), serving)  # over a stale socket: one serves
        step(m.ttl_expiry, serving)
        for action, how in (("add", "rpc"), ("edit", "cli"), ("delete", "standalone")):
            step(lambda: m.change_files(action, 3))
            step(lambda: m.reindex(how))
        step(lambda: m.queries_at_once(sorted(KINDS), "sort numbers"))
        step(m.freeze, serving)
        step(m.kill_9, lambda: m.frozen is not None)  # kill -9 of a hung daemon
        step(lambda: m.stop("cidx stop"))  # nothing runs: a stale socket stays, no error
        step(lambda: m._queries([("hybrid", TEXTS[2])]))
        step(lambda: m.stop("SIGTERM"), serving)
        step(lambda: m._queries([("fts", TEXTS[1])]))
        step(lambda: m.stop("cidx stop"), serving)
    finally:
        m.teardown()
