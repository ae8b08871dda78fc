"""Many participants at once: the database guarantees that no two bookings of one manager overlap.

On PostgreSQL the exclusion constraint settles races that the re-check alone could miss; on SQLite booking
transactions are serialized. Both run here (CI runs the suite on each database).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from creneau.domain.intervals import Interval
from creneau.errors import SlotUnavailable
from creneau.runtime import Runtime
from creneau.scheduling import booking as bookings
from creneau.scheduling.booking import Participant
from creneau.store.models import Booking, Researcher
from tests.scheduling.conftest import at, day_ahead, make_session

THREADS = 40


def attempt_all(count: int, book_one: Callable[[int], object]) -> tuple[int, int]:
    """Run ``count`` attempts as simultaneously as threads allow; returns (booked, refused)."""
    # As many at once as one process has database connections (10 + 30 on PostgreSQL by default): more
    # threads would only queue for a connection, not make the race harder.
    barrier = threading.Barrier(min(count, THREADS))
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=30)
        try:
            book_one(n)
            result = "booked"
        except SlotUnavailable:
            result = "refused"
        with lock:
            outcomes.append(result)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(one, range(count)))
    return outcomes.count("booked"), outcomes.count("refused")


def participant(n: int) -> Participant:
    return Participant(name=f"P{n}", email=f"p{n}@example.org", locale="en", timezone="UTC")


def confirmed(runtime: Runtime) -> list[Booking]:
    with runtime.ctx.sessions() as db:
        return list(db.scalars(select(Booking).where(Booking.status == "confirmed")))


def test_a_hundred_attempts_on_one_slot_make_one_booking(runtime: Runtime, researcher: Researcher) -> None:
    token = make_session(runtime, researcher, destination=None).public_token
    start = at(day_ahead(3), 10)
    booked, refused = attempt_all(
        100, lambda n: bookings.book(runtime.sched, token=token, start=start, participant=participant(n))
    )
    assert (booked, refused) == (1, 99)
    assert len(confirmed(runtime)) == 1


def test_two_hundred_attempts_over_overlapping_slots_never_overlap(
    runtime: Runtime, researcher: Researcher
) -> None:
    # Two sessions of the same manager, one-hour slots every 15 minutes, with a buffer after: 20 candidate
    # starts that overlap each other in many ways, across sessions too.
    first = make_session(
        runtime, researcher, destination=None, slot_interval_minutes=15, buffer_after_minutes=10
    )
    second = make_session(runtime, researcher, destination=None, slot_interval_minutes=15)
    day = day_ahead(4)
    starts = [at(day, 9) + timedelta(minutes=15 * k) for k in range(20)]
    tokens = [first.public_token, second.public_token]

    def book_one(n: int) -> object:
        return bookings.book(
            runtime.sched, token=tokens[n % 2], start=starts[(n * 7) % 20], participant=participant(n)
        )

    booked, refused = attempt_all(200, book_one)
    assert booked + refused == 200 and booked >= 1
    made = confirmed(runtime)
    assert len(made) == booked
    blocked = sorted(Interval(b.blocked_start, b.blocked_end) for b in made)
    for earlier, later in itertools.pairwise(blocked):
        assert not earlier.overlaps(later), (earlier, later)
    # The 20 starts span 9:00–13:45: at least three non-overlapping bookings fit, and contention did not
    # make every attempt fail.
    assert booked >= 3
