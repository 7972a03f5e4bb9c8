"""Leases: which worker owns a row of a work table, for how long.

A row is *due* when it is pending and its time has come, or in flight past its
lease (its worker died or hung). Claiming is one guarded UPDATE over a batch of
due rows that writes a claim token; a worker then owns a row only while
`claimed_by` holds its token and the row is in flight, and every later change
is an UPDATE guarded by exactly that, checked by rowcount — so replicas sharing
the store never both work one row, and a worker whose lease ran out cannot
overwrite what the next one recorded.

The table needs `id`, `status`, `claimed_by`, `claimed_until` and a due-time
column; the deliveries use it, and any other table of work can. A claim may be
narrowed to some rows (a lane's channels, or all but those): each narrowing gets
its statement, built once. A table whose rows have a rank (the deliveries: their
alert's severity) is claimed by rank first, then by due time, so the most urgent
due row never waits behind a backlog of lesser ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    Table,
    and_,
    bindparam,
    case,
    false,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.bulk import Statement


class Among(NamedTuple):
    """Rows whose `column` is one of `values` (or, with `exclude`, none of them)."""

    column: str = "id"
    values: tuple[str, ...] = ()
    exclude: bool = False


EVERY_ROW = Among()


class Lease:
    def __init__(
        self,
        table: Table,
        dialect: Dialect,
        *,
        pending: str,
        in_flight: str,
        due_at: Column[Any],
        on_claim: Mapping[str, Any] | None = None,
        due_among: Any = None,
        rank: Column[int] | None = None,
        ranks: Sequence[int] = (),
    ) -> None:
        """`rank`: a column claimed in ascending order before the due time, taking
        the values `ranks` (the claim reads each one's due rows off an index on
        status, rank and due time)."""
        self.table, self.pending, self.in_flight, self.due_at = table, pending, in_flight, due_at
        self.rank, self.ranks = rank, tuple(ranks) if rank is not None else ()
        self._dialect = dialect
        # A partial due index's own condition, which every due row meets: said
        # again in the claim so that the index serves it (schema.UNSETTLED).
        self._due_among = [] if due_among is None else [due_among]
        self._on_claim = dict(on_claim or {})
        self._claims: dict[Among, Statement] = {}

    def _claim_statement(self, among: Among) -> Statement:
        """The claim of due rows `among` (all rows when it names no values), built once
        per narrowing: SQLAlchemy (or our Statement) then reuses its compiled form."""
        statement = self._claims.get(among)
        if statement is None:
            c = self.table.c
            now: Any = bindparam("c_now")
            column = c[among.column]
            narrowed = []
            if among.values and among.exclude:
                narrowed = [and_(*(column != value for value in among.values))]
            elif among.values:
                narrowed = [or_(*(column == value for value in among.values))]
            limit: Any = bindparam("c_limit")
            # The most urgent, then oldest, due rows of each kind, each read off the
            # due index in its order and cut at the limit: a claim costs its batch,
            # not the backlog (one sort of every due row per claim made draining a
            # backlog slow in its size). An OR of the kinds would be read whole and
            # sorted. Pending rows are read rank by rank (`rank = r` keeps the due
            # time a range on the index); rows in flight past their lease are few.
            order = self.order()
            (pending, pending_due), (in_flight, lease_over) = self._due_when(now)
            kinds = [
                select(c.id, *self._ranked(self.table), self.due_at)
                .where(c.status == pending, pending_due, *narrowed, *self._due_among, *by_rank)
                .order_by(self.due_at, c.id)
                .limit(limit)
                .subquery()
                for by_rank in self._each_rank()
            ]
            kinds.append(
                select(c.id, *self._ranked(self.table), self.due_at)
                .where(c.status == in_flight, lease_over, *narrowed, *self._due_among)
                .order_by(*order)
                .limit(limit)
                .subquery()
            )
            oldest = union_all(*(select(*k.c) for k in kinds)).subquery()
            due = (
                select(oldest.c.id)
                .order_by(*(oldest.c[col.name] for col in order))
                .limit(limit)
                .scalar_subquery()
            )
            statement = Statement(
                update(self.table)
                .where(c.id.in_(due), self._still_due(now))
                .values(
                    status=self.in_flight,
                    claimed_by=bindparam("c_claim"),
                    claimed_until=bindparam("c_until"),
                    **self._on_claim,
                ),
                self._dialect,
            )
            self._claims[among] = statement
        return statement

    def _ranked(self, table: Any) -> list[Any]:
        """The rank column, of `table` (or a subquery of it), when there is one."""
        return [] if self.rank is None else [table.c[self.rank.name]]

    def _each_rank(self) -> list[list[Any]]:
        """The condition of each rank's subquery (one with none when unranked)."""
        if self.rank is None:
            return [[]]
        return [[self.rank == literal_column(str(int(r)))] for r in self.ranks]

    def order(self) -> list[Any]:
        """The order due rows are claimed in: rank, due time, id."""
        return [*self._ranked(self.table), self.due_at, self.table.c.id]

    def _due_when(self, now: Any) -> tuple[tuple[str, Any], ...]:
        """Each status a due row may have, with when it is due: pending rows once
        their time has come, rows in flight once their lease ran out."""
        return (
            (self.pending, self.due_at <= now),
            (self.in_flight, self.table.c.claimed_until < now),
        )

    def _still_due(self, now: Any) -> Any:
        """The claim's check of each row it takes (another claim may have won it
        meanwhile). A CASE, which no index serves, so that the rows come from the
        id list rather than from another read of every due row."""
        status = self.table.c.status
        return case(*((status == s, when) for s, when in self._due_when(now)), else_=false())

    def owned(self, row_id: Any, claim: Any) -> Any:
        """Rows still held under `claim`; `row_id` and `claim` may be bind parameters."""
        c = self.table.c
        return and_(
            c.id == row_id,
            c.claimed_by == claim,
            c.status == literal_column(f"'{self.in_flight}'"),
        )

    @staticmethod
    def new_claim(worker: str) -> str:
        return f"{worker}:{uuid.uuid4().hex[:12]}"

    def claim(
        self, conn: Connection, now: float, claim: str, seconds: float, limit: int,
        among: Among = EVERY_ROW,
    ) -> int:  # fmt: skip
        """Claim up to `limit` due rows `among` for `seconds` under `claim`; how many
        were won (read them back by their `claimed_by`)."""
        params = {"c_now": now, "c_limit": limit, "c_claim": claim, "c_until": now + seconds}
        return self._claim_statement(among).rowcount(conn, params)

    def update_owned(
        self, conn: Connection, row_id: int, claim: str, values: Mapping[str, Any]
    ) -> bool:
        """Change a row we still own; False when the lease was lost to another worker."""
        stmt = update(self.table).where(self.owned(row_id, claim)).values(**values)
        return conn.execute(stmt).rowcount == 1
