"""A circuit breaker per provider, on an injected clock.

CLOSED → OPEN after `threshold` failures within `window` seconds; OPEN → HALF_OPEN
once `open_seconds` have passed; HALF_OPEN lets one trial through: success
closes it, failure opens it again. A small explicit state machine rather than a
library: the worker asks "may I?" without wrapping the call, so it can fail over
to the next provider while the breaker is open.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from enum import StrEnum

from alert_webhook.delivery.settings import BreakerSettings


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    @property
    def gauge(self) -> int:
        """The value of alert_webhook_circuit_breaker_state."""
        return {"closed": 0, "open": 1, "half_open": 2}[self.value]


CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
OnChange = Callable[[str, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        threshold: int,
        window: float,
        open_seconds: float,
        clock: Callable[[], float],
        on_change: OnChange | None = None,
    ) -> None:
        self.name = name
        self._threshold, self._window, self._open_seconds = threshold, window, open_seconds
        self._clock = clock
        self._on_change = on_change
        self._failures: deque[float] = deque()
        self._state = CLOSED
        self._opened_at = 0.0
        self._trial_out = False
        self._lock = threading.Lock()
        if on_change:
            on_change(name, CLOSED)

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def retry_at(self) -> float:
        """When an open breaker will let a trial through."""
        return self._opened_at + self._open_seconds

    def allow(self) -> bool:
        """May a call go to this provider now? In HALF_OPEN, only the one trial may."""
        with self._lock:
            self._maybe_half_open()
            if self._state == CLOSED:
                return True
            if self._state == HALF_OPEN and not self._trial_out:
                self._trial_out = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failures.clear()
            self._trial_out = False
            self._set(CLOSED)

    def no_verdict(self) -> None:
        """A call that neither worked nor failed (the provider throttled it): counted
        neither way; a half-open trial ends, so a later one may go."""
        with self._lock:
            self._trial_out = False

    def failure(self) -> None:
        with self._lock:
            now = self._clock()
            self._trial_out = False
            if self._state == HALF_OPEN:
                self._open(now)
                return
            self._failures.append(now)
            while self._failures and self._failures[0] <= now - self._window:
                self._failures.popleft()
            if len(self._failures) >= self._threshold:
                self._open(now)

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._failures.clear()
        self._set(OPEN)

    def _maybe_half_open(self) -> None:
        if self._state == OPEN and self._clock() >= self.retry_at():
            self._set(HALF_OPEN)

    def _set(self, state: BreakerState) -> None:
        if state != self._state:
            self._state = state
            if self._on_change:
                self._on_change(self.name, state)


def breakers_for(
    keys: Iterable[str], settings: BreakerSettings, clock: Callable[[], float], on_change: OnChange
) -> dict[str, CircuitBreaker]:
    """One breaker per key (`channel:provider`), all with the same settings."""
    return {
        key: CircuitBreaker(
            key,
            settings.failure_threshold,
            settings.window_seconds,
            settings.open_seconds,
            clock,
            on_change,
        )  # fmt: skip
        for key in keys
    }
