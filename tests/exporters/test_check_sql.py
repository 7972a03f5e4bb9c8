"""Database pool checks and SQL scalars on real SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest

from exporters.checks.base import Boundaries


@pytest.fixture
def pool_db(tmp_path):
    path = tmp_path / "app.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE pool (in_use INT, idle INT, max INT, note TEXT)")
        conn.execute("INSERT INTO pool VALUES (3, 5, 10, 'many')")
    return path


def sqlite_pool(check, path, **queries):
    q = {
        "in_use": "SELECT in_use FROM pool",
        "idle": "SELECT idle FROM pool",
        "max": "SELECT max FROM pool",
    }
    return check(kind="db_pool", dsn=f"sqlite:///{path}", queries={**q, **queries})


def test_sqlite_pool_numbers(check, run, pool_db):
    outcome = run(sqlite_pool(check, pool_db))
    assert outcome.category is None, outcome.message
    assert outcome.value("db_pool_connections", state="in_use") == 3
    assert outcome.value("db_pool_connections", state="idle") == 5
    assert outcome.value("db_pool_max_connections") == 10


def test_sqlite_missing_database_is_a_connection_failure_and_is_not_created(check, run, tmp_path):
    missing = tmp_path / "missing.sqlite3"
    outcome = run(sqlite_pool(check, missing))
    assert outcome.category == "connection", outcome.message
    assert not missing.exists()


def test_sqlite_corrupt_file_is_data_integrity(check, run, tmp_path):
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database file at all" * 100)
    assert run(sqlite_pool(check, corrupt)).category == "data_integrity"


def test_non_numeric_result_is_data_integrity(check, run, pool_db):
    outcome = run(sqlite_pool(check, pool_db, idle="SELECT note FROM pool"))
    assert outcome.category == "data_integrity"


def test_empty_result_is_data_integrity(check, run, pool_db):
    outcome = run(sqlite_pool(check, pool_db, max="SELECT max FROM pool WHERE 0"))
    assert outcome.category == "data_integrity"


def test_password_in_dsn_is_refused_at_load(check):
    with pytest.raises(ValueError, match="must not contain a password"):
        check(kind="db_pool", dsn="postgresql://u:secret@h/db", preset="postgresql")


def monitor_env(postgres) -> Boundaries:
    return Boundaries(env={"PGPW": postgres.password})


@pytest.mark.integration
def test_postgres_preset_reports_server_connections(check, run, postgres):
    probe = check(kind="db_pool", dsn=postgres.dsn(), password_env="PGPW", preset="postgresql")
    outcome = run(probe, ctx=monitor_env(postgres))
    assert outcome.category is None, outcome.message
    assert outcome.value("db_pool_max_connections") == 6
    assert outcome.value("db_pool_connections", state="in_use") >= 1  # the probe itself
    assert outcome.value("db_pool_connections", state="idle") >= 0


@pytest.mark.integration
def test_postgres_wrong_password_is_authentication(check, run, postgres):
    probe = check(kind="db_pool", dsn=postgres.dsn(), password_env="PGPW", preset="postgresql")
    outcome = run(probe, ctx=Boundaries(env={"PGPW": "wrong"}))
    assert outcome.category == "authentication", outcome.message


def test_postgres_closed_port_is_connection(check, run, closed_port):
    probe = check(
        kind="db_pool", dsn=f"postgresql://monitor@127.0.0.1:{closed_port}/app", preset="postgresql"
    )
    assert run(probe).category == "connection"


@pytest.mark.integration
def test_postgres_table_without_grant_is_permission(check, run, postgres):
    probe = check(
        kind="queue",
        sql={
            "dsn": postgres.dsn(),
            "password_env": "PGPW",
            "query": "SELECT count(*) FROM secrets",
        },
    )
    outcome = run(probe, ctx=monitor_env(postgres))
    assert outcome.category == "permission", outcome.message


@pytest.mark.integration
def test_postgres_slow_query_is_timeout(check, run, postgres):
    probe = check(
        kind="queue",
        sql={
            "dsn": postgres.dsn(),
            "password_env": "PGPW",
            "query": "SELECT count(*) FROM pg_sleep(5)",
        },
    )
    outcome = run(probe, timeout=1.0, ctx=monitor_env(postgres))
    assert outcome.category == "timeout", outcome.message


@pytest.mark.integration
def test_postgres_out_of_connection_slots_is_resource_exhaustion(check, run, postgres):
    import psycopg

    held = []
    try:
        while True:  # take every non-reserved slot
            try:
                held.append(
                    psycopg.connect(
                        postgres.dsn().replace("monitor@", f"monitor:{postgres.password}@")
                    )
                )
            except psycopg.OperationalError:
                break
        probe = check(kind="db_pool", dsn=postgres.dsn(), password_env="PGPW", preset="postgresql")
        outcome = run(probe, ctx=monitor_env(postgres))
    finally:
        for conn in held:
            conn.close()
    assert held, "could not open any connection"
    assert outcome.category == "resource_exhaustion", outcome.message
