"""How `POST /login` holds back password guessing.

Each password check is a deliberately slow scrypt hash (~120 ms of a core and
32 MB); an unknown name is checked against a dummy hash so that it costs the
same. Unchecked, sixteen clients guessing took both cores and slowed Alertmanager's
`POST /alerts` from 3 ms to 600 ms. So:

- **Back-off**, per operator name and per client address: after
  `free_failures` failed logins the next attempt waits `first_backoff_seconds`,
  and each further failure doubles the wait up to `max_backoff_seconds`. An
  attempt during the wait is answered 429 at once, without a check, and does
  not lengthen it; the right password is accepted once it has passed. The
  longer of the name's and the address's waits applies. A success clears both;
  a name or address with no failure for `forget_after_seconds` starts afresh.
- **A cap on checks at once** (`concurrent_checks`, default 1): a login
  arriving while the cap is reached is answered 429 at once rather than queued
  on a request thread, so a flood takes at most that many cores, never the
  request threads that Alertmanager's posts need.

The state is in this process's memory: each replica keeps its own, and a
restart forgets it. At most `max_tracked` names and as many addresses are
remembered; past that the longest quiet one is dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from alert_webhook.config.auth import LoginLimitSettings

# Operator names are at most 64 characters: a longer name is kept by its start.
MAX_KEY_CHARS = 64


@dataclass(frozen=True)
class Backoff:
    """The wait after a number of consecutive failures: none for the free ones,
    then exponential up to a cap."""

    free_failures: int
    first_seconds: float
    max_seconds: float

    def wait(self, failures: int) -> float:
        over = failures - self.free_failures
        if over < 0:
            return 0.0
        # 2**over past ~60 doublings is beyond any cap: no need to compute it.
        return min(self.max_seconds, self.first_seconds * 2.0 ** min(over, 64))


@dataclass
class _Failures:
    count: int
    last_at: float


class FailureBackoff:
    """Consecutive failures per key (an operator's name, a client's address) and
    how long each key must wait before it may try again. Thread-safe."""

    def __init__(
        self,
        backoff: Backoff,
        clock: Callable[[], float],
        *,
        forget_after_seconds: float,
        max_keys: int,
    ) -> None:
        self._backoff = backoff
        self._clock = clock
        self._forget_after = forget_after_seconds
        self._max_keys = max_keys
        self._keys: OrderedDict[str, _Failures] = OrderedDict()  # oldest failure first
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again; 0: now."""
        now = self._clock()
        with self._lock:
            failures = self._current(key[:MAX_KEY_CHARS], now)
            if failures is None:
                return 0.0
            until = failures.last_at + self._backoff.wait(failures.count)
        return max(0.0, until - now)

    def failed(self, key: str) -> None:
        key = key[:MAX_KEY_CHARS]
        now = self._clock()
        with self._lock:
            failures = self._current(key, now)
            count = failures.count + 1 if failures else 1
            self._keys[key] = _Failures(count, now)
            self._keys.move_to_end(key)
            while len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key[:MAX_KEY_CHARS], None)

    def tracked(self) -> list[str]:
        """The keys with failures on record, oldest failure first."""
        with self._lock:
            return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def _current(self, key: str, now: float) -> _Failures | None:
        """The key's failures, unless it has been quiet past its wait and then
        `forget_after_seconds` more."""
        failures = self._keys.get(key)
        if failures is None:
            return None
        quiet_from = failures.last_at + self._backoff.wait(failures.count)
        if now - quiet_from >= self._forget_after:
            del self._keys[key]
            return None
        return failures


class PasswordChecks:
    """At most `concurrent` password checks at once; one more is told at once
    that there is no room rather than waiting for it."""

    def __init__(self, concurrent: int) -> None:
        self._slots = threading.BoundedSemaphore(concurrent)

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """True inside the block when a check may run, False when all are taken."""
        taken = self._slots.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                self._slots.release()


@dataclass(frozen=True)
class LoginLimits:
    """The back-off per operator name and per client address, and the cap on
    password checks, of one app."""

    names: FailureBackoff
    addresses: FailureBackoff
    checks: PasswordChecks

    @classmethod
    def of(cls, settings: LoginLimitSettings, clock: Callable[[], float]) -> LoginLimits:
        backoff = Backoff(
            settings.free_failures, settings.first_backoff_seconds, settings.max_backoff_seconds
        )

        def tracker() -> FailureBackoff:
            return FailureBackoff(
                backoff,
                clock,
                forget_after_seconds=settings.forget_after_seconds,
                max_keys=settings.max_tracked,
            )

        return cls(tracker(), tracker(), PasswordChecks(settings.concurrent_checks))

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until a login as `name` from `address` may be checked; 0: now."""
        return max(self.names.retry_after(name), self.addresses.retry_after(address))

    def failed(self, name: str, address: str) -> None:
        self.names.failed(name)
        self.addresses.failed(address)

    def succeeded(self, name: str, address: str) -> None:
        self.names.forget(name)
        self.addresses.forget(address)
