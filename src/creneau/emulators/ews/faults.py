"""Faults the emulator injects into EWS answers (never into Autodiscover or the control API): throttling
(``ErrorServerBusy`` with ``BackOffMilliseconds``, as Exchange's throttling policy answers), HTTP 5xx, slow
answers, and an invalid sync state on the next ``SyncFolderItems``/``SyncFolderHierarchy``."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    kind: str  # "busy" | "status"
    status: int = 500
    back_off_ms: int = 0


class Faults:
    """Thread-safe. ``busy_next`` throttles the next N EWS calls, ``fail_next`` answers them with an HTTP
    status (500, 502, 503), ``error_rate`` fails calls at random, ``delay`` slows every EWS answer down,
    ``invalid_sync_next`` makes the next N sync calls answer ``ErrorInvalidSyncStateData``."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self._rate = 0.0
        self._rate_fault = Fault("status", 503)
        self._random = random.Random(seed)
        self._invalid_sync = 0
        self.delay = 0.0

    def busy_next(self, count: int, *, back_off_ms: int = 1000) -> None:
        with self._lock:
            self._queue.extend(Fault("busy", 500, back_off_ms) for _ in range(count))

    def fail_next(self, count: int, *, status: int = 503) -> None:
        with self._lock:
            self._queue.extend(Fault("status", status) for _ in range(count))

    def error_rate(self, probability: float, *, status: int = 503, busy: bool = False) -> None:
        with self._lock:
            self._rate = probability
            self._rate_fault = Fault("busy", 500, 1000) if busy else Fault("status", status)

    def invalid_sync_next(self, count: int = 1) -> None:
        with self._lock:
            self._invalid_sync += count

    def set_delay(self, seconds: float) -> None:
        self.delay = max(0.0, seconds)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate = 0.0
            self._invalid_sync = 0
            self.delay = 0.0

    def next(self) -> Fault | None:
        """The fault for the EWS call being answered now, if any."""
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
            if self._rate and self._random.random() < self._rate:
                return self._rate_fault
        return None

    def take_invalid_sync(self) -> bool:
        with self._lock:
            if self._invalid_sync:
                self._invalid_sync -= 1
                return True
        return False
