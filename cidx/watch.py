"""`cidx watch`: re-index changed files after a quiet period (debounce).

Polling (stat of the discovered files every `poll_seconds`) rather than inotify: it needs no extra
dependency, works on every filesystem (network mounts, containers), and the index run itself is
incremental, so a poll only decides *when* to run it. Time is injected (clock, sleep) so the
debounce logic is tested without waiting.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from cidx.source.discover import discover_files

DEFAULT_DEBOUNCE = 1.0
DEFAULT_POLL = 0.5


def snapshot(config) -> dict[str, tuple[int, int]]:
    return {f.path: (f.size, f.mtime_ns) for f in
            discover_files(config.root, config.exclude_patterns, config.max_file_size)}


class Watcher:
    """One watch loop. `reindex()` runs an incremental index; `scan()` returns a snapshot."""

    def __init__(self, scan: Callable[[], dict], reindex: Callable[[], object], *,
                 debounce_seconds: float = DEFAULT_DEBOUNCE, poll_seconds: float = DEFAULT_POLL,
                 clock: Callable[[], float] = time.monotonic, on_error: Callable[[Exception], None] = lambda e: None):
        self.scan, self.reindex = scan, reindex
        self.debounce_seconds, self.poll_seconds = debounce_seconds, poll_seconds
        self.clock, self.on_error = clock, on_error
        self.stop_event = threading.Event()
        self.known = scan()
        self.pending_since: float | None = None  # first unindexed change seen at
        self.last_seen: dict | None = None
        self.runs = 0
        self.last_run_at: float | None = None
        self.last_error: str | None = None

    def step(self) -> bool:
        """One poll. Returns True when it ran an index."""
        current = self.scan()
        now = self.clock()
        if current != self.known:
            if current != self.last_seen:  # still changing: restart the quiet period
                self.pending_since = now
                self.last_seen = current
            if now - self.pending_since >= self.debounce_seconds:
                try:
                    self.reindex()
                    self.last_error = None
                except Exception as exc:  # keep watching: the next change retries
                    self.last_error = str(exc)
                    self.on_error(exc)
                    return False
                finally:
                    self.runs += 1
                    self.last_run_at = now
                self.known = self.scan()
                self.pending_since = self.last_seen = None
                return True
        return False

    def run(self, wait: Callable[[float], bool] | None = None) -> None:
        """Poll until stopped. `wait(seconds)` returns True to stop (default: the stop event)."""
        wait = wait or self.stop_event.wait
        while not wait(self.poll_seconds):
            self.step()

    def stop(self) -> None:
        self.stop_event.set()

    def state(self) -> dict:
        return {"debounce_s": self.debounce_seconds, "poll_s": self.poll_seconds, "runs": self.runs,
                "pending": self.pending_since is not None, "last_error": self.last_error}
