"""Remediation for a flapping alert: no more runs planned than its budget.

The guardrails already keep any alert from *acting* past a playbook's budget
(`attempt_budget`: `max_attempts` started attempts per target per `window`;
`cooldown` between them). But each firing still plans a run, and a run the
guardrails block, while its alert fires, escalates on the alert's routes: a
flapping alert would page people once per firing through its blocked runs,
around the one notice flapping sends. So a state change of a flapping alert
(the flapping planner's verdict in the tally) plans a run only while fewer than
`max_attempts` runs of that playbook on that target were planned in its window
— blocked ones included. An alert that is not flapping plans as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from alert_webhook.db.schema import remediation_runs
from alert_webhook.remediation.playbooks import Playbook


def within_budget(
    conn: Connection, book: Playbook, target: str, at: float, planning: Sequence[Any]
) -> bool:
    """Whether one more run of `book` on `target` planned at `at` stays within
    `max_attempts` per `window`, counting the runs on record and `planning` (the
    rows of this batch, not yet written: NewRun tuples)."""
    since = at - book.window
    runs = remediation_runs.c
    recorded = conn.execute(
        select(func.count()).where(
            runs.playbook == book.name, runs.target == target, runs.planned_at > since
        )
    ).scalar_one()
    batch = sum(
        1
        for r in planning
        if r.playbook == book.name and r.target == target and r.planned_at > since
    )
    return int(recorded) + batch < book.max_attempts
