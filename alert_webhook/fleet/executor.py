"""The executor: one Ansible module, or one playbook of `fleet.playbooks_dir`, run
through ansible-runner's Python API on exactly one inventory host.

What reaches Ansible is data, never text for it to read:

- the host is an inventory name `Inventory.resolve` returned (a plain name, never
  a pattern), named both in the play's `hosts:` and in `--limit`;
- module arguments go into a one-task play, and playbook variables into a vars
  file (`-e @file`), both written as YAML by us with every string tagged
  `!unsafe`: ansible-core templates module arguments and extra vars, and an
  unsafe value is never templated (a `{{ lookup('pipe', ...) }}` stays text);
- before that, `run` refuses any value holding a template marker (`{{`, `{%`,
  `{#`, `lookup(`) — two locks, so either alone keeps a label out of Jinja.

SSH: the key's path from the settings or `RECOVERY_STACK_SSH_KEY` (refused when
its group or others may read it; never logged); host keys checked against the
stack's known_hosts only (`StrictHostKeyChecking=yes`, no global file, no
updates, `ANSIBLE_HOST_KEY_CHECKING=True`, which ansible-runner would otherwise
turn off); `BatchMode`, no retries; connection reuse (ControlPersist, with
control sockets in a short folder of our own: a unix socket path has ~108 bytes)
and pipelining as configured. A kept connection is given up after about the
connect timeout without an answer from the host (`ServerAliveInterval` ×
`ServerAliveCountMax`), so a host cut off since its last run is `unreachable`
then, as a new connection would be, not hung until the step's timeout.

A timeout kills every process of the run. ansible-runner's own timeout does not:
it SIGKILLs the ansible-playbook process group, but ansible-core 2.19's workers
call `setsid()`, so a worker and its ssh outlive it (seen here: both still
running 15 s after ansible-runner had returned `timeout`). So each run carries a
token in its environment; at the deadline the cancel callback stops, then
kills, every process of ours that carries it — ansible-playbook, its workers,
their ssh, and a ControlMaster the run started — before ansible-runner reaps
the rest. (The module's process on the host is not ours: a closed connection
does not end a non-pty session's children, so it runs on to its own end.)
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import psutil
import yaml

from alert_webhook.fleet.inventory import PLAIN_NAME, Host
from alert_webhook.fleet.settings import SshSettings
from toolkit.config import ConfigError

# What Jinja starts on, and the lookup call the canary tests use: refused in any
# value before anything is passed to Ansible.
TEMPLATE_MARKERS = ("{{", "{%", "{#", "lookup(")
# A module's name: short (`command`) or fully qualified (`ansible.builtin.command`).
MODULE_NAME = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*){0,2}")
# A playbook of playbooks_dir: a plain file name, no folder, no leading dot.
PLAYBOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.ya?ml")
# Keys of module arguments and variables: identifiers, which Ansible never templates.
# Not `_` first: Ansible's internal arguments (`_uses_shell` turns command into shell).
ARG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
# Variables that would choose the connection instead of the inventory
# (`ansible_host`, `ansible_connection: local`, `ansible_ssh_common_args` …).
CONNECTION_VARS = "ansible_"
OUTPUT_TAIL_CHARS = 4096
RUN_TOKEN_ENV = "RECOVERY_STACK_ANSIBLE_RUN"
# Keepalives unanswered before a kept SSH connection is given up (over ~connect_timeout).
SERVER_ALIVE_COUNT = 3
# How often ansible-runner's loop asks whether to cancel: the timeout's precision.
_POLL_SECONDS = 0.2


class HostOutcome(StrEnum):
    OK = "ok"  # every task ran, none changed anything
    CHANGED = "changed"  # every task ran, at least one changed something
    FAILED = "failed"  # a task failed, nothing ran on the host, or it was refused
    UNREACHABLE = "unreachable"  # Ansible could not reach the host (SSH, host key)
    TIMED_OUT = "timed_out"  # still running at the timeout: every process killed


@dataclass(frozen=True)
class ModuleJob:
    """One module with its arguments, e.g. `ansible.builtin.systemd_service`
    `{name: demo, state: restarted}`."""

    module: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlaybookJob:
    """A playbook of `fleet.playbooks_dir`, by file name, with its variables."""

    playbook: str
    vars: Mapping[str, Any] = field(default_factory=dict)


Job = ModuleJob | PlaybookJob


@dataclass(frozen=True)
class Execution:
    """What one run did on its host: the step's record. `summary` is one line of
    events (`task restart: changed; stats ok=1 changed=1`), `detail` Ansible's
    message when it went wrong, `output` the end of what it printed."""

    host: str
    outcome: HostOutcome
    output: str = ""
    summary: str = ""
    detail: str = ""
    duration: float = 0.0
    rc: int | None = None


class Executor(Protocol):
    def run(self, host: Host, job: Job, timeout: float) -> Execution: ...


def _strings_and_keys(value: Any, where: str) -> Iterable[tuple[str, str, bool]]:
    """(where, text, is_key) for every string and mapping key inside `value`."""
    if isinstance(value, str):
        yield where, value, False
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{where}.{key}", str(key), True
            yield from _strings_and_keys(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings_and_keys(item, f"{where}[{i}]")


def data_problems(value: Mapping[str, Any], where: str) -> list[str]:
    """Why `value` (module arguments or variables) cannot go to Ansible: a key that
    is not an identifier, or a template marker anywhere."""
    problems = []
    for place, text, is_key in _strings_and_keys(value, where):
        if is_key and not ARG_NAME.fullmatch(text):
            problems.append(f"{place}: {text!r} is not a name (a letter, then letters, digits, _)")
        elif markers := [m for m in TEMPLATE_MARKERS if m in text]:
            shown = " ".join(markers)
            problems.append(f"{place}: holds {shown}, which Ansible would template")
    return problems


def job_problems(job: Job, playbooks_dir: Path | None) -> list[str]:
    """Every reason to refuse `job` before Ansible sees it."""
    if isinstance(job, ModuleJob):
        problems = (
            []
            if MODULE_NAME.fullmatch(job.module)
            else [f"module {job.module!r}: not a module name"]
        )
        return problems + data_problems(job.args, "args")
    problems = data_problems(job.vars, "vars")
    problems += [
        f"vars.{name}: Ansible's own variables would override the inventory's connection"
        for name in job.vars
        if str(name).startswith(CONNECTION_VARS)
    ]
    if (trouble := playbook_problem(job.playbook, playbooks_dir)) is not None:
        problems.insert(0, trouble)
    return problems


def playbook_problem(name: str, playbooks_dir: Path | None) -> str | None:
    """Why playbook `name` is not a file of `playbooks_dir`; None when it is."""
    if playbooks_dir is None:
        return "fleet.playbooks_dir is not set: no playbook can run"
    if not PLAYBOOK_NAME.fullmatch(name):
        return f"playbook {name!r}: a plain file name ending .yml or .yaml, in {playbooks_dir}"
    path = playbooks_dir / name
    if not path.is_file() or path.resolve().parent != playbooks_dir.resolve():
        return f"playbook {name!r}: no such file in {playbooks_dir}"
    return None


class _Unsafe(str):
    """A string written `!unsafe`: data to Ansible, never a template."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Unsafe, lambda dumper, text: dumper.represent_scalar("!unsafe", str(text), style='"')
)


def unsafe(value: Any) -> Any:
    """`value` with every string (not the keys) marked unsafe."""
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, Mapping):
        return {str(k): unsafe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unsafe(v) for v in value]
    return value


def play_yaml(host: str, job: ModuleJob) -> str:
    """The one-task play that runs `job` on `host`, its arguments unsafe."""
    play = [{
        "name": f"recovery-stack {job.module}",
        "hosts": str(host),  # the inventory's name may be a tagged str subclass
        "gather_facts": False,
        "tasks": [{"name": job.module, job.module: unsafe(dict(job.args))}],
    }]  # fmt: skip
    return str(yaml.dump(play, Dumper=_Dumper, sort_keys=False))


def vars_yaml(variables: Mapping[str, Any]) -> str:
    return str(yaml.dump(unsafe(dict(variables)), Dumper=_Dumper, sort_keys=False))


def check_private_key(path: Path, where: str) -> Path:
    """The key at `path`, refused (ConfigError) when missing or readable by its
    group or others. Its content is never read here."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(where, [f"{path}: {exc.strerror}"]) from None
    if not stat.S_ISREG(mode):
        raise ConfigError(where, [f"{path}: not a file"])
    if mode & 0o077:
        raise ConfigError(
            where, [f"{path}: mode {stat.S_IMODE(mode):04o}; a private key must be 0600 or 0400"]
        )
    return path.resolve()


def default_control_dir() -> Path:
    """Short, so `<dir>/<10-char hash>` plus ssh's temporary suffix fits a unix socket."""
    return Path(tempfile.gettempdir()) / f"rs-ssh-{os.getuid()}"


def _own_private_dir(path: Path) -> Path:
    """`path` as a folder only we can use (made 0700), never someone else's or a link."""
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigError(str(path), ["not a folder of this user (ssh control sockets go there)"])
    path.chmod(0o700)
    return path


def kill_marked(token: str) -> int:
    """Stop, then kill, every process of this user whose environment carries the
    run's token; how many. Stopped first, so none forks or reparents meanwhile."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.uids().real == os.getuid() and proc.environ().get(RUN_TOKEN_ENV) == token:
                found.append(proc)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for proc in found:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)
    return len(found)


@dataclass(frozen=True)
class AnsibleExecutor:
    """Runs jobs on the hosts of `inventory` (the file Ansible reads) over SSH."""

    inventory: Path
    ssh: SshSettings = field(default_factory=SshSettings)
    private_key: Path | None = None
    playbooks_dir: Path | None = None
    control_dir: Path = field(default_factory=default_control_dir)
    monotonic: Callable[[], float] = time.monotonic
    # Marks every process of one run (a test passes its own to look for them).
    new_token: Callable[[], str] = lambda: uuid.uuid4().hex

    def run(self, host: Host, job: Job, timeout: float) -> Execution:
        """Run `job` on `host`, or refuse it (failed, nothing started) when any value
        could reach Jinja or the host or playbook is not a plain name."""
        problems = job_problems(job, self.playbooks_dir)
        if not PLAIN_NAME.fullmatch(host.name):
            problems.insert(0, f"host {host.name!r} is not a plain inventory name")
        if problems:
            detail = "refused before Ansible: " + "; ".join(problems)
            return Execution(host.name, HostOutcome.FAILED, detail=detail)
        return self.execute(host, job, timeout)

    def execute(self, host: Host, job: Job, timeout: float) -> Execution:
        """Run `job` as given, every string passed unsafe; `run` checks it first."""
        import ansible_runner  # noqa: PLC0415 (a second to import; only when acting)

        started = self.monotonic()
        token = self.new_token()
        deadline = started + timeout
        killed: list[int] = []

        def cancel() -> bool:
            if self.monotonic() < deadline:
                return False
            if not killed:
                killed.append(kill_marked(token))
            return True

        with tempfile.TemporaryDirectory(prefix="rs-ansible-") as tmp:
            root = Path(tmp)
            (root / "project").mkdir()
            cmdline: list[str] = []
            if isinstance(job, ModuleJob):
                playbook = root / "project" / "task.yml"
                playbook.write_text(play_yaml(host.name, job))
            else:
                assert self.playbooks_dir is not None
                playbook = (self.playbooks_dir / job.playbook).resolve()
                if job.vars:
                    (root / "vars.yml").write_text(vars_yaml(job.vars))
                    cmdline = ["-e", f"@{root / 'vars.yml'}"]
            runner = ansible_runner.run(
                private_data_dir=str(root),
                playbook=str(playbook),
                inventory=str(self.inventory.resolve()),
                limit=str(host.name),
                envvars=self.environment(token),
                cmdline=shlex.join(cmdline) if cmdline else None,
                settings={"pexpect_timeout": _POLL_SECONDS, "suppress_ansible_output": True},
                cancel_callback=cancel,
                quiet=True,
            )
            events = list(runner.events)
            output = _read_tail(Path(runner.config.artifact_dir) / "stdout")
        duration = self.monotonic() - started
        if killed:
            detail = (
                f"still running after {timeout:g}s: ansible-playbook, its workers and ssh "
                f"killed ({killed[0]} processes)"
            )
            summary = summarize(events, host.name)[1]
            return Execution(host.name, HostOutcome.TIMED_OUT, output, summary, detail, duration)
        outcome, summary, detail = judge(events, host.name, runner.rc)
        return Execution(host.name, outcome, output, summary, detail, duration, runner.rc)

    def environment(self, token: str) -> dict[str, str]:
        """What Ansible runs with (on top of the webhook's environment, which
        ansible-runner passes on): this venv's ansible first on PATH, and SSH as
        the settings say."""
        ssh = self.ssh
        control = _own_private_dir(self.control_dir)
        known_hosts = ssh.known_hosts.resolve()
        args = [
            f"-o UserKnownHostsFile={known_hosts}",
            "-o GlobalKnownHostsFile=/dev/null",
            "-o StrictHostKeyChecking=yes",
            "-o UpdateHostKeys=no",
            "-o BatchMode=yes",
        ]
        persist = max(1, int(ssh.control_persist))  # a positive duration (settings)
        args += ["-o ControlMaster=auto", f"-o ControlPersist={persist}s"]
        # A kept connection to a host cut off since would carry the next run into
        # the dead link until the step's timeout (`timed_out`, not `unreachable`):
        # the master gives up after ~connect_timeout without an answer from sshd.
        alive = max(1, int(ssh.connect_timeout) // SERVER_ALIVE_COUNT)
        args += [f"-o ServerAliveInterval={alive}", f"-o ServerAliveCountMax={SERVER_ALIVE_COUNT}"]
        env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            RUN_TOKEN_ENV: token,
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_SSH_ARGS": " ".join(args),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
            "ANSIBLE_PIPELINING": "True" if ssh.pipelining else "False",
            "ANSIBLE_TIMEOUT": str(max(1, int(ssh.connect_timeout))),
            "ANSIBLE_SSH_RETRIES": "0",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            # cryptography's notice on Ansible's ssh-agent module: noise in a step's output.
            "PYTHONWARNINGS": "ignore:DSA is deprecated",
        }
        if ssh.user is not None:
            env["ANSIBLE_REMOTE_USER"] = ssh.user
        if self.private_key is not None:
            env["ANSIBLE_PRIVATE_KEY_FILE"] = str(self.private_key)
            args.append("-o IdentitiesOnly=yes")
            env["ANSIBLE_SSH_ARGS"] = " ".join(args)
        return env


def _read_tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - OUTPUT_TAIL_CHARS))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


_RESULTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def _message(result: Mapping[str, Any]) -> str:
    """Ansible's own words for a failed or unreachable task, one line."""
    parts = [str(result.get("msg") or "").strip()]
    for key in ("stderr", "module_stderr"):
        if text := str(result.get(key) or "").strip():
            parts.append(text[-300:])
    if not any(parts) and "rc" in result:
        parts.append(f"rc {result['rc']}")
    return " ".join(" ".join(p.split()) for p in parts if p)


def summarize(
    events: Iterable[Mapping[str, Any]], host: str
) -> tuple[list[tuple[str, str, Mapping[str, Any]]], str]:
    """Each task's result on `host` (task, ok|changed|failed|unreachable|skipped,
    result), and one line saying so with the play's stats."""
    results, stats = [], ""
    for event in events:
        data = event.get("event_data") or {}
        kind = event.get("event", "")
        if kind == "playbook_on_stats":
            counts = {
                k: (data.get(k) or {}).get(host, 0)
                for k in ("ok", "changed", "failures", "dark", "skipped")
            }
            stats = "stats " + " ".join(f"{k}={v}" for k, v in counts.items())
        if kind not in _RESULTS or data.get("host") != host:
            continue
        result = data.get("res") or {}
        status = _RESULTS[kind]
        if status == "ok" and result.get("changed"):
            status = "changed"
        if status == "failed" and data.get("ignore_errors"):
            status = "ok"
        duration = data.get("duration")
        took = f" {duration:.2f}s" if isinstance(duration, int | float) else ""
        results.append((str(data.get("task") or "task"), status + took, result))
    line = "; ".join(f"task {t}: {s}" for t, s, _ in results)
    return results, "; ".join(p for p in (line, stats) if p)


def judge(
    events: Iterable[Mapping[str, Any]], host: str, rc: int | None
) -> tuple[HostOutcome, str, str]:
    """The host's outcome from the run's events: unreachable or failed as soon as
    one task was; failed too when no task ran on the host at all (a playbook
    whose `hosts:` leaves it out)."""
    results, summary = summarize(events, host)
    for status_word, outcome in (
        ("unreachable", HostOutcome.UNREACHABLE),
        ("failed", HostOutcome.FAILED),
    ):
        for task, status, result in results:
            if status.split()[0] == status_word:
                return outcome, summary, f"{host} {status_word} in task {task}: {_message(result)}"
    if not results:
        return (
            HostOutcome.FAILED,
            summary,
            f"no task ran on {host} (ansible-playbook exit status {rc})",
        )
    if rc not in (0, None):
        return HostOutcome.FAILED, summary, f"ansible-playbook exit status {rc}"
    changed = any(s.split()[0] == "changed" for _, s, _ in results)
    return (HostOutcome.CHANGED if changed else HostOutcome.OK), summary, ""
