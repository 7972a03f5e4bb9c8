"""HTTP's `Retry-After` (RFC 9110, section 10.2.3): a delay in seconds or an HTTP
date. Read one way by the probe that watches an API's rate-limit headroom and by
the delivery worker that a throttling provider tells to wait."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass

# ASCII digits only: `\d` would also take other scripts' digits.
_DELAY_SECONDS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class RetryAfter:
    """A delay in seconds, or a moment (an HTTP date)."""

    seconds: float | None = None
    at: float | None = None  # Unix time

    def wait(self, now: float) -> float:
        """Seconds from `now` until the server may be asked again."""
        if self.seconds is not None:
            return self.seconds
        return max(0.0, (self.at or now) - now)

    def __str__(self) -> str:
        return f"{self.seconds:g} s" if self.seconds is not None else f"until {self.at:.0f}"


def parse_retry_after(value: str | None) -> RetryAfter | None:
    """The header's value read; None when absent or neither form."""
    text = (value or "").strip()
    if _DELAY_SECONDS.fullmatch(text):
        return RetryAfter(seconds=float(text))
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, as every HTTP date is
        moment = moment.replace(tzinfo=dt.UTC)
    return RetryAfter(at=moment.timestamp())
