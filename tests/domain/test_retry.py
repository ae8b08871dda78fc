"""Backoff after failures in a row."""

from __future__ import annotations

from creneau.domain.retry import backoff_delay


def test_doubles_up_to_the_maximum_and_never_overflows() -> None:
    delays = [backoff_delay(failures=n, base=15, maximum=900) for n in (1, 2, 3, 7, 10_000)]
    assert delays == [15, 30, 60, 900, 900]


def test_a_servers_retry_after_wins_when_longer() -> None:
    assert backoff_delay(failures=1, base=15, maximum=900, retry_after=120) == 120
    assert backoff_delay(failures=5, base=15, maximum=900, retry_after=10) == 240
