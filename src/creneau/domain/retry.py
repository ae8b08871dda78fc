"""How long to wait before trying again, after failures in a row (sync of an account, an outbox item)."""

from __future__ import annotations


def backoff_delay(*, failures: int, base: float, maximum: float, retry_after: float | None = None) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: ``base`` doubled each time, at most
    ``maximum``; a server's ``retry_after`` wins when it is longer. The exponent is capped, so a target that
    fails for weeks never overflows."""
    exponential: float = base * 2.0 ** min(max(failures, 1) - 1, 30)
    return max(retry_after or 0.0, min(exponential, maximum))
