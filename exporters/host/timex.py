"""The kernel clock discipline's state through libc `adjtimex` (read-only, modes=0).

node_exporter's timex collector reads the same struct; `node_timex_*` converts it
with the same scales. Off Linux (or without a libc `adjtimex`) there is none.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass

TIME_ERROR = 5  # adjtimex's return value when the clock is not synchronised
STA_NANO = 0x2000  # offset and jitter are in nanoseconds rather than microseconds


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h>; natural alignment gives the kernel's padding.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class Timex:
    """adjtimex's answer: its return value (the clock state) and the raw fields."""

    state: int
    offset: int
    freq: int
    maxerror: int
    esterror: int
    status: int
    constant: int
    tick: int
    ppsfreq: int
    jitter: int
    shift: int
    stabil: int
    jitcnt: int
    calcnt: int
    errcnt: int
    stbcnt: int
    tai: int


def libc_adjtimex() -> Callable[[], Timex] | None:
    """A reader bound to this libc's `adjtimex`, or None where there is none."""
    try:
        # The process's own symbols, libc's among them; find_library would run
        # ldconfig in a subprocess every time an exporter is built.
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.adjtimex
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.POINTER(_Timex)]
    function.restype = ctypes.c_int

    def read() -> Timex:
        buf = _Timex()  # modes 0: read, change nothing
        state = function(ctypes.byref(buf))
        if state < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"adjtimex: {os.strerror(errno)}")
        fields = {n: int(getattr(buf, n)) for n in Timex.__dataclass_fields__ if n != "state"}
        return Timex(state=state, **fields)

    return read
