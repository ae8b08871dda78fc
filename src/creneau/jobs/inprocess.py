"""The default runner: a few worker threads inside the web process, and a ticker for periodic work.

Jobs are keyed ``(kind, id)``: ``("sync", account_id)`` syncs an account (and keeps its push channels open),
``("push", account_id)`` renews its push channels now, ``("outbox", item_id)`` writes a booking's calendar
event or sends its email. Guarantees the distributed runner must keep too: repeated
requests for one key collapse while one is queued (procrastinate's ``queueing_lock``), and one key never runs
on two workers at once (``lock``); a request that comes while its key runs makes it run once more afterwards.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable

from creneau.calendars.context import EngineContext
from creneau.jobs import tasks
from creneau.scheduling.context import Scheduling

log = logging.getLogger(__name__)

Key = tuple[str, int]


class InProcessQueue:
    def __init__(
        self,
        ctx: EngineContext,
        sched: Scheduling | None = None,
        *,
        workers: int = 2,
        tick_seconds: float = 5.0,
    ) -> None:
        self._ctx = ctx
        self._sched = sched
        self._queue: queue.Queue[Key | None] = queue.Queue()
        self._queued: set[Key] = set()
        self._running: set[Key] = set()
        self._again: set[Key] = set()  # asked for while running: run once more afterwards
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers = workers
        self._tick = tick_seconds

    def enqueue_sync(self, account_id: int) -> None:
        self._enqueue(("sync", account_id))

    def enqueue_syncs(self, account_ids: Iterable[int]) -> None:
        for account_id in account_ids:
            self._enqueue(("sync", account_id))

    def enqueue_push_renewal(self, account_id: int) -> None:
        self._enqueue(("push", account_id))

    def enqueue_outbox(self, item_ids: Iterable[int]) -> None:
        for item_id in item_ids:
            self._enqueue(("outbox", item_id))

    def _enqueue(self, key: Key) -> None:
        with self._lock:
            if key in self._queued:
                return
            self._queued.add(key)
        self._queue.put(key)

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for n in range(self._workers):
            t = threading.Thread(target=self._work, name=f"creneau-jobs-{n}", daemon=True)
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

    def tick(self) -> None:
        """Queue what is due: accounts whose sync time has come, outbox items whose retry time has come."""
        self.enqueue_syncs(tasks.due_account_ids(self._ctx))
        if self._sched is not None:
            self.enqueue_outbox(tasks.due_outbox_items(self._sched))

    def _ticker(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.tick()
            except Exception:
                log.exception("could not list the work that is due")

    def _work(self) -> None:
        while True:
            key = self._queue.get()
            if key is None:
                return
            with self._lock:
                self._queued.discard(key)
                if key in self._running:  # another worker has it: once it ends, run again
                    self._again.add(key)
                    continue
                self._running.add(key)
            try:
                self._run(key)
            except Exception:
                # Job functions record failures where users see them; reaching here is a bug.
                log.exception("job %s %s crashed", *key)
            finally:
                self._done(key)

    def _run(self, key: Key) -> None:
        kind, ident = key
        if kind == "sync":
            tasks.sync_account_job(self._ctx, ident)
        elif kind == "push":
            tasks.renew_push_job(self._ctx, ident)
        elif kind == "outbox" and self._sched is not None:
            tasks.outbox_job(self._sched, ident)

    def _done(self, key: Key) -> None:
        with self._idle:
            self._running.discard(key)
            if key in self._again:  # changes may have come after this run read its data
                self._again.discard(key)
                self._queued.add(key)
                self._queue.put(key)
            self._idle.notify_all()
