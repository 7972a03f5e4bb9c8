"""glibc's allocator, told to give memory back after a burst (issue 27, the storm).

The webhook runs many threads (request threads, delivery lanes, duties). glibc
gives each thread that contends for the heap an arena of its own, up to 8 per
core, and an arena's free memory stays with the process: after a 300-host storm
glibc held ~60 MiB free in its arenas (mallinfo2 `fordblks`) and the webhook
stayed at 2.5× its pre-storm RSS. Two calls fix that:

- `limit_arenas()` at start-up, before any thread exists: at most
  `ARENA_MAX` arenas (what `MALLOC_ARENA_MAX=2` would do; an operator's own
  `MALLOC_ARENA_MAX` wins);
- `trim()` once a burst has drained: `malloc_trim(0)` hands the free pages of
  every arena back to the system.

Only on glibc; elsewhere (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("alert_webhook.allocator")

# mallopt's parameter number for the arena cap (malloc.h: M_ARENA_MAX -8).
M_ARENA_MAX = -8
ARENA_MAX = 2


def glibc() -> Any | None:
    """The C library when it is glibc (what mallopt/malloc_trim need), else None."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


def limit_arenas(
    libc: Any | None = None, env: Mapping[str, str] | None = None, arenas: int = ARENA_MAX
) -> bool:
    """Cap glibc's arenas; True when asked. Call before threads start."""
    env = os.environ if env is None else env
    if env.get("MALLOC_ARENA_MAX"):
        return False  # the operator's choice, already read by glibc
    libc = glibc() if libc is None else libc
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def trim(libc: Any | None = None) -> bool:
    """Give the allocator's free pages back; True when some were."""
    libc = glibc() if libc is None else libc
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


def trimmer(
    libc: Any | None,
    activity: Callable[[], int] = lambda: 0,
    forget: Callable[[], None] = lambda: None,
) -> Callable[[], int]:
    """A background loop's pass: when no notification came since the last pass
    (`activity`, a count of work done, has not moved), forget what only a burst
    needed and give the free heap pages back; during a burst, nothing. It never
    counts as work found, so the loop keeps its interval."""
    last: list[int | None] = [None]

    def step() -> int:
        now = activity()
        if now == last[0]:
            forget()
            if libc is not None:
                trim(libc)
            now = activity()
        last[0] = now
        return 0

    return step
