"""The drills on record: each drill with its scenarios' results, written in one
transaction, and what the metrics and the drills page read back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Dialect, func, insert, select
from sqlalchemy.engine import Connection

from alert_webhook.db.schema import drill_results, drills
from alert_webhook.db.transactions import Transactions
from alert_webhook.drills.record import DrillReport


@dataclass(frozen=True)
class Result:
    scenario: str
    ok: bool
    started_at: float
    finished_at: float
    recovery_seconds: float | None
    detail: str


@dataclass(frozen=True)
class Drill:
    id: int
    started_at: float
    finished_at: float
    trigger: str
    results: Sequence[Result]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id, "started_at": self.started_at, "finished_at": self.finished_at,
            "trigger": self.trigger, "ok": self.ok,
            "results": [r.__dict__ for r in self.results],
        }  # fmt: skip


@dataclass(frozen=True)
class ScenarioSummary:
    """One scenario over all its drills: what the metrics publish."""

    scenario: str
    last_run_at: float
    last_run_ok: bool
    last_success_at: float | None
    last_success_recovery_seconds: float | None
    passed: int
    failed: int


def _result(row: dict[str, object]) -> Result:
    return Result(
        scenario=str(row["scenario"]), ok=bool(row["ok"]),
        started_at=float(row["started_at"]),  # type: ignore[arg-type]
        finished_at=float(row["finished_at"]),  # type: ignore[arg-type]
        recovery_seconds=row["recovery_seconds"],  # type: ignore[arg-type]
        detail=str(row["detail"]),
    )  # fmt: skip


class Drills:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx

    def add(self, report: DrillReport, now: float) -> int:
        """Store the drill and every result of it in one transaction; its id."""
        with self.tx.write() as conn:
            drill_id = conn.execute(
                insert(drills)
                .values(started_at=report.started_at, finished_at=report.finished_at,
                        trigger=report.trigger, recorded_at=now)
                .returning(drills.c.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                insert(drill_results),
                [{"drill_id": drill_id, **r.model_dump(), "ok": int(r.ok)} for r in report.results],
            )
        return int(drill_id)

    def recent(self, limit: int = 50) -> list[Drill]:
        """The newest drills first, each with its results in the order they ran."""
        with self.tx.read() as conn:
            newest = drills.c.finished_at.desc(), drills.c.id.desc()
            heads = conn.execute(select(drills).order_by(*newest).limit(limit)).mappings().all()
            by_drill = _results_of(conn, [h["id"] for h in heads])
        return [
            Drill(
                h["id"], h["started_at"], h["finished_at"], h["trigger"], by_drill.get(h["id"], [])
            )
            for h in heads
        ]

    def summaries(self) -> list[ScenarioSummary]:
        """Each scenario's newest run, newest success and counts, by name."""
        r = drill_results.c
        with self.tx.read() as conn:
            counts = conn.execute(
                select(r.scenario, r.ok, func.count()).group_by(r.scenario, r.ok)
            ).all()
            newest = _newest(conn, None)
            passed = _newest(conn, True)
        tally: dict[str, dict[bool, int]] = {}
        for scenario, ok, count in counts:
            tally.setdefault(scenario, {})[bool(ok)] = int(count)
        return [
            ScenarioSummary(
                scenario=name,
                last_run_at=newest[name].finished_at,
                last_run_ok=newest[name].ok,
                last_success_at=passed[name].finished_at if name in passed else None,
                last_success_recovery_seconds=(
                    passed[name].recovery_seconds if name in passed else None
                ),
                passed=tally[name].get(True, 0),
                failed=tally[name].get(False, 0),
            )
            for name in sorted(newest)
        ]


def _results_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[Result]]:
    if not ids:
        return {}
    rows = conn.execute(
        select(drill_results).where(drill_results.c.drill_id.in_(ids)).order_by(drill_results.c.id)
    ).mappings()
    found: dict[int, list[Result]] = {}
    for row in rows:
        found.setdefault(int(row["drill_id"]), []).append(_result(dict(row)))
    return found


def _newest(conn: Connection, ok: bool | None) -> dict[str, Result]:
    """Each scenario's newest result (of those with `ok`, when given)."""
    r = drill_results.c
    latest = select(r.scenario, func.max(r.id).label("id")).group_by(r.scenario)
    if ok is not None:
        latest = latest.where(r.ok == int(ok))
    ids = latest.subquery()
    rows = conn.execute(select(drill_results).join(ids, r.id == ids.c.id)).mappings()
    return {str(row["scenario"]): _result(dict(row)) for row in rows}
