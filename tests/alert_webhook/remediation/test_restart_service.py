"""actions/restart_service.py: names checked per backend, label injection refused,
and the systemd, Docker and command backends on real processes and a real unix
socket (the supervisor backend has its own file, on a real supervisord)."""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alert_webhook.app.actions import registered_actions
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.restart_service import RestartServiceParams, run
from alert_webhook.remediation.playbooks import Step, render_step
from alert_webhook.remediation.templates import Refused

PY = sys.executable


def params(**kw: Any) -> RestartServiceParams:
    return RestartServiceParams.model_validate(kw)


# --- names and sections -------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "service", "extra"),
    [
        ("supervisor", "demo", {"supervisor": {"url": "unix:///run/s.sock"}}),
        ("supervisor", "workers:worker_01", {"supervisor": {"url": "http://127.0.0.1:9001"}}),
        ("systemd", "getty@tty1.service", {}),
        ("docker", "web-1.blue_green", {}),
        ("command", "demo", {"command": {"argv": ["/usr/local/bin/restart"]}}),
    ],
)
def test_names_each_backend_accepts(backend: str, service: str, extra: dict[str, Any]) -> None:
    assert params(backend=backend, service=service, **extra).service == service


@pytest.mark.parametrize(
    ("backend", "service"),
    [
        ("systemd", "-rf"),
        ("systemd", "a\\x2d.service"),
        ("docker", "a/../b"),
        ("docker", "web:1"),
        ("command", "--force"),
        ("command", "a b"),
    ],
)
def test_names_a_backend_refuses(backend: str, service: str) -> None:
    extra = {"command": {"argv": ["/bin/restart"]}} if backend == "command" else {}
    with pytest.raises(ValidationError, match=f"is not a {backend} name"):
        params(backend=backend, service=service, **extra)


def test_only_the_chosen_backends_section_applies() -> None:
    with pytest.raises(ValidationError, match="docker: only the systemd section applies"):
        params(backend="systemd", service="x", docker={})
    with pytest.raises(ValidationError, match="backend supervisor needs its supervisor section"):
        params(backend="supervisor", service="x")
    with pytest.raises(ValidationError, match="exactly one of url and url_from_env"):
        params(backend="supervisor", service="x", supervisor={})
    for url in ("unix://relative.sock", "http://127.0.0.1:9001/RPC2", "http://u:p@host:1"):
        with pytest.raises(ValidationError, match="must be unix:///path or http://host:port"):
            params(backend="supervisor", service="x", supervisor={"url": url})
    with pytest.raises(ValidationError, match="go together"):
        params(
            backend="supervisor",
            service="x",
            supervisor={"url": "unix:///s.sock", "username_from_env": "U"},
        )
    with pytest.raises(ValidationError, match="absolute path"):
        params(backend="command", service="x", command={"argv": ["restart"]})


@pytest.mark.parametrize(
    "value", ["demo; rm -rf /", "$(reboot)", "`id`", "../etc", "demo\nx", "demo\x00", "-rf", "a:b"]
)
def test_a_hostile_service_label_never_reaches_the_backend(value: str) -> None:
    step = Step(
        action="restart_service",
        params={"backend": "systemd", "service": "{labels.service}"},
    )
    with pytest.raises(Refused, match="needed by service"):
        render_step(step, registered_actions(), {"service": value})


def test_a_service_label_renders_into_the_name() -> None:
    step = Step(
        action="restart_service", params={"backend": "docker", "service": "{labels.service}"}
    )
    rendered = render_step(step, registered_actions(), {"service": "web"})
    assert isinstance(rendered.params, RestartServiceParams)
    assert rendered.params.service == "web"


# --- command ------------------------------------------------------------------


@pytest.mark.integration
def test_the_command_gets_the_service_as_its_last_argument_and_only_allowed_env(
    tmp_path: Path,
) -> None:
    seen = tmp_path / "seen.json"
    code = (
        "import json, os, sys; "
        f"json.dump([sys.argv[1:], dict(os.environ)], open({str(seen)!r}, 'w'))"
    )
    p = params(
        backend="command",
        service="demo",
        command={"argv": [PY, "-c", code, "--now"], "env": ["ALLOWED"]},
    )
    env = {"ALLOWED": "yes", "SECRET": "no"}
    # A stopped clock: the duration comes from the clock given, not the real one.
    result = run(p, 10, Boundaries(env=env, monotonic=lambda: 50.0))
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    argv, child_env = json.loads(seen.read_text())
    assert argv == ["--now", "demo"]
    assert child_env.get("ALLOWED") == "yes" and "SECRET" not in child_env
    assert result.duration == 0.0


@pytest.mark.integration
def test_a_failing_command_fails_with_its_exit_status() -> None:
    p = params(
        backend="command", service="demo", command={"argv": [PY, "-c", "raise SystemExit(4)"]}
    )
    result = run(p, 10, Boundaries())
    assert (result.outcome, result.status, result.detail) == (
        ActionOutcome.FAILED,
        4,
        "exit status 4",
    )


# --- systemd (a fake systemctl: a real program that keeps a unit's state) --------


def fake_systemctl(tmp_path: Path, after: str = "active", restart_exit: int = 0) -> Path:
    """Records each argv; `restart` exits `restart_exit`, `is-active` prints `after`
    and exits 0 only for active, like systemctl."""
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "systemctl"
    script.write_text(
        f"#!{PY}\n"
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if 'restart' in sys.argv:\n"
        f"    print('restarting'); sys.exit({restart_exit})\n"
        f"print({after!r}); sys.exit(0 if {after!r} == 'active' else 3)\n"
    )
    script.chmod(0o755)
    return script


def calls(tmp_path: Path) -> list[list[str]]:
    lines = (tmp_path / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.integration
def test_systemd_restarts_then_checks_the_unit_is_active(tmp_path: Path) -> None:
    systemctl = fake_systemctl(tmp_path)
    p = params(backend="systemd", service="demo.service", systemd={"systemctl": str(systemctl)})
    result = run(p, 10, Boundaries())
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    assert calls(tmp_path) == [
        ["restart", "--", "demo.service"],
        ["is-active", "--", "demo.service"],
    ]
    assert result.output == "restarting\ndemo.service: active\n"
    assert result.status == 0


@pytest.mark.integration
def test_systemd_user_units_get_user(tmp_path: Path) -> None:
    systemctl = fake_systemctl(tmp_path)
    options = {"systemctl": str(systemctl), "user": True}
    run(params(backend="systemd", service="demo", systemd=options), 10, Boundaries())
    assert calls(tmp_path)[0] == ["--user", "restart", "--", "demo"]


@pytest.mark.integration
def test_a_unit_that_is_not_active_after_the_restart_fails(tmp_path: Path) -> None:
    systemctl = fake_systemctl(tmp_path, after="failed")
    p = params(backend="systemd", service="demo", systemd={"systemctl": str(systemctl)})
    result = run(p, 10, Boundaries())
    assert (result.outcome, result.detail) == (
        ActionOutcome.FAILED,
        "unit demo is failed after the restart",
    )


@pytest.mark.integration
def test_a_failed_restart_is_not_followed_by_a_check(tmp_path: Path) -> None:
    systemctl = fake_systemctl(tmp_path, restart_exit=5)
    p = params(backend="systemd", service="demo", systemd={"systemctl": str(systemctl)})
    result = run(p, 10, Boundaries())
    assert (result.outcome, result.status) == (ActionOutcome.FAILED, 5)
    assert result.detail == "systemctl restart demo: exit status 5"
    assert len(calls(tmp_path)) == 1


# --- docker (a real HTTP server on a unix socket speaking the Engine API) -------


class FakeDocker(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, containers: dict[str, str], restarts_to: str) -> None:
        self.containers, self.restarts_to = containers, restarts_to
        self.requests: list[str] = []
        super().__init__(path, _DockerHandler)


class _DockerHandler(BaseHTTPRequestHandler):
    server: FakeDocker

    def _answer(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _container(self) -> str | None:
        parts = self.path.split("?")[0].split("/")
        name = parts[2] if len(parts) > 2 else ""
        if name not in self.server.containers:
            self._answer(404, {"message": f"No such container: {name}"})
            return None
        return name

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.server.requests.append(f"GET {self.path}")
        if (name := self._container()) is not None:
            self._answer(200, {"Name": name, "State": {"Status": self.server.containers[name]}})

    def do_POST(self) -> None:  # noqa: N802
        self.server.requests.append(f"POST {self.path}")
        if (name := self._container()) is not None:
            self.server.containers[name] = self.server.restarts_to
            self._answer(204)

    def log_message(self, *args: object) -> None:
        pass  # a unix client has no address to log


@pytest.fixture
def docker(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FakeDocker]:
    restarts_to = getattr(request, "param", "running")
    server = FakeDocker(str(tmp_path / "d.sock"), {"web": "exited"}, restarts_to)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def docker_params(server: FakeDocker, service: str = "web") -> RestartServiceParams:
    options = {"socket": server.server_address, "stop_timeout": 7}
    return params(backend="docker", service=service, docker=options)


def test_docker_restarts_the_container_through_the_engine_api(docker: FakeDocker) -> None:
    result = run(docker_params(docker), 10, Boundaries())
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    assert (result.status, result.output) == (204, "web: exited -> running\n")
    assert docker.requests == [
        "GET /containers/web/json",
        "POST /containers/web/restart?t=7",
        "GET /containers/web/json",
    ]


def test_an_unknown_container_fails_without_a_restart(docker: FakeDocker) -> None:
    result = run(docker_params(docker, "nosuch"), 10, Boundaries())
    assert (result.outcome, result.status, result.detail) == (
        ActionOutcome.FAILED,
        404,
        "no container nosuch",
    )
    assert docker.requests == ["GET /containers/nosuch/json"]


@pytest.mark.parametrize("docker", ["exited"], indirect=True)
def test_a_container_that_does_not_come_back_fails(docker: FakeDocker) -> None:
    result = run(docker_params(docker), 10, Boundaries())
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail == "container web is exited after the restart"


def test_a_docker_that_never_answers_times_out(tmp_path: Path) -> None:
    path = tmp_path / "hung.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()  # accepted by the kernel, never answered
        options = {"socket": str(path)}
        p = params(backend="docker", service="web", docker=options)
        result = run(p, 0.3, Boundaries())
    assert result.outcome is ActionOutcome.TIMED_OUT
    assert result.detail == f"no answer from Docker at {path} within the timeout"


def test_no_docker_at_the_socket_fails(tmp_path: Path) -> None:
    options = {"socket": str(tmp_path / "none.sock")}
    result = run(params(backend="docker", service="web", docker=options), 10, Boundaries())
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail.startswith(f"Docker at {tmp_path}/none.sock: ")
