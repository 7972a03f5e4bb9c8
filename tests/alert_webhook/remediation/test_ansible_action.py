"""The `ansible` action and restart_service's remote form, with a fake executor:
what is accepted, what reaches the executor, how its outcome becomes the step's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alert_webhook.fleet.executor import Execution, HostOutcome, Job, ModuleJob, PlaybookJob
from alert_webhook.fleet.inventory import Host
from alert_webhook.remediation.actions import ansible
from alert_webhook.remediation.actions.ansible import AnsibleParams
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.restart_service import RestartServiceParams
from alert_webhook.remediation.actions.restart_service import run as restart
from alert_webhook.remediation.playbooks import Step, playbooks_from_mapping, render_step
from alert_webhook.remediation.templates import Refused
from toolkit.config import ConfigError

HOST = Host("host-2", "127.0.0.3", 22, ())


class Recording:
    def __init__(self, outcome: HostOutcome, detail: str = "") -> None:
        self.outcome, self.detail, self.jobs = outcome, detail, []  # type: ignore[var-annotated]

    def run(self, host: Host, job: Job, timeout: float) -> Execution:
        self.jobs.append(job)
        return Execution(host.name, self.outcome, "recap", "task t: x", self.detail, 2.0, 0)


def on_host(executor: Recording) -> Boundaries:
    return Boundaries(host=HOST, executor=executor)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "give exactly one of module (with args) and playbook (with vars)"),
        ({"module": "ping", "playbook": "x.yml"}, "give exactly one of"),
        ({"playbook": "x.yml", "args": {"a": "b"}}, "args go with a module"),
        ({"module": "ping", "vars": {"a": "b"}}, "vars go with a playbook"),
        ({"module": "ping;reboot"}, "String should match pattern"),
        ({"playbook": "../x.yml"}, "String should match pattern"),
        ({"module": "ping", "args": {"data": "{{ lookup('pipe','id') }}"}}, "which Ansible would"),
        ({"playbook": "x.yml", "vars": {"ansible_connection": "local"}}, "override the inventory"),
        ({"module": "command", "args": {"_uses_shell": True}}, "is not a name"),
    ],
)
def test_parameters_the_action_refuses(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as err:
        AnsibleParams.model_validate(params)
    assert problem in str(err.value)


def test_labels_reach_args_and_vars_only_as_safe_words() -> None:
    actions = {"ansible": ansible.ACTION}
    step = Step(
        action="ansible", params={"playbook": "r.yml", "vars": {"unit": "{labels.service}"}}
    )
    rendered = render_step(step, actions, {"service": "demo"})
    assert isinstance(rendered.params, AnsibleParams)
    assert rendered.params.job() == PlaybookJob("r.yml", {"unit": "demo"})
    for evil in ("{{ lookup('pipe','id') }}", "demo;reboot", "a b", "-rf"):
        with pytest.raises(Refused):
            render_step(step, actions, {"service": evil})


def test_a_shell_module_takes_no_labels() -> None:
    args = {"cmd": "restart {labels.service}"}
    step = {"action": "ansible", "params": {"module": "ansible.builtin.shell", "args": args}}
    books = {"playbooks": [{"name": "p", "match": {"a": "b"}, "actions": [step]}]}
    with pytest.raises(ConfigError) as err:
        playbooks_from_mapping(books)
    assert "ansible.builtin.shell runs a shell, so it takes no {labels.NAME}" in str(err.value)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (HostOutcome.OK, ActionOutcome.SUCCEEDED),
        (HostOutcome.CHANGED, ActionOutcome.SUCCEEDED),
        (HostOutcome.FAILED, ActionOutcome.FAILED),
        (HostOutcome.TIMED_OUT, ActionOutcome.TIMED_OUT),
        (HostOutcome.UNREACHABLE, ActionOutcome.UNREACHABLE),
    ],
)
def test_the_hosts_outcome_is_the_steps(outcome: HostOutcome, expected: ActionOutcome) -> None:
    executor = Recording(outcome, "host-2 went wrong")
    params = AnsibleParams(module="ansible.builtin.ping")
    result = ansible.run(params, 30, on_host(executor))
    assert result.outcome is expected
    assert executor.jobs == [ModuleJob("ansible.builtin.ping", {})]
    assert result.output == "task t: x\nrecap" and result.duration == 2.0
    ok = expected is ActionOutcome.SUCCEEDED
    assert result.detail == (f"host-2: {outcome}" if ok else "host-2 went wrong")


def test_without_a_resolved_host_nothing_runs() -> None:
    result = ansible.run(AnsibleParams(module="ansible.builtin.ping"), 30, Boundaries())
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail.startswith("no fleet host was resolved for this step")


@pytest.mark.parametrize(
    ("params", "job"),
    [
        ({"backend": "systemd", "service": "demo"},
         ModuleJob("ansible.builtin.systemd_service", {"name": "demo", "state": "restarted"})),
        ({"backend": "systemd", "service": "demo", "systemd": {"user": True}},
         ModuleJob("ansible.builtin.systemd_service",
                   {"name": "demo", "state": "restarted", "scope": "user"})),
        ({"backend": "supervisor", "service": "demo",
          "supervisorctl": ["/opt/sv/bin/supervisorctl", "-c", "/etc/sv.conf"]},
         ModuleJob("ansible.builtin.command",
                   {"argv": ["/opt/sv/bin/supervisorctl", "-c", "/etc/sv.conf",
                             "restart", "demo"]})),
        ({"backend": "command", "service": "demo",
          "command": {"argv": ["/usr/bin/docker", "restart"], "cwd": "/srv"}},
         ModuleJob("ansible.builtin.command",
                   {"argv": ["/usr/bin/docker", "restart", "demo"], "chdir": "/srv"})),
    ],
)  # fmt: skip
def test_restart_service_on_a_host_is_one_module(params: dict[str, Any], job: ModuleJob) -> None:
    executor = Recording(HostOutcome.CHANGED)
    parsed = RestartServiceParams.model_validate({**params, "on_host": True})
    assert RestartServiceParams.binds_host({**params, "on_host": True})
    assert not RestartServiceParams.binds_host(params)
    result = restart(parsed, 30, on_host(executor))
    assert result.outcome is ActionOutcome.SUCCEEDED
    assert executor.jobs == [job]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"backend": "docker"}, "use backend command with docker's argv"),
        ({"backend": "supervisor", "supervisor": {"url": "unix:///x.sock"}}, "not a url"),
        ({"backend": "supervisor", "supervisorctl": ["supervisorctl"]}, "must be an absolute path"),
        ({"backend": "command"}, "needs its command section"),
        ({"backend": "command", "command": {"argv": ["/bin/x"], "env": ["HOME"]}}, "this machine"),
    ],
)
def test_restart_service_on_a_host_refuses(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as err:
        RestartServiceParams.model_validate({**params, "service": "demo", "on_host": True})
    assert problem in str(err.value)
