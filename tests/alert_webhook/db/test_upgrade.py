"""A store made by an older webhook is brought up to date at start-up: missing
nullable columns and indexes are added with the rows kept; a missing column that
existing rows could not fill stops start-up with one line. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.exc import IntegrityError
from support.procs import free_port
from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.cli.serve import EXIT_STORE_OUTDATED, main
from alert_webhook.db.schema import (
    alert_events,
    alerts,
    deliveries,
    incidents,
    metadata,
    remediation_runs,
)
from alert_webhook.db.upgrade import StoreOutdated
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import SqlStore, open_store

pytestmark = pytest.mark.integration

ACTING = next(i for i in remediation_runs.indexes if i.name == "ux_remediation_acting")


@pytest.fixture
def store(any_store: SqlStore) -> Iterator[SqlStore]:
    """The store; afterwards its incidents table, acting index and dropped tables
    are made anew, so a failed test leaves the session's PostgreSQL whole."""
    yield any_store
    _renew(any_store)


def _renew(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        incidents.drop(conn, checkfirst=True)
        conn.execute(remediation_runs.delete())
        metadata.create_all(conn)
        ACTING.create(conn, checkfirst=True)


def _open_incident(store: SqlStore) -> int:
    body = json.dumps(make_notification()).encode()
    store.record_notification(parse_notification(body), body, 100.0, RECORDING)
    with store.tx.read() as conn:
        return conn.execute(select(incidents.c.alert_id)).scalar_one()


def _age(conn: Connection, *columns: str) -> None:
    """Make the store look like one from before these incidents columns."""
    for column in columns:
        conn.exec_driver_sql(f"ALTER TABLE incidents DROP COLUMN {column}")


def _columns(store: SqlStore, table: str) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns(table)}


def _indexes(store: SqlStore, table: str) -> set[str | None]:
    return {i["name"] for i in inspect(store.engine).get_indexes(table)}


def test_missing_columns_and_indexes_come_back_and_rows_stay(store: SqlStore, caplog) -> None:
    alert_id = _open_incident(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_incidents_closed")
        ACTING.drop(conn)
        _age(conn, "silence_id", "handled_note")
    caplog.set_level(logging.INFO, logger="alert_webhook.store")

    store.create_schema()

    assert {"silence_id", "handled_note"} <= _columns(store, "incidents")
    assert "ix_incidents_closed" in _indexes(store, "incidents")
    assert "ux_remediation_acting" in _indexes(store, "remediation_runs")
    changes = sorted(r.getMessage() for r in caplog.records if r.name == "alert_webhook.store")
    assert changes == [
        "store: added column incidents.handled_note",
        "store: added column incidents.silence_id",
        "store: added index incidents.ix_incidents_closed",
        "store: added index remediation_runs.ux_remediation_acting",
    ]
    shown = store.incidents.find(alert_id)
    assert shown is not None and shown["severity"] == "critical"
    assert (shown["silence_id"], shown["handled_note"], shown["closed_at"]) == (None, None, None)


def _start_run(conn: Connection, alert_id: int, finished_at: float | None) -> None:
    event_id = conn.execute(select(alert_events.c.id)).scalar_one()
    run = {"alert_id": alert_id, "event_id": event_id, "target": "job=demo", "status": "x",
           "next_attempt_at": 0.0, "planned_at": 0.0, "started_at": 1.0,
           "finished_at": finished_at}  # fmt: skip
    playbook = f"book-{conn.execute(select(func.count()).select_from(remediation_runs)).scalar()}"
    conn.execute(remediation_runs.insert().values({**run, "playbook": playbook}))


def test_the_restored_partial_index_refuses_only_a_second_acting_run(store: SqlStore) -> None:
    alert_id = _open_incident(store)
    with store.engine.begin() as conn:
        ACTING.drop(conn)
    store.create_schema()

    with store.engine.begin() as conn:
        _start_run(conn, alert_id, finished_at=2.0)
        _start_run(conn, alert_id, finished_at=None)
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        _start_run(conn, alert_id, finished_at=None)


def test_rows_that_break_a_missing_unique_index_stop_start_up_naming_it(
    store: SqlStore,
) -> None:
    alert_id = _open_incident(store)
    with store.engine.begin() as conn:
        ACTING.drop(conn)
        _start_run(conn, alert_id, finished_at=None)
        _start_run(conn, alert_id, finished_at=None)

    with pytest.raises(StoreOutdated) as refused:
        store.create_schema()

    assert str(refused.value) == (
        "rows of remediation_runs break the unique index ux_remediation_acting (target); "
        "correct or remove them, or move the old store aside (keep it for reference) "
        "and start with a new one"
    )
    assert "ux_remediation_acting" not in _indexes(store, "remediation_runs")


def _without_unique_event_constraint(conn: Connection) -> None:
    """Make alert_events look as if its table had been made before uq_alert_event."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE alert_events DROP CONSTRAINT uq_alert_event")
        return
    # SQLite cannot drop a constraint: the table is made anew without it.
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alert_events'"
    ).scalar_one()
    aged = re.sub(r",\s*CONSTRAINT uq_alert_event UNIQUE \([^)]*\)", "", sql)
    assert aged != sql, "the constraint was in the table's SQL"
    conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
    conn.exec_driver_sql(aged.replace("alert_events", "alert_events_aged", 1))
    conn.exec_driver_sql("INSERT INTO alert_events_aged SELECT * FROM alert_events")
    conn.exec_driver_sql("DROP TABLE alert_events")
    conn.exec_driver_sql("ALTER TABLE alert_events_aged RENAME TO alert_events")
    conn.exec_driver_sql("PRAGMA foreign_keys = ON")


def test_a_missing_unique_constraint_comes_back_so_repeats_still_record_nothing(
    store: SqlStore, caplog
) -> None:
    # Recording relies on it: a state change is inserted ON CONFLICT (alert_id,
    # status) DO NOTHING, which a store without it refuses outright.
    _open_incident(store)
    with store.engine.begin() as conn:
        _without_unique_event_constraint(conn)
    caplog.set_level(logging.INFO, logger="alert_webhook.store")
    try:
        store.create_schema()

        _open_incident(store)  # the same notification again: its state change is known
        with store.tx.read() as conn:
            assert conn.execute(select(func.count()).select_from(alert_events)).scalar() == 1
        changes = [r.getMessage() for r in caplog.records if r.name == "alert_webhook.store"]
        assert changes == ["store: added unique index alert_events.uq_alert_event"]
    finally:
        with store.engine.begin() as conn:  # whatever happened, the session's store is whole
            conn.exec_driver_sql(
                "CREATE UNIQUE INDEX IF NOT EXISTS uq_alert_event"
                " ON alert_events (alert_id, status)"
            )


def test_a_retired_index_is_replaced_by_its_successor(store: SqlStore, caplog) -> None:
    # A store from before the due index held only unsettled deliveries.
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_deliveries_due_by_severity")
        conn.exec_driver_sql(
            "CREATE INDEX ix_deliveries_due ON deliveries (status, next_attempt_at)"
        )
    caplog.set_level(logging.INFO, logger="alert_webhook.store")

    store.create_schema()

    assert {"ix_deliveries_due_by_severity", "ix_deliveries_due"} & _indexes(
        store, "deliveries"
    ) == {"ix_deliveries_due_by_severity"}
    changes = sorted(r.getMessage() for r in caplog.records if r.name == "alert_webhook.store")
    assert changes == [
        "store: added index deliveries.ix_deliveries_due_by_severity",
        "store: dropped retired index deliveries.ix_deliveries_due",
    ]


def test_a_backlog_from_before_severity_ranks_is_ranked_by_its_alerts(
    store: SqlStore, caplog
) -> None:
    # A store from before deliveries were claimed by severity: its due index is
    # by status and due time, and its rows have no rank. Its backlog keeps its
    # place: the added column is filled from each delivery's alert.
    body = json.dumps(make_notification(make_alert("h", severity="high"), make_alert("c"))).encode()
    store.record_notification(parse_notification(body), body, 100.0, RECORDING)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_deliveries_due_by_severity")
            conn.exec_driver_sql("ALTER TABLE deliveries DROP COLUMN severity_rank")
            conn.exec_driver_sql(
                "CREATE INDEX ix_deliveries_unsettled ON deliveries (status, next_attempt_at)"
                " WHERE status IN ('pending', 'in_flight', 'held')"
            )
        caplog.set_level(logging.INFO, logger="alert_webhook.store")
        store.create_schema()
    finally:
        store.create_schema()  # the session's PostgreSQL stays whole whatever happened

    changes = sorted(r.getMessage() for r in caplog.records if r.name == "alert_webhook.store")
    assert changes == [
        "store: added column deliveries.severity_rank",
        "store: added index deliveries.ix_deliveries_due_by_severity",
        "store: dropped retired index deliveries.ix_deliveries_unsettled",
        "store: filled deliveries.severity_rank of 3 rows",  # sms + email of c, email of h
    ]
    with store.tx.read() as conn:
        ranks = conn.execute(
            select(deliveries.c.channel, alerts.c.severity, deliveries.c.severity_rank)
            .join(alerts, alerts.c.id == deliveries.c.alert_id)
            .where(deliveries.c.status == "pending")
        ).all()
    assert sorted(ranks) == [("email", "critical", 0), ("email", "high", 1), ("sms", "critical", 0)]
    (first, *_) = store.outbox.claim(100.0, "w1", lease=30, limit=1)
    assert first.severity == "critical"


def test_an_up_to_date_store_is_left_as_it_is(store: SqlStore, caplog) -> None:
    caplog.set_level(logging.INFO, logger="alert_webhook.store")
    with store.engine.begin() as conn:
        _age(conn, "silenced_by")
    store.create_schema()
    caplog.clear()

    store.create_schema()

    assert [r for r in caplog.records if r.name == "alert_webhook.store"] == []


def test_a_missing_column_rows_cannot_fill_stops_start_up_in_one_line(
    store: SqlStore, tmp_path: Path, capsys
) -> None:
    _open_incident(store)
    with store.engine.begin() as conn:
        _age(conn, "severity", "silence_id")
        conn.exec_driver_sql("DROP TABLE failover_state")
    url = store.engine.url.render_as_string(hide_password=False)
    config = tmp_path / "webhook.yml"
    config.write_text(yaml.safe_dump({"store": {"url": url}}))
    # The port is taken: a store wrongly accepted ends in exit 1, not in serving.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["--config", str(config), f"--bind=127.0.0.1:{port}"], env={})

    assert status == EXIT_STORE_OUTDATED
    [line] = capsys.readouterr().err.strip().splitlines()
    redacted = store.engine.url.render_as_string(hide_password=True)
    assert line == (
        f"alert_webhook: store {redacted} cannot be brought up to date: table incidents "
        "lacks NOT NULL column severity, which its rows cannot be given; "
        "move the old store aside (keep it for reference) and start with a new one"
    )
    # Nothing changed half-way: no column added, no table created.
    assert "silence_id" not in _columns(store, "incidents")
    assert not inspect(store.engine).has_table("failover_state")


def test_replicas_starting_at_once_on_postgresql_upgrade_it_once(pg_url: str, caplog) -> None:
    replicas = [open_store(pg_url) for _ in range(2)]
    try:
        with replicas[0].engine.begin() as conn:
            _age(conn, "silence_id", "silenced_until", "silenced_by")
        caplog.set_level(logging.INFO, logger="alert_webhook.store")
        barrier = threading.Barrier(len(replicas))
        failures: list[BaseException] = []

        def start(store: SqlStore) -> None:
            barrier.wait()
            try:
                store.create_schema()
            except Exception as exc:  # noqa: BLE001 - the test reports what a replica met
                failures.append(exc)

        threads = [threading.Thread(target=start, args=(r,)) for r in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        added = [r.getMessage() for r in caplog.records if r.name == "alert_webhook.store"]
        assert sorted(added) == [
            "store: added column incidents.silence_id",
            "store: added column incidents.silenced_by",
            "store: added column incidents.silenced_until",
        ]
    finally:
        _renew(replicas[0])
        for replica in replicas:
            replica.dispose()
