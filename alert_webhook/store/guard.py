"""Driver failures → StoreUnavailable, the one transient error the webhook knows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import OperationalError


class StoreUnavailable(Exception):
    """The store cannot be reached or written right now: a transient failure."""


@contextlib.contextmanager
def guard() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailable(str(exc.orig)) from exc
