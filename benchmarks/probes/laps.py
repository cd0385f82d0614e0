"""Phase timing shared by the probes: each lap is the milliseconds since the previous mark.
Stdlib `time` only, so importing it changes nothing the probes measure."""

import time


class Laps:
    def __init__(self):
        self.phases: dict = {}
        self._mark = time.perf_counter()

    def take(self) -> float:
        """Milliseconds since the previous mark; the next lap starts now."""
        now = time.perf_counter()
        ms = (now - self._mark) * 1e3
        self._mark = now
        return ms

    def lap(self, name: str) -> None:
        self.phases[name] = self.take()
