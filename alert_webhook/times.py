"""Times on the console, computed server-side from the app clock so the page
reads without JavaScript: "5 min ago", "in 1 h 20 min", "42 s".

What is relative to now is said to the minute ("just now", "5 min ago", "respond
within 4 min"): the live update renders the console again once a minute rather
than on every poll, and a text that changed every second would be stale in
between. A span between two recorded moments (a resolved incident's duration)
keeps its seconds.
"""

from __future__ import annotations

import time

MINUTE = 60.0
ISO = "%Y-%m-%dT%H:%M:%SZ"


def duration(seconds: float) -> str:
    """A span in its two largest units: 42 s, 5 min, 1 h 20 min, 2 d 3 h."""
    whole = int(max(seconds, 0))
    if whole < 60:
        return f"{whole} s"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        rest = minutes % 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours % 24
    return f"{days} d {rest} h" if rest else f"{days} d"


def ago(epoch: float, now: float) -> str:
    """How long ago `epoch` was, to the minute; a time in the future says so."""
    if abs(now - epoch) < MINUTE:
        return "just now"
    if epoch > now:
        return f"in {duration(epoch - now)}"
    return f"{duration(now - epoch)} ago"


def deadline(deadline_at: float | None, now: float) -> str:
    """The response deadline as a countdown, to the minute; a critical one is due
    at once."""
    if deadline_at is None:
        return ""
    if deadline_at == now:
        return "respond now"
    if deadline_at < now:
        late = now - deadline_at
        return f"overdue by {'under 1 min' if late < MINUTE else duration(late)}"
    return f"respond within {duration(max(deadline_at - now, MINUTE))}"


def minute(now: float) -> int:
    """Which minute `now` is in: the relative times above change only with it."""
    return int(now // MINUTE)


def iso(epoch: float) -> str:
    """The exact UTC time for a <time datetime> attribute."""
    return time.strftime(ISO, time.gmtime(epoch))
