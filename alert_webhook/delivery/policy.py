"""The recovery plan's retry policy (its "Retry Mechanism"): delay = 2^attempt ×
base_delay, jittered, capped."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from alert_webhook.delivery.settings import RetrySettings


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float
    jitter: float  # ±ratio of the delay
    rand: Callable[[], float] = field(default=random.random)

    @classmethod
    def from_settings(cls, s: RetrySettings, rand: Callable[[], float] = random.random) -> Backoff:
        return cls(s.base_delay_seconds, s.max_delay_seconds, s.jitter_ratio, rand)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th failed try (1-based)."""
        raw = min(self.cap, (2**attempt) * self.base)
        return max(0.0, raw * (1 + self.jitter * (2 * self.rand() - 1)))
