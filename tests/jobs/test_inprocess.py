"""The in-process runner: repeated sync requests collapse, one account never syncs twice at once."""

from __future__ import annotations

import threading
import time

import pytest

from creneau.jobs import inprocess, tasks
from creneau.runtime import Runtime


def test_requests_during_a_sync_collapse_into_one_more_run_without_spinning(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    runs: list[int] = []
    active: set[int] = set()
    overlaps: list[int] = []

    def slow_sync(_ctx: object, account_id: int) -> None:  # stands in for a long sync of one account
        if account_id in active:
            overlaps.append(account_id)
        active.add(account_id)
        runs.append(account_id)
        release.wait(10)
        active.discard(account_id)

    monkeypatch.setattr(tasks, "sync_account_job", slow_sync)
    queue = inprocess.InProcessQueue(runtime.ctx, workers=2, tick_seconds=3600)
    queue.start()
    try:
        queue.enqueue_sync(7)
        deadline = time.monotonic() + 5
        while not runs and time.monotonic() < deadline:
            time.sleep(0.01)
        cpu_before = time.process_time()
        for _ in range(20):  # the ticker and "Sync now" clicks while the first run is going on
            queue.enqueue_sync(7)
            time.sleep(0.01)
        cpu_spent = time.process_time() - cpu_before
        release.set()
        assert queue.wait_idle(timeout=10)
    finally:
        queue.stop()
    assert runs == [7, 7]  # the first run, then exactly one more for everything asked meanwhile
    assert overlaps == []
    assert cpu_spent < 0.15  # the idle worker waited instead of spinning on the queue
