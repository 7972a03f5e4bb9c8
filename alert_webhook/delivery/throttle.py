"""Throttling: a provider answering "too many requests" (HTTP 429) works, and asks
to be left alone for a while — the recovery plan's "monitor API response headers;
if rate limited, back off". Not a failure: no breaker counts it, nothing fails
over because of it. The delivery waits for the provider's `Retry-After` (or, when
it says none, the usual backoff), but never past its own give-up time: a
Retry-After of a day would otherwise hold a critical alert for a day. At its
give-up time, still throttled, it is escalated like any delivery its channel
could not carry.

`ThrottleGate` remembers, per provider, until when it asked to be left alone, so
the rest of a batch (and of the lane) does not ask again meanwhile. Process
memory only: another replica learns it from its own first 429.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from alert_webhook.delivery.channels import RetryAfter


@dataclass(frozen=True)
class ThrottledWait:
    """When a throttled delivery is tried next, and what its record says about it."""

    at: float
    text: str


def throttled_wait(
    retry_after: RetryAfter | None, now: float, backoff: float, give_up_at: float
) -> ThrottledWait:
    """The next try of a delivery throttled at `now`: after the provider's
    Retry-After, or `backoff` seconds when it gave none; capped at `give_up_at`."""
    wait = retry_after.wait(now) if retry_after is not None else backoff
    asked = f"Retry-After {retry_after}" if retry_after is not None else "no Retry-After"
    if now + wait > give_up_at:
        left = max(0.0, give_up_at - now)
        return ThrottledWait(
            give_up_at,
            f"{asked}, capped at the delivery's give-up time: next try in {left:.0f} s",
        )
    return ThrottledWait(now + wait, f"{asked}: next try in {wait:.0f} s")


class ThrottleGate:
    """Providers (by `channel:provider`) that asked not to be called before a time."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def hold(self, key: str, until: float) -> None:
        with self._lock:
            self._until[key] = max(until, self._until.get(key, until))

    def held_until(self, key: str, now: float) -> float | None:
        """When `key` may be asked again, while that is still to come."""
        with self._lock:
            until = self._until.get(key)
            if until is not None and until <= now:
                del self._until[key]
                return None
            return until
