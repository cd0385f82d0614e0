"""Keeping several HTTP embedding requests in flight (ADR 0018).

A remote provider is latency-bound: one request at a time leaves a GPU server idle while the
answer travels. `plan_batches` cuts the texts into requests that respect the provider's limits
(inputs per request, characters per request), `run_in_flight` sends up to K of them at once from a
small thread pool and reassembles the answers in input order, and `RateGate` is the one place a
429 pauses: every worker consults it before sending, so a Retry-After reaches all of them.

Stdlib only; the clock and the sleep are injected so tests never wait for a Retry-After.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def plan_batches(texts: Sequence[str], max_inputs: int, max_chars: int) -> list[tuple[int, int]]:
    """[start, end) ranges, in order, each with at most max_inputs texts and at most max_chars
    characters in total. A single text longer than max_chars goes alone (it cannot be split
    here; the server truncates or refuses it, and says which)."""
    ranges: list[tuple[int, int]] = []
    start, chars = 0, 0
    for i, text in enumerate(texts):
        size = len(text)
        if i > start and (i - start >= max_inputs or chars + size > max_chars):
            ranges.append((start, i))
            start, chars = i, 0
        chars += size
    if start < len(texts):
        ranges.append((start, len(texts)))
    return ranges


class RateGate:
    """A shared pause: `pause_until(t)` (a 429 said "not before t") holds back every caller of
    `wait()` until t on `clock`. Pauses only ever extend; one that ends early never shortens
    another worker's."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]):
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._until = float("-inf")
        self._changes = 0  # bumped by every extension, so a sleeper knows to look again

    def pause_until(self, deadline: float) -> None:
        with self._lock:
            if deadline > self._until:
                self._until = deadline
                self._changes += 1

    def wait(self) -> None:
        while True:
            with self._lock:
                until, changes = self._until, self._changes
            delay = until - self._clock()
            if delay <= 0:
                return
            self._sleep(delay)
            with self._lock:
                if self._changes == changes:
                    return  # slept the whole pause and nobody extended it meanwhile
            # another 429 arrived while we slept: honour the new deadline too


def run_in_flight(jobs: Sequence[Callable[[threading.Event], T]], max_in_flight: int) -> list[T]:
    """Run jobs with at most max_in_flight at once; results in job order. The first job to raise
    sets the `abort` event every job receives (so queued ones do not start sending) and its
    exception propagates once the running ones have returned: never a partial result."""
    abort = threading.Event()
    if max_in_flight <= 1 or len(jobs) <= 1:
        return [job(abort) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(max_in_flight, len(jobs)),
                            thread_name_prefix="cidx-embed") as pool:
        futures = [pool.submit(job, abort) for job in jobs]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            abort.set()
            for future in futures:
                future.cancel()  # not started yet: never sent
            raise failed.exception()
        return [f.result() for f in futures]
