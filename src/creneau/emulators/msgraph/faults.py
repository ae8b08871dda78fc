"""Faults the emulator injects into Graph API answers (never into OAuth or control endpoints)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: int | None = None


class Faults:
    """``fail_next`` answers the next N API calls with ``status``; ``error_rate`` fails calls at random;
    ``delay`` slows every API answer down. Thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self._rate = 0.0
        self._rate_status = 503
        self._random = random.Random(seed)
        self.delay = 0.0

    def fail_next(self, count: int, *, status: int = 429, retry_after: int | None = 1) -> None:
        with self._lock:
            self._queue.extend(Fault(status, retry_after) for _ in range(count))

    def error_rate(self, probability: float, *, status: int = 503) -> None:
        with self._lock:
            self._rate, self._rate_status = probability, status

    def set_delay(self, seconds: float) -> None:
        self.delay = seconds

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate = 0.0
            self.delay = 0.0

    def next(self) -> Fault | None:
        """The fault for the call being answered now, if any."""
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
            if self._rate and self._random.random() < self._rate:
                return Fault(self._rate_status)
        return None
