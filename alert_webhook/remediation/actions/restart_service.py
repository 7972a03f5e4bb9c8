"""restart_service: restart one service through supervisord, systemd, Docker or a command.

The service's name usually comes from a label (`{labels.service}`); it reaches a
backend only after matching a strict pattern for that backend, and never passes
through a shell: supervisord and Docker get it in an RPC or a URL path segment,
systemctl and a restart command get it as one argument of an argument list.
Each backend reports the service's state after the restart, so "succeeded"
means it is running again, not only that a restart was asked for.

`on_host: true` restarts the service on the fleet host the alert names instead
of this machine, through Ansible (fleet/executor.py, actions/on_host.py):
systemd through `ansible.builtin.systemd_service` (name, state: restarted),
supervisor through `ansible.builtin.command` with the argv
`[*supervisorctl, restart, SERVICE]`, command through `ansible.builtin.command`
with `[*argv, SERVICE]` — an argument list, never a shell. Docker on a host is
the command backend with docker's argv.
"""

from __future__ import annotations

import http.client
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from alert_webhook.fleet.executor import ModuleJob
from alert_webhook.remediation.actions import run_command, supervisor_rpc
from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
    EnvVar,
    tail,
)
from alert_webhook.remediation.actions.on_host import run_on_host
from alert_webhook.remediation.actions.supervisor_rpc import SupervisorOptions
from alert_webhook.remediation.actions.unix_http import UnixHTTPConnection
from toolkit.config import Strict

# What a label value naming a service may be, whatever the backend: a letter or
# digit first (never an option), then letters, digits and `_.-` — no `/`, `:`,
# `@`, space or anything a shell, a URL or systemd would read specially.
SERVICE_WORD = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"

# What each backend accepts once rendered (a name written in the playbook may use
# a little more than a label: a supervisor group, a systemd template instance).
SERVICE_PATTERNS = {
    # `name` or `group:name`
    "supervisor": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}(:[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?$",
    # unit names: letters, digits and `:_.@-`; no `\` escapes, no leading `-`
    "systemd": r"^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,254}$",
    # Docker's own rule for container names (an id is hex, so it passes too)
    "docker": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
    "command": SERVICE_WORD,
}

Backend = Literal["supervisor", "systemd", "docker", "command"]


def _absolute(path: str) -> str:
    if not os.path.isabs(path):
        raise ValueError("must be an absolute path")
    return path


class SystemdOptions(Strict):
    systemctl: str = "/usr/bin/systemctl"
    user: bool = False  # systemctl --user: the webhook's own user manager
    # Environment variables systemctl may see (--user needs XDG_RUNTIME_DIR).
    env: list[EnvVar] = Field(default_factory=list)

    _absolute_systemctl = field_validator("systemctl")(_absolute)


class DockerOptions(Strict):
    socket: str = "/var/run/docker.sock"
    stop_timeout: int = Field(default=10, ge=0)  # seconds Docker waits before SIGKILL

    _absolute_socket = field_validator("socket")(_absolute)


class CommandOptions(Strict):
    """A restart program; it gets the service's name as its last argument."""

    argv: list[str] = Field(min_length=1)
    env: list[EnvVar] = Field(default_factory=list)
    cwd: str | None = None
    success_exit_codes: list[int] = Field(default_factory=lambda: [0])

    @field_validator("argv")
    @classmethod
    def _absolute_program(cls, argv: list[str]) -> list[str]:
        _absolute(argv[0])
        return argv


class RestartServiceParams(ActionParams):
    backend: Backend
    service: str
    # Only the section of the chosen backend may be given; supervisor and command
    # have no defaults (where supervisord listens, which program restarts).
    supervisor: SupervisorOptions | None = None
    systemd: SystemdOptions | None = None
    docker: DockerOptions | None = None
    command: CommandOptions | None = None
    # Restart it on the fleet host the alert names, through Ansible.
    on_host: bool = False
    # With on_host and the supervisor backend: the host's supervisorctl (and its
    # options, e.g. `-c /etc/supervisor/supervisord.conf`); `restart SERVICE` follows.
    supervisorctl: list[str] = Field(
        default_factory=lambda: ["/usr/bin/supervisorctl"], min_length=1
    )

    label_patterns: ClassVar[dict[str, str]] = {"service": SERVICE_WORD}

    @model_validator(mode="after")
    def _fits_backend(self) -> RestartServiceParams:
        if not re.fullmatch(SERVICE_PATTERNS[self.backend], self.service):
            raise ValueError(
                f"service {self.service!r} is not a {self.backend} name "
                f"({SERVICE_PATTERNS[self.backend]})"
            )
        others = [b for b in SERVICE_PATTERNS if b != self.backend and getattr(self, b) is not None]
        if others:
            raise ValueError(f"{', '.join(others)}: only the {self.backend} section applies")
        if self.on_host:
            return self._fits_host()
        if self.backend in ("supervisor", "command") and getattr(self, self.backend) is None:
            raise ValueError(f"backend {self.backend} needs its {self.backend} section")
        return self

    def _fits_host(self) -> RestartServiceParams:
        if self.backend == "docker":
            raise ValueError("on_host: use backend command with docker's argv, e.g. "
                             "[/usr/bin/docker, restart]")  # fmt: skip
        if self.backend == "command" and self.command is None:
            raise ValueError("backend command needs its command section")
        if self.backend == "supervisor" and self.supervisor is not None:
            raise ValueError("on_host: supervisord is reached by its supervisorctl, not a url")
        if not os.path.isabs(self.supervisorctl[0]):
            raise ValueError("supervisorctl[0] must be an absolute path")
        if self.command is not None and (
            self.command.env or self.command.success_exit_codes != [0]
        ):
            raise ValueError(
                "on_host: command.env and success_exit_codes apply on this machine only"
            )
        return self

    @classmethod
    def binds_host(cls, params: Mapping[str, Any]) -> bool:
        return params.get("on_host") is True

    def host_job(self) -> ModuleJob:
        """What restarts the service on the host: a module with its arguments."""
        if self.backend == "systemd":
            args: dict[str, Any] = {"name": self.service, "state": "restarted"}
            if self.systemd is not None and self.systemd.user:
                args["scope"] = "user"
            return ModuleJob("ansible.builtin.systemd_service", args)
        if self.backend == "supervisor":
            argv = [*self.supervisorctl, "restart", self.service]
        else:
            assert self.command is not None
            argv = [*self.command.argv, self.service]
            if self.command.cwd is not None:
                return ModuleJob(
                    "ansible.builtin.command", {"argv": argv, "chdir": self.command.cwd}
                )
        return ModuleJob("ansible.builtin.command", {"argv": argv})

    def env_names(self) -> list[str]:
        if self.supervisor is None:
            return []
        names = (
            self.supervisor.url_from_env,
            self.supervisor.username_from_env,
            self.supervisor.password_from_env,
        )
        return [n for n in names if n is not None]


@dataclass
class _Budget:
    """The time left of one run's timeout, read from the caller's clock."""

    deadline: float
    clock: Callable[[], float]

    def left(self) -> float:
        # Never zero: a socket timeout of 0 would mean non-blocking, not "now".
        return max(self.deadline - self.clock(), 0.001)


def run(params: RestartServiceParams, timeout: float, ctx: Boundaries) -> ActionResult:
    if params.on_host:
        return run_on_host(params.host_job(), timeout, ctx)
    started = ctx.monotonic()
    budget = _Budget(started + timeout, ctx.monotonic)
    missing = [name for name in params.env_names() if not ctx.env.get(name)]
    if missing:
        detail = f"environment variable {', '.join(missing)} is not set"
        return ActionResult(ActionOutcome.FAILED, None, "", ctx.monotonic() - started, detail)
    backend = _BACKENDS[params.backend]
    outcome, status, output, detail = backend(params, budget, ctx)
    return ActionResult(outcome, status, tail(output.encode()), ctx.monotonic() - started, detail)


# What a backend returns: outcome, status, output, detail.
_Done = tuple[ActionOutcome, int | None, str, str]


def _supervisor(params: RestartServiceParams, budget: _Budget, ctx: Boundaries) -> _Done:
    assert params.supervisor is not None
    return supervisor_rpc.restart(params.service, params.supervisor, budget.left, ctx.env)


def _run(
    argv: list[str], env: list[str], budget: _Budget, ctx: Boundaries, **kw: Any
) -> ActionResult:
    command = run_command.RunCommandParams(argv=argv, env=env, **kw)
    return run_command.run(command, budget.left(), ctx)


def _systemd(params: RestartServiceParams, budget: _Budget, ctx: Boundaries) -> _Done:
    opts = params.systemd or SystemdOptions()
    base = [opts.systemctl, *(["--user"] if opts.user else [])]
    unit = params.service
    restarted = _run([*base, "restart", "--", unit], opts.env, budget, ctx)
    if restarted.outcome is not ActionOutcome.SUCCEEDED:
        detail = f"systemctl restart {unit}: {restarted.detail}"
        return restarted.outcome, restarted.status, restarted.output, detail
    # `is-active` prints the unit's state and exits 0 only when it is active.
    checked = _run(
        [*base, "is-active", "--", unit], opts.env, budget, ctx, success_exit_codes=[0, 3]
    )
    state = checked.output.strip() or "unknown"
    output = f"{restarted.output}{unit}: {state}\n"
    if checked.outcome is ActionOutcome.TIMED_OUT:
        return (
            ActionOutcome.TIMED_OUT,
            restarted.status,
            output,
            f"systemctl is-active {unit}: {checked.detail}",
        )
    if state != "active":
        return (
            ActionOutcome.FAILED,
            restarted.status,
            output,
            f"unit {unit} is {state} after the restart",
        )
    return ActionOutcome.SUCCEEDED, restarted.status, output, ""


def _command(params: RestartServiceParams, budget: _Budget, ctx: Boundaries) -> _Done:
    opts = params.command
    assert opts is not None
    done = _run(
        [*opts.argv, params.service],
        opts.env,
        budget,
        ctx,
        cwd=opts.cwd,
        success_exit_codes=opts.success_exit_codes,
    )
    return done.outcome, done.status, done.output, done.detail


def _docker(params: RestartServiceParams, budget: _Budget, ctx: Boundaries) -> _Done:
    opts = params.docker or DockerOptions()
    name = quote(params.service, safe="")
    where = f"/containers/{name}"
    try:
        before = _container_state(opts.socket, where, budget)
        if before is None:
            return ActionOutcome.FAILED, 404, "", f"no container {params.service}"
        status, body = _docker_call(
            opts.socket, "POST", f"{where}/restart?t={opts.stop_timeout}", budget
        )
        if status != 204:
            return ActionOutcome.FAILED, status, tail(body), f"Docker answered HTTP status {status}"
        after = _container_state(opts.socket, where, budget) or "gone"
    except TimeoutError:
        detail = f"no answer from Docker at {opts.socket} within the timeout"
        return ActionOutcome.TIMED_OUT, None, "", detail
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return ActionOutcome.FAILED, None, "", f"Docker at {opts.socket}: {exc}"
    output = f"{params.service}: {before} -> {after}\n"
    if after != "running":
        return (
            ActionOutcome.FAILED,
            status,
            output,
            f"container {params.service} is {after} after the restart",
        )
    return ActionOutcome.SUCCEEDED, status, output, ""


# An inspect answer is a few kilobytes; more than this is not Docker talking.
_MAX_BODY = 1 << 20


def _docker_call(path: str, method: str, url: str, budget: _Budget) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(path, budget.left())
    try:
        conn.request(method, url, headers={"User-Agent": "recovery-stack-remediation"})
        response = conn.getresponse()
        return response.status, response.read(_MAX_BODY)
    finally:
        conn.close()


def _container_state(path: str, where: str, budget: _Budget) -> str | None:
    """The container's State.Status ("running", "exited" …); None when there is none."""
    status, body = _docker_call(path, "GET", f"{where}/json", budget)
    if status == 404:
        return None
    if status != 200:
        raise ValueError(f"inspecting the container answered HTTP status {status}: {tail(body)}")
    return str(json.loads(body).get("State", {}).get("Status", "unknown"))


_BACKENDS: dict[str, Callable[[RestartServiceParams, _Budget, Boundaries], _Done]] = {
    "supervisor": _supervisor,
    "systemd": _systemd,
    "docker": _docker,
    "command": _command,
}

ACTION = Action("restart_service", RestartServiceParams, run)
