"""Whole numbers from paths and queries, within what the store can hold.

A number past the stores' integer columns reaches the driver as an overflow
(SQLite) or an out-of-range error (PostgreSQL): a 500 for what is simply a
row that cannot exist. Paths answer 404 for such an id and queries 400.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from alert_webhook.db.schema import MAX_ID


class StoreIdConverter(IntegerConverter):
    """`<int:...>` in a path, matching only ids a store row can have."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def install(app: Flask) -> None:
    """Before the blueprints are registered: their rules take the converter then."""
    app.url_map.converters["int"] = StoreIdConverter


def whole_number(raw: str, low: int, high: int) -> int | None:
    """`raw` as an int in [low, high], or None. ASCII digits only: `str.isdigit`
    also accepts characters such as "²" that `int()` then refuses."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if low <= value <= high else None
