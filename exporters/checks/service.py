"""Service availability: a process by name or pidfile, a supervisor program, a systemd
unit or a Docker container — whichever the host has. Exactly one is named per check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from exporters.categories import Category, ProbeFailure
from exporters.checks.base import Boundaries, CheckBase, Report

TARGETS = ("process_name", "pidfile", "supervisor_program", "systemd_unit", "docker_container")


class ServiceCheck(CheckBase):
    kind: Literal["service"]
    process_name: str | None = None
    pidfile: Path | None = None
    supervisor_program: str | None = None
    supervisor_config: Path | None = None  # supervisorctl -c
    systemd_unit: str | None = None
    docker_container: str | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> ServiceCheck:
        named = [t for t in TARGETS if getattr(self, t) is not None]
        if len(named) != 1:
            raise ValueError(f"name exactly one of {', '.join(TARGETS)}")
        return self

    def instance(self) -> str:
        return next(str(getattr(self, t)) for t in TARGETS if getattr(self, t) is not None)


def _down(message: str) -> ProbeFailure:
    # A service that is not running is unavailable: the recovery plan's connection errors.
    return ProbeFailure(Category.CONNECTION, message)


def _command(argv: list[str], report: Report, ctx: Boundaries) -> subprocess.CompletedProcess[str]:
    try:
        return ctx.run(argv, report.remaining())
    except FileNotFoundError:
        raise _down(f"{argv[0]} is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise ProbeFailure(Category.TIMEOUT, f"{argv[0]} did not answer in time") from None


def _denied(output: str) -> bool:
    return "permission denied" in output.lower()


def _process_name(check: ServiceCheck, report: Report, ctx: Boundaries) -> None:
    count = 0
    for proc in ctx.ps.process_iter(["name"]):
        if proc.info.get("name") == check.process_name:
            count += 1
    report.add("probe_service_processes", count)
    if count == 0:
        raise _down(f"no process named {check.process_name!r}")


def _pidfile(check: ServiceCheck, report: Report, ctx: Boundaries) -> None:
    assert check.pidfile is not None
    try:
        text = check.pidfile.read_text().strip()
    except FileNotFoundError:
        raise _down(f"pidfile {check.pidfile} does not exist") from None
    if not text.isdigit():
        raise ProbeFailure(Category.DATA_INTEGRITY, f"pidfile {check.pidfile} holds {text[:40]!r}")
    alive = ctx.ps.pid_exists(int(text))
    report.add("probe_service_processes", 1 if alive else 0)
    if not alive:
        raise _down(f"process {text} from {check.pidfile} is not running (stale pidfile)")


def _supervisor(check: ServiceCheck, report: Report, ctx: Boundaries) -> None:
    # supervisor is one of the project's dependencies, so its client is always here.
    argv = [sys.executable, "-m", "supervisor.supervisorctl"]
    if check.supervisor_config:
        argv += ["-c", str(check.supervisor_config)]
    done = _command([*argv, "status", str(check.supervisor_program)], report, ctx)
    output = (done.stdout + done.stderr).strip()
    if _denied(output):
        raise ProbeFailure(Category.PERMISSION, output)
    words = output.split()
    state = words[1] if len(words) > 1 and words[0] == check.supervisor_program else ""
    if state != "RUNNING":
        raise _down(f"supervisor program {check.supervisor_program}: {output or 'no answer'}")


def _systemd(check: ServiceCheck, report: Report, ctx: Boundaries) -> None:
    done = _command(["systemctl", "is-active", str(check.systemd_unit)], report, ctx)
    state = done.stdout.strip()
    if _denied(done.stderr):
        raise ProbeFailure(Category.PERMISSION, done.stderr.strip())
    if state != "active":
        raise _down(
            f"systemd unit {check.systemd_unit} is {state or done.stderr.strip() or 'unknown'}"
        )


def _docker(check: ServiceCheck, report: Report, ctx: Boundaries) -> None:
    argv = ["docker", "inspect", "--format", "{{json .State}}", str(check.docker_container)]
    done = _command(argv, report, ctx)
    if done.returncode != 0:
        err = done.stderr.strip()
        if _denied(err):
            raise ProbeFailure(Category.PERMISSION, err)
        raise _down(f"docker container {check.docker_container}: {err or 'not found'}")
    state = json.loads(done.stdout)
    health = (state.get("Health") or {}).get("Status")
    if not state.get("Running"):
        raise _down(f"docker container {check.docker_container} is {state.get('Status')}")
    if health not in (None, "healthy", "starting"):
        raise _down(f"docker container {check.docker_container} is {health}")


def run(check: ServiceCheck, report: Report, ctx: Boundaries) -> None:
    if check.process_name is not None:
        _process_name(check, report, ctx)
    elif check.pidfile is not None:
        _pidfile(check, report, ctx)
    elif check.supervisor_program is not None:
        _supervisor(check, report, ctx)
    elif check.systemd_unit is not None:
        _systemd(check, report, ctx)
    else:
        _docker(check, report, ctx)
