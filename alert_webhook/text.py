"""Text that came from outside (labels, a script's JSON), made safe for one line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str) -> str:
    """Control characters (CR, LF, NUL …) as one space: a header, a subject or a
    name built from outside text never starts a new line, and every store can hold
    it (PostgreSQL's text cannot hold NUL)."""
    return _CONTROL.sub(" ", text)
