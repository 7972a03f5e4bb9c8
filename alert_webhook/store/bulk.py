"""Fixed statements run over many rows with little per-row Python.

SQLAlchemy's executemany processes every row's parameters (`construct_params`)
and, for RETURNING, pages them through its insertmanyvalues machinery: for
hundreds of alerts per batch that is most of the time spent recording them.
These helpers compile a statement once for the dialect and hand the rows to
the driver as they are. The JSON of label maps is written by hand for the same
reason (json.dumps builds a new encoder per call).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection, Dialect, Row

_quote = json.encoder.encode_basestring_ascii


def dumps_str_map(value: Mapping[str, str]) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"))` for str → str maps."""
    return "{" + ",".join([_quote(k) + ":" + _quote(v) for k, v in sorted(value.items())]) + "}"


class Bulk:
    """An executemany of a fixed statement that skips SQLAlchemy's per-row parameter
    processing: compiled once for the dialect, rows handed to the driver as they are."""

    def __init__(self, stmt: Any, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if self.order is not None:  # qmark (SQLite): tuples in bind order
            conn.exec_driver_sql(self.sql, [tuple(r[k] for k in self.order) for r in rows])
        else:  # named (psycopg): the dicts themselves
            conn.exec_driver_sql(self.sql, rows)


class Returning:
    """A multi-row `INSERT … VALUES (…), (…) … RETURNING` of a fixed statement, in
    chunks, for positional drivers (SQLite); other drivers get SQLAlchemy's
    executemany. Rows come back in no particular order, so callers match them by
    key; or, with `ordered`, in the order given: SQLite hands the rows of one
    INSERT ascending rowids in VALUES order, so sorting by the returned
    autoincrement id (the first column) restores it (other dialects: the
    statement's `sort_by_parameter_order`). The statement may have no bound
    parameters outside its VALUES group."""

    chunk = 500  # rows per statement: far below SQLite's 32766 parameters

    def __init__(
        self, stmt: Any, dialect: Dialect, keys: Sequence[str], ordered: bool = False
    ) -> None:
        self.stmt = stmt
        self.ordered = ordered
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.order: Sequence[str] | None = None
        if compiled.positional:
            head, sep, rest = str(compiled).partition(" VALUES (")
            group, _, tail = rest.partition(")")
            order = compiled.positiontup or []
            if not sep or group.count("?") != len(order) or "?" in tail:
                raise ValueError(f"not a single-row INSERT with only VALUES parameters: {stmt}")
            self.order = list(order)
            self._head, self._group, self._tail = head + " VALUES ", f"({group})", tail
            self._sql: dict[int, str] = {}

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> list[Row[Any]]:
        if self.order is None:
            return list(conn.execute(self.stmt, rows).all())
        out: list[Row[Any]] = []
        order = self.order
        for start in range(0, len(rows), self.chunk):
            part = rows[start : start + self.chunk]
            sql = self._sql.get(len(part))
            if sql is None:
                sql = self._sql[len(part)] = (
                    self._head + ",".join([self._group] * len(part)) + self._tail
                )
            params = tuple([r[k] for r in part for k in order])
            returned = conn.exec_driver_sql(sql, params).all()
            out.extend(sorted(returned, key=lambda r: r[0]) if self.ordered else returned)
        return out
