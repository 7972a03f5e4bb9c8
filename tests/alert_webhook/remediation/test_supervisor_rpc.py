"""restart_service's supervisor backend against a real supervisord on a unix socket,
with a login, restarted through its real XML-RPC."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from support.procs import free_port, wait_until

from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.restart_service import RestartServiceParams, run
from alert_webhook.remediation.actions.unix_http import UnixTransport

USER, PASSWORD = "remediation", "s3cret:with@odd/chars"
ENV = {"SUP_URL": "", "SUP_USER": USER, "SUP_PASSWORD": PASSWORD}


def _conf(tmp_path: Path, sock: Path, port: int) -> str:
    sleeper = f"{sys.executable} -c 'import time; time.sleep(300)'"
    return textwrap.dedent(
        f"""
        [unix_http_server]
        file = {sock}
        chmod = 0700
        username = {USER}
        password = {PASSWORD}
        [inet_http_server]
        port = 127.0.0.1:{port}
        username = {USER}
        password = {PASSWORD}
        [supervisord]
        logfile = {tmp_path}/supervisord.log
        pidfile = {tmp_path}/supervisord.pid
        nodaemon = true
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        [program:worker]
        command = {sleeper}
        startsecs = 0
        autorestart = false
        [program:stopped]
        command = {sleeper}
        startsecs = 0
        autostart = false
        [program:dies]
        command = {sys.executable} -c 'raise SystemExit(1)'
        startsecs = 1
        startretries = 0
        autostart = false
        """
    )


def _proxy(sock: Path) -> xmlrpc.client.ServerProxy:
    login = f"{USER}:{quote(PASSWORD, safe='')}"
    return xmlrpc.client.ServerProxy(
        f"http://{login}@localhost/RPC2", transport=UnixTransport(str(sock), 10)
    )


@pytest.fixture
def supervisord(tmp_path: Path) -> Iterator[Path]:
    """A running supervisord with a login, on a unix socket and on a loopback port
    (`port` in the socket's folder); yields its socket."""
    sock = tmp_path / "s.sock"
    conf = tmp_path / "supervisord.conf"
    port = free_port()
    (tmp_path / "port").write_text(str(port))
    conf.write_text(_conf(tmp_path, sock, port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with _proxy(sock) as proxy:
            wait_until(
                lambda: proxy.supervisor.getProcessInfo("worker")["statename"] == "RUNNING",
                30,
                "supervisord to start worker",
            )
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _params(program: str, **supervisor: str) -> RestartServiceParams:
    options = {
        "url_from_env": "SUP_URL",
        "username_from_env": "SUP_USER",
        "password_from_env": "SUP_PASSWORD",
        **supervisor,
    }
    return RestartServiceParams.model_validate(
        {"backend": "supervisor", "service": program, "supervisor": options}
    )


def _env(sock: Path, **changes: str) -> dict[str, str]:
    return {**ENV, "SUP_URL": f"unix://{sock}", **changes}


def _pid(sock: Path, program: str) -> int:
    with _proxy(sock) as proxy:
        return int(proxy.supervisor.getProcessInfo(program)["pid"])


@pytest.mark.integration
def test_a_running_program_is_stopped_and_started_again(supervisord: Path) -> None:
    old = _pid(supervisord, "worker")
    result = run(_params("worker"), 30, Boundaries(env=_env(supervisord)))
    new = _pid(supervisord, "worker")
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    assert new not in (0, old)
    assert result.output == f"worker: RUNNING -> RUNNING (pid {new})\n"
    assert result.status is None


@pytest.mark.integration
def test_supervisord_on_a_tcp_port_works_the_same(supervisord: Path) -> None:
    old = _pid(supervisord, "worker")
    port = (supervisord.parent / "port").read_text()
    env = _env(supervisord, SUP_URL=f"http://127.0.0.1:{port}")
    result = run(_params("worker"), 30, Boundaries(env=env))
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    assert _pid(supervisord, "worker") not in (0, old)


@pytest.mark.integration
def test_a_stopped_program_is_started(supervisord: Path) -> None:
    result = run(_params("stopped"), 30, Boundaries(env=_env(supervisord)))
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    assert result.output.startswith("stopped: STOPPED -> RUNNING (pid ")
    assert _pid(supervisord, "stopped") > 0


@pytest.mark.integration
def test_a_program_that_dies_at_once_fails_with_supervisords_reason(supervisord: Path) -> None:
    result = run(_params("dies"), 30, Boundaries(env=_env(supervisord)))
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail.startswith("program dies did not stay up")


@pytest.mark.integration
def test_an_unknown_program_fails_without_touching_the_others(supervisord: Path) -> None:
    old = _pid(supervisord, "worker")
    result = run(_params("nosuch"), 30, Boundaries(env=_env(supervisord)))
    assert (result.outcome, result.detail) == (
        ActionOutcome.FAILED,
        "supervisord has no program nosuch",
    )
    assert _pid(supervisord, "worker") == old


@pytest.mark.integration
def test_a_wrong_password_is_refused(supervisord: Path) -> None:
    old = _pid(supervisord, "worker")
    env = _env(supervisord, SUP_PASSWORD="wrong")
    result = run(_params("worker"), 30, Boundaries(env=env))
    assert (result.outcome, result.detail) == (
        ActionOutcome.FAILED,
        "supervisord refused the credentials",
    )
    assert _pid(supervisord, "worker") == old


def test_a_credential_variable_that_is_not_set_fails_before_any_call(tmp_path: Path) -> None:
    result = run(_params("worker"), 30, Boundaries(env={"SUP_URL": "unix:///nowhere"}))
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail == "environment variable SUP_USER, SUP_PASSWORD is not set"


def test_no_supervisord_at_the_socket_fails(tmp_path: Path) -> None:
    result = run(_params("worker"), 30, Boundaries(env=_env(tmp_path / "none.sock")))
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail.startswith(f"cannot reach supervisord at unix://{tmp_path}/none.sock")


def test_a_supervisord_that_never_answers_times_out(tmp_path: Path) -> None:
    sock = tmp_path / "hung.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock))
    server.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    try:
        result = run(_params("worker"), 0.3, Boundaries(env=_env(sock)))
    finally:
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()
    assert result.outcome is ActionOutcome.TIMED_OUT
    assert result.detail == "no answer from supervisord within the timeout"


def test_a_url_variable_that_is_not_a_supervisor_url_fails(tmp_path: Path) -> None:
    result = run(_params("worker"), 30, Boundaries(env={**ENV, "SUP_URL": "ftp://x"}))
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail.startswith("SUP_URL='ftp://x': must be unix:///path or http://host:port")


def test_something_else_on_the_socket_fails_without_a_traceback(tmp_path: Path) -> None:
    sock = tmp_path / "other.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock))
    server.listen()

    def answer_nonsense() -> None:
        conn, _ = server.accept()
        with conn:
            request = b""
            while b"</methodCall>" not in request:  # the whole call, then the reply
                request += conn.recv(65536)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\nnot xml at all")

    thread = threading.Thread(target=answer_nonsense, daemon=True)
    thread.start()
    try:
        result = run(_params("worker"), 10, Boundaries(env=_env(sock)))
    finally:
        thread.join(5)
        server.close()
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail.startswith(f"no XML-RPC answer from unix://{sock}: ")
    assert PASSWORD not in result.detail
