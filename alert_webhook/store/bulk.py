"""Fixed statements run over many rows with little per-row work.

SQLAlchemy's executemany processes every row's parameters (`construct_params`)
and, for RETURNING, pages them through its insertmanyvalues machinery: for
hundreds of alerts per batch that is most of the time spent recording them.
These helpers compile a statement once for the dialect and hand the rows to
the driver as they are. For SQLite an INSERT becomes one multi-row
`VALUES (…), (…)` per chunk: one statement step instead of one per row, and
Python's sqlite3 releases the GIL around every step, so fewer steps also mean
fewer thread switches. The JSON of label maps is written by hand for the same
reason (json.dumps builds a new encoder per call).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection, Dialect, Row

_quote = json.encoder.encode_basestring_ascii
CHUNK = 500  # rows per statement: far below SQLite's 32766 parameters


def dumps_str_map(value: Mapping[str, str]) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"))` for str → str maps."""
    return "{" + ",".join([_quote(k) + ":" + _quote(v) for k, v in sorted(value.items())]) + "}"


class _MultiValues:
    """A single-row positional INSERT rewritten for n rows; None if it is not one
    (other parameters than its VALUES group, or a named paramstyle)."""

    def __init__(self, compiled: Any) -> None:
        head, sep, rest = str(compiled).partition(" VALUES (")
        group, _, tail = rest.partition(")")
        self.order: list[str] = list(compiled.positiontup or [])
        self.ok = bool(sep) and group.count("?") == len(self.order) and "?" not in tail
        self._head, self._group, self._tail = head + " VALUES ", f"({group})", tail
        self._sql: dict[int, str] = {}

    def chunks(self, rows: list[dict[str, Any]]) -> Any:
        order = self.order
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            sql = self._sql.get(len(part))
            if sql is None:
                sql = self._head + ",".join([self._group] * len(part)) + self._tail
                self._sql[len(part)] = sql
            yield sql, tuple([r[k] for r in part for k in order])


class Bulk:
    """A fixed statement without RETURNING over many rows: multi-row VALUES for an
    INSERT on SQLite, the driver's executemany otherwise (rows as they are)."""

    def __init__(self, stmt: Any, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None
        multi = _MultiValues(compiled) if compiled.positional else None
        self._multi = multi if multi is not None and multi.ok else None

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        """Run it; returns the driver's row count (summed over chunks)."""
        if self._multi is not None:
            return sum(conn.exec_driver_sql(sql, p).rowcount for sql, p in self._multi.chunks(rows))
        if self.order is not None:  # qmark (SQLite): tuples in bind order
            params = [tuple(r[k] for k in self.order) for r in rows]
            return conn.exec_driver_sql(self.sql, params).rowcount
        return conn.exec_driver_sql(self.sql, rows).rowcount  # named (psycopg): the dicts


class Returning:
    """A multi-row `INSERT … VALUES (…), (…) … RETURNING` of a fixed statement, in
    chunks, for positional drivers (SQLite); other drivers get SQLAlchemy's
    executemany. Rows come back in no particular order, so callers match them by
    key; or, with `ordered`, in the order given: SQLite hands the rows of one
    INSERT ascending rowids in VALUES order, so sorting by the returned
    autoincrement id (the first column) restores it (other dialects: the
    statement's `sort_by_parameter_order`). The statement may have no bound
    parameters outside its VALUES group."""

    def __init__(
        self, stmt: Any, dialect: Dialect, keys: Sequence[str], ordered: bool = False
    ) -> None:
        self.stmt = stmt
        self.ordered = ordered
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self._multi: _MultiValues | None = None
        if compiled.positional:
            self._multi = _MultiValues(compiled)
            if not self._multi.ok:
                raise ValueError(f"not a single-row INSERT with only VALUES parameters: {stmt}")

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> list[Row[Any]]:
        if self._multi is None:
            return list(conn.execute(self.stmt, rows).all())
        out: list[Row[Any]] = []
        for sql, params in self._multi.chunks(rows):
            returned = conn.exec_driver_sql(sql, params).all()
            out.extend(sorted(returned, key=lambda r: r[0]) if self.ordered else returned)
        return out
