"""Queue depth from each place a queue lives, on real peers."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest
from support.procs import free_port, wait_until

from exporters.checks.base import Boundaries


def test_http_json_field(check, run, http_target):
    outcome = run(
        check(kind="queue", http_json={"url": http_target.url("/ok"), "field": "queue.depth"})
    )
    assert outcome.category is None, outcome.message
    assert outcome.value("task_queue_depth", queue="t") == 7


def test_http_json_field_that_is_not_a_number_is_data_integrity(check, run, http_target):
    probe = check(
        kind="queue", http_json={"url": http_target.url("/degraded"), "field": "queue.depth"}
    )
    assert run(probe).category == "data_integrity"


def test_http_json_invalid_document_is_data_integrity(check, run, http_target):
    probe = check(
        kind="queue", http_json={"url": http_target.url("/badjson"), "field": "queue.depth"}
    )
    assert run(probe).category == "data_integrity"


def test_http_json_status_is_classified(check, run, http_target):
    probe = check(kind="queue", http_json={"url": http_target.url("/403"), "field": "queue.depth"})
    assert run(probe).category == "authentication"


def test_sql_scalar_on_sqlite(check, run, tmp_path):
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE jobs (state TEXT)")
        conn.executemany("INSERT INTO jobs VALUES (?)", [("queued",)] * 4 + [("done",)])
    probe = check(
        kind="queue",
        sql={
            "dsn": f"sqlite:///{path}",
            "query": "SELECT count(*) FROM jobs WHERE state = 'queued'",
        },
    )
    outcome = run(probe)
    assert outcome.value("task_queue_depth", queue="t") == 4


@pytest.mark.integration
def test_sql_scalar_on_postgres(check, run, postgres):
    probe = check(
        kind="queue",
        sql={
            "dsn": postgres.dsn(),
            "password_env": "PGPW",
            "query": "SELECT count(*) FROM jobs WHERE state = 'queued'",
        },
    )
    outcome = run(probe, ctx=Boundaries(env={"PGPW": postgres.password}))
    assert outcome.category is None, outcome.message
    assert outcome.value("task_queue_depth", queue="t") == 2


def test_directory_counts_matching_files(check, run, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    for i in range(5):
        (spool / f"task-{i}.json").write_text("{}")
    (spool / "README").write_text("not a task")
    (spool / "sub.json").mkdir()
    outcome = run(check(kind="queue", directory={"path": str(spool), "pattern": "*.json"}))
    assert outcome.value("task_queue_depth", queue="t") == 5


def test_missing_directory_is_a_connection_failure(check, run, tmp_path):
    outcome = run(check(kind="queue", directory={"path": str(tmp_path / "gone")}))
    assert outcome.category == "connection"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    # REDIS_SERVER_BIN, else PATH (the variable scripts/system-deps.sh honours too).
    binary = shutil.which(os.environ.get("REDIS_SERVER_BIN") or "redis-server") or shutil.which(
        "redis-server", path="/usr/bin:/usr/sbin"
    )
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    work = tmp_path_factory.mktemp("redis")
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(work),
        "--requirepass",
        "redis-pw",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket

        wait_until(
            lambda: bool(socket.create_connection(("127.0.0.1", port), 1).close() or True),
            20,
            "redis",
        )
        with socket.create_connection(("127.0.0.1", port), 5) as sock:
            sock.sendall(b"AUTH redis-pw\r\nRPUSH jobs a b c\r\nSET notalist x\r\n")
            data = b""
            while data.count(b"\r\n") < 3:
                data += sock.recv(100)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.integration
def test_redis_list_length(check, run, redis_server):
    probe = check(kind="queue", redis={"port": redis_server, "key": "jobs", "password_env": "RPW"})
    outcome = run(probe, ctx=Boundaries(env={"RPW": "redis-pw"}))
    assert outcome.category is None, outcome.message
    assert outcome.value("task_queue_depth", queue="t") == 3


@pytest.mark.integration
def test_redis_wrong_password_is_authentication(check, run, redis_server):
    probe = check(kind="queue", redis={"port": redis_server, "key": "jobs", "password_env": "RPW"})
    assert run(probe, ctx=Boundaries(env={"RPW": "nope"})).category == "authentication"
    no_password = check(kind="queue", redis={"port": redis_server, "key": "jobs"})
    assert run(no_password).category == "authentication"


@pytest.mark.integration
def test_redis_wrong_type_is_data_integrity(check, run, redis_server):
    probe = check(
        kind="queue", redis={"port": redis_server, "key": "notalist", "password_env": "RPW"}
    )
    assert run(probe, ctx=Boundaries(env={"RPW": "redis-pw"})).category == "data_integrity"


def test_redis_closed_port_is_connection(check, run, closed_port):
    assert (
        run(check(kind="queue", redis={"port": closed_port, "key": "jobs"})).category
        == "connection"
    )


def test_redis_secret_must_be_in_the_environment_at_load(tmp_path):
    from exporters.probe_config import load_probe_file
    from toolkit.config import ConfigError

    path = tmp_path / "p.yml"
    path.write_text(
        "checks: [{name: r, kind: queue, redis: {key: jobs, password_env: REDIS_PW}}]\n"
    )
    with pytest.raises(ConfigError, match="REDIS_PW is not set"):
        load_probe_file(path, {})
    assert load_probe_file(path, {"REDIS_PW": "x"})
