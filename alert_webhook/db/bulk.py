"""Fixed statements run over many rows with little per-row work.

SQLAlchemy's executemany processes every row's parameters (`construct_params`)
and, for RETURNING, pages them through its insertmanyvalues machinery: for
hundreds of alerts per batch that is most of the time spent recording them.
These helpers compile a statement once for the dialect and hand the rows to
the driver as they are. For SQLite an INSERT becomes one multi-row
`VALUES (…), (…)` per chunk: one statement step instead of one per row, and
Python's sqlite3 releases the GIL around every step, so fewer steps also mean
fewer thread switches. The JSON of label maps is written by hand for the same
reason (json.dumps builds a new encoder per call), and kept for maps seen lately.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError

_quote = json.encoder.encode_basestring_ascii
CHUNK = 500  # rows per statement: far below SQLite's 32766 parameters


# Label sets whose JSON text is kept: Alertmanager sends the same ones again and
# again (each repeat of a group's notification, each alert's resolved copy).
KEPT_MAPS = 8192
# IN-list lengths whose statement text a `Statement` keeps (batches vary in size).
KEPT_LENGTHS = 64


def dumps_str_map(value: Mapping[str, str]) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"))` for str → str maps.

    A map seen lately is looked up by its items instead (about a third of the
    cost of writing it; two per alert, so ~0.2 ms per 100-alert notification)."""
    return _dumps_items(tuple(value.items()))


@functools.lru_cache(maxsize=KEPT_MAPS)
def _dumps_items(items: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join([_quote(k) + ":" + _quote(v) for k, v in sorted(items)]) + "}"


def kept_maps_used() -> int:
    """How often the kept label maps were asked for since they were last forgotten."""
    info = _dumps_items.cache_info()
    return info.hits + info.misses


def forget_kept_maps() -> None:
    """Drop the kept label maps (~1 KB each, ~8 MiB when full after a storm): the
    webhook's start-up does it once a burst has drained, so a storm's label sets do
    not stay in memory until the next one (issue 27)."""
    _dumps_items.cache_clear()


Rows = Sequence[Sequence[Any]] | Sequence[Mapping[str, Any]]


def _driver(
    conn: Connection, sql: str, params: Any, many: bool = False, fetch: bool = False
) -> Any:
    """Run on the DBAPI cursor of `conn`'s transaction (SQLAlchemy's statement
    bookkeeping costs ~25 us a call); driver errors become SQLAlchemy's, so the
    store's guard still turns an outage into StoreUnavailable."""
    cursor = conn.connection.cursor()
    try:
        (cursor.executemany if many else cursor.execute)(sql, params)
        return cursor.fetchall() if fetch else cursor.rowcount
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def _tuples(rows: Rows, keys: Sequence[str]) -> list[Sequence[Any]]:
    """Rows as tuples in `keys` order (callers may build either)."""
    if rows and isinstance(rows[0], Mapping):
        return [tuple(r[k] for k in keys) for r in rows]  # type: ignore[call-overload]
    return list(rows)  # type: ignore[arg-type]


class _Positional:
    """A compiled positional statement: the permutation from `keys` order to its
    bind order and, for a single-row INSERT with no other parameters, its text
    rewritten for n rows."""

    def __init__(self, compiled: Any, keys: Sequence[str]) -> None:
        self.sql = str(compiled)
        order = list(compiled.positiontup or [])
        self.perm = None if order == list(keys) else [list(keys).index(k) for k in order]
        head, sep, rest = self.sql.partition(" VALUES (")
        group, _, tail = rest.partition(")")
        self.multi = bool(sep) and group.count("?") == len(order) and "?" not in tail
        self._head, self._group, self._tail = head + " VALUES ", f"({group})", tail
        self._sql: dict[int, str] = {}

    def ordered(self, rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
        perm = self.perm
        return rows if perm is None else [tuple([r[i] for i in perm]) for r in rows]

    def chunks(self, rows: list[Sequence[Any]]) -> Any:
        for start in range(0, len(rows), CHUNK):
            part = self.ordered(rows[start : start + CHUNK])
            sql = self._sql.get(len(part))
            if sql is None:
                sql = self._head + ",".join([self._group] * len(part)) + self._tail
                self._sql[len(part)] = sql
            yield sql, tuple(chain.from_iterable(part))


class Bulk:
    """A fixed statement without RETURNING over many rows (tuples in `keys` order,
    or mappings): multi-row VALUES for an INSERT on SQLite, the driver's
    executemany otherwise."""

    def __init__(self, stmt: Any, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.keys = tuple(keys)
        self.sql = str(compiled)
        self._pos = _Positional(compiled, keys) if compiled.positional else None

    def __call__(self, conn: Connection, rows: Rows) -> int:
        """Run it; returns the driver's row count (summed over chunks)."""
        tuples = _tuples(rows, self.keys)
        pos = self._pos
        if pos is None:  # named (psycopg): mappings
            return conn.exec_driver_sql(
                self.sql, [dict(zip(self.keys, r, strict=True)) for r in tuples]
            ).rowcount
        if pos.multi:
            return sum(_driver(conn, sql, p) for sql, p in pos.chunks(tuples))
        return int(_driver(conn, self.sql, pos.ordered(tuples), many=True))


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
        self.keys = tuple(keys)
        self.ordered = ordered
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self._pos = _Positional(compiled, keys) if compiled.positional else None
        if self._pos is not None and not self._pos.multi:
            raise ValueError(f"not a single-row INSERT with only VALUES parameters: {stmt}")

    def __call__(self, conn: Connection, rows: Rows) -> list[Sequence[Any]]:
        """The RETURNING rows, as tuples in the clause's column order."""
        tuples = _tuples(rows, self.keys)
        if self._pos is None:
            mappings = [dict(zip(self.keys, r, strict=True)) for r in tuples]
            return [tuple(r) for r in conn.execute(self.stmt, mappings)]
        out: list[Sequence[Any]] = []
        for sql, params in self._pos.chunks(tuples):
            returned = _driver(conn, sql, params, fetch=True)
            out.extend(sorted(returned, key=lambda r: r[0]) if self.ordered else returned)
        return out


class Statement:
    """A fixed statement with named parameters, run on the DBAPI cursor for
    positional drivers (SQLite) and through SQLAlchemy otherwise. Its expanding
    parameters (`bindparam(..., expanding=True)`, an IN list) are spelled out as
    one placeholder per value, the text kept per list length: SQLAlchemy
    rewrites such a statement on every execution (~0.1 ms each)."""

    def __init__(self, stmt: Any, dialect: Dialect) -> None:
        self.stmt = stmt
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup or []) if compiled.positional else None
        self.defaults = dict(compiled.params)  # its literal values, bound as parameters
        self._expanding = frozenset(
            name for name in self.order or () if f"__[POSTCOMPILE_{name}]" in self.sql
        )
        self._expanded: dict[tuple[int, ...], str] = {}

    def _values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        merged = self.defaults | dict(params)
        if not self._expanding:
            return tuple([merged[k] for k in self.order or ()])
        values: list[Any] = []
        for k in self.order or ():
            if k in self._expanding:
                values.extend(merged[k])
            else:
                values.append(merged[k])
        return tuple(values)

    def _text(self, params: Mapping[str, Any]) -> str:
        """The SQL for these parameters: with each IN list spelled out for its length."""
        if not self._expanding:
            return self.sql
        names = sorted(self._expanding)
        lengths = tuple(len(params[name]) for name in names)
        sql = self._expanded.get(lengths)
        if sql is None:
            if len(self._expanded) >= KEPT_LENGTHS:
                self._expanded.clear()
            sql = self.sql
            for name, length in zip(names, lengths, strict=True):
                # An empty list: SQLAlchemy's own empty-set form, which matches nothing.
                spelled = (
                    ",".join(["?"] * length) if length else "SELECT 1 FROM (SELECT 1) WHERE 1!=1"
                )
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", spelled)
            self._expanded[lengths] = sql
        return sql

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        if self.order is None:
            return int(conn.execute(self.stmt, dict(params)).rowcount)
        return int(_driver(conn, self._text(params), self._values(params)))

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """The rows a query returns, as tuples in its column order."""
        if self.order is None:
            return [tuple(r) for r in conn.execute(self.stmt, dict(params))]
        return list(_driver(conn, self._text(params), self._values(params), fetch=True))

    def mappings(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.order is None:
            return [dict(r) for r in conn.execute(self.stmt, dict(params)).mappings()]
        cursor = conn.connection.cursor()
        sql, values = self._text(params), self._values(params)
        try:
            cursor.execute(sql, values)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except conn.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, values, exc, conn.dialect.loaded_dbapi.Error) from exc
        finally:
            cursor.close()


def insert_for(dialect: Dialect) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (SQLAlchemy's generic one has not)."""
    return postgresql.insert if dialect.name == "postgresql" else sqlite.insert
