"""Bring a store made by an older webhook up to the tables of schema.py.

The schema has only grown: new tables, new nullable columns, new indexes, and
indexes that replaced an older one (`RETIRED`). So start-up needs no migration
history: it creates the missing tables, compares each other table with the live
one, adds the columns, indexes and unique constraints (as unique indexes of the
same name) an older store lacks and drops the retired indexes it still has,
keeping its rows. A missing column that is NOT
NULL without a server default cannot be added to rows that already exist:
then nothing is changed and start-up stops, naming the table and columns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.expression import Executable

logger = logging.getLogger("alert_webhook.store")
# The PostgreSQL advisory lock that start-ups sharing a store take turns on; any
# constant will do that nothing else in the database uses.
_SCHEMA_LOCK = 0x616C_6572_7453_4348


# Indexes an older schema had and a newer one replaced, by table: dropped where
# found, so a store does not keep paying for them on every write.
RETIRED = {
    # Every delivery ever made, by status: then ix_deliveries_unsettled, of the
    # deliveries still to settle only; now ix_deliveries_due_by_severity, which
    # orders those by severity before due time.
    "deliveries": ("ix_deliveries_due", "ix_deliveries_unsettled"),
}

MOVE_ASIDE = "move the old store aside (keep it for reference) and start with a new one"


class StoreOutdated(Exception):
    """The store cannot be brought up to date as it is: the operator must act.
    Its text is the problem and what to do, for one line at start-up."""

    def __init__(self, problem: str, remedy: str = MOVE_ASIDE) -> None:
        super().__init__(f"{problem}; {remedy}")


def _unfillable_problem(unfillable: dict[str, list[str]]) -> str:
    lacks = "; ".join(
        f"table {table} lacks NOT NULL column{'s' if len(names) > 1 else ''} {', '.join(names)}"
        for table, names in unfillable.items()
    )
    return f"{lacks}, which its rows cannot be given"


@dataclass(frozen=True)
class Upgrade:
    """What an older store lacks of the schema."""

    columns: list[Column[object]]
    indexes: list[Index]
    retired: list[tuple[str, str]]  # (table, index) of RETIRED still in the store
    # Unique constraints of a table the store made before them: recording's
    # ON CONFLICT clauses need each, and a unique index of its name serves.
    uniques: list[UniqueConstraint]

    @property
    def unfillable(self) -> dict[str, list[str]]:
        """Table → the missing columns existing rows could not take."""
        found: dict[str, list[str]] = {}
        for column in self.columns:
            if not column.nullable and column.server_default is None:
                found.setdefault(column.table.name, []).append(column.name)
        return found


def missing(conn: Connection, metadata: MetaData) -> Upgrade:
    """The columns and indexes of `metadata`'s tables that the live store lacks
    (a table it lacks whole is left to `create_all`)."""
    live = inspect(conn)
    columns: list[Column[object]] = []
    indexes: list[Index] = []
    retired: list[tuple[str, str]] = []
    uniques: list[UniqueConstraint] = []
    for table in metadata.sorted_tables:
        if not live.has_table(table.name):
            continue
        have = {c["name"] for c in live.get_columns(table.name)}
        columns += [c for c in table.columns if c.name not in have]
        named = {i["name"] for i in live.get_indexes(table.name)}
        indexes += sorted((i for i in table.indexes if i.name not in named), key=_index_name)
        retired += [(table.name, name) for name in RETIRED.get(table.name, ()) if name in named]
        unique = named | {u["name"] for u in live.get_unique_constraints(table.name)}
        uniques += [
            c for c in table.constraints
            if isinstance(c, UniqueConstraint) and c.name not in unique
        ]  # fmt: skip
    return Upgrade(columns, indexes, retired, uniques)


def bring_up_to_date(
    conn: Connection,
    metadata: MetaData,
    backfills: Mapping[tuple[str, str], Executable] | None = None,
) -> None:
    """Create and add what the store lacks and drop its retired indexes (logging
    one line per added column or index and per dropped index), or raise
    StoreOutdated before changing anything when a column cannot be added. An
    added column with a statement in `backfills` (by table and column) is filled
    by it at once.
    Replicas starting at once on PostgreSQL take turns: each looks at the store
    only once the one before has committed, so none adds a column twice."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
    upgrade = missing(conn, metadata)
    if upgrade.unfillable:
        raise StoreOutdated(_unfillable_problem(upgrade.unfillable))
    metadata.create_all(conn)
    for column in upgrade.columns:
        _add_column(conn, column)
        logger.warning("store: added column %s.%s", column.table.name, column.name)
        backfill = (backfills or {}).get((column.table.name, column.name))
        if backfill is not None:
            filled = conn.execute(backfill).rowcount
            logger.warning("store: filled %s.%s of %d rows", column.table.name, column.name,
                           filled)  # fmt: skip
    for index in upgrade.indexes:
        _create_index(conn, index)
        logger.warning("store: added index %s.%s", _table(index).name, index.name)
    for constraint in upgrade.uniques:
        _create_index(conn, _unique_index(constraint))
        logger.warning("store: added unique index %s.%s", _table(constraint).name, constraint.name)
    for table, name in upgrade.retired:
        conn.exec_driver_sql(f"DROP INDEX {conn.dialect.identifier_preparer.quote(name)}")
        logger.warning("store: dropped retired index %s.%s", table, name)


def _create_index(conn: Connection, index: Index) -> None:
    """A unique index that rows an older webhook wrote already break is the
    operator's to settle: which row is right is not the store's to guess."""
    try:
        index.create(conn, checkfirst=True)
    except IntegrityError as exc:
        columns = ", ".join(c.name for c in index.columns)
        raise StoreOutdated(
            f"rows of {_table(index).name} break the unique index {index.name} ({columns})",
            f"correct or remove them, or {MOVE_ASIDE}",
        ) from exc


def _unique_index(constraint: UniqueConstraint) -> Index:
    """A unique index named and made like the constraint, on a copy of its table:
    schema.py's own tables keep the constraint, which new stores are made with."""
    table = _table(constraint).to_metadata(MetaData())
    name = str(constraint.name)  # every constraint of schema.py is named
    return Index(name, *(table.c[c.name] for c in constraint.columns), unique=True)


def _add_column(conn: Connection, column: Column[object]) -> None:
    """`ALTER TABLE … ADD COLUMN` with the type (and default) the dialect gives it."""
    quoted = conn.dialect.identifier_preparer.format_table(column.table)
    spec = CreateColumn(column).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN {spec}")


def _table(item: Index | UniqueConstraint) -> Table:
    assert isinstance(item.table, Table)  # every index and constraint of schema.py is on one
    return item.table


def _index_name(index: Index) -> str:
    return str(index.name)
