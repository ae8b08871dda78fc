"""The default runner: a few worker threads inside the web process, and a ticker for periodic syncs.

Guarantees the distributed runner must keep too: repeated sync requests for one account collapse while one is
queued (procrastinate's ``queueing_lock``), and one account is never synced by two workers at once (``lock``).
"""

from __future__ import annotations

import logging
import queue
import threading

from creneau.calendars.context import EngineContext
from creneau.jobs import tasks

log = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(self, ctx: EngineContext, *, workers: int = 2, tick_seconds: float = 5.0) -> None:
        self._ctx = ctx
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._queued: set[int] = set()
        self._running: set[int] = set()
        self._again: set[int] = set()  # asked for while running: run once more afterwards
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers = workers
        self._tick = tick_seconds

    def enqueue_sync(self, account_id: int) -> None:
        with self._lock:
            if account_id in self._queued:
                return
            self._queued.add(account_id)
        self._queue.put(account_id)

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for n in range(self._workers):
            t = threading.Thread(target=self._work, name=f"creneau-sync-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        ticker = threading.Thread(target=self._ticker, name="creneau-ticker", daemon=True)
        ticker.start()
        self._threads.append(ticker)

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self._workers):
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()

    def wait_idle(self, timeout: float) -> bool:
        """For tests and the CLI: wait until nothing is queued or running."""
        with self._idle:
            return self._idle.wait_for(
                lambda: not self._queued and not self._running and not self._again, timeout=timeout
            )

    def _ticker(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                for account_id in tasks.due_account_ids(self._ctx):
                    self.enqueue_sync(account_id)
            except Exception:
                log.exception("could not list accounts due for sync")

    def _work(self) -> None:
        while True:
            account_id = self._queue.get()
            if account_id is None:
                return
            with self._lock:
                self._queued.discard(account_id)
                if account_id in self._running:  # another worker has it: once it ends, run again
                    self._again.add(account_id)
                    continue
                self._running.add(account_id)
            try:
                tasks.sync_account_job(self._ctx, account_id)
            except Exception:
                # sync_account records failures on the account itself; this is a bug, not a server error.
                log.exception("sync of account %s crashed", account_id)
            finally:
                self._done(account_id)

    def _done(self, account_id: int) -> None:
        with self._idle:
            self._running.discard(account_id)
            if account_id in self._again:  # changes may have come after this run read the server
                self._again.discard(account_id)
                self._queued.add(account_id)
                self._queue.put(account_id)
            self._idle.notify_all()
