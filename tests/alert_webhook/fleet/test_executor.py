"""The executor's decisions without Ansible: what is refused, what is written for
Ansible to read, how events become a host's outcome. The real runs are in
tests/integration/test_fleet_executor.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alert_webhook.fleet.executor import (
    AnsibleExecutor,
    HostOutcome,
    ModuleJob,
    PlaybookJob,
    check_private_key,
    data_problems,
    job_problems,
    judge,
    play_yaml,
    vars_yaml,
)
from alert_webhook.fleet.inventory import Host
from alert_webhook.fleet.settings import SshSettings
from toolkit.config import ConfigError


@pytest.mark.parametrize(
    "value",
    [
        "{{ lookup('pipe','id') }}",
        "{% if 1 %}x{% endif %}",
        "{# x #}",
        "lookup('pipe','id')",
        "a{{b",
    ],
)
def test_template_markers_are_refused_anywhere_in_the_data(value: str) -> None:
    problems = data_problems({"argv": ["/bin/echo", {"deep": value}]}, "args")
    assert len(problems) == 1
    assert problems[0].startswith("args.argv[1].deep: holds ")
    assert problems[0].endswith("which Ansible would template")


def test_keys_must_be_names() -> None:
    assert data_problems({"{{x}}": 1, "_uses_shell": True, "ok_key": "fine"}, "args") == [
        "args.{{x}}: '{{x}}' is not a name (a letter, then letters, digits, _)",
        "args._uses_shell: '_uses_shell' is not a name (a letter, then letters, digits, _)",
    ]


def test_vars_cannot_choose_the_connection(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("- hosts: all\n")
    job = PlaybookJob("p.yml", {"ansible_connection": "local", "service": "demo"})
    assert job_problems(job, tmp_path) == [
        "vars.ansible_connection: Ansible's own variables would override the inventory's connection"
    ]


def test_plain_data_passes() -> None:
    assert (
        data_problems({"name": "demo", "state": "restarted", "n": 3, "l": ["a:b", "c"]}, "a") == []
    )


def test_a_module_name_is_checked() -> None:
    assert job_problems(ModuleJob("ansible.builtin.command", {}), None) == []
    assert job_problems(ModuleJob("command;reboot", {}), None) == [
        "module 'command;reboot': not a module name"
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../outside.yml", "a plain file name"),
        ("sub/inner.yml", "a plain file name"),
        (".hidden.yml", "a plain file name"),
        ("restart.sh", "a plain file name"),
        ("missing.yml", "no such file"),
        ("link.yml", "no such file"),  # a link out of the folder
    ],
)
def test_a_playbook_is_a_plain_file_of_the_folder(tmp_path: Path, name: str, problem: str) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "restart.yml").write_text("- hosts: all\n")
    (tmp_path / "outside.yml").write_text("- hosts: all\n")
    (books / "link.yml").symlink_to(tmp_path / "outside.yml")

    assert job_problems(PlaybookJob("restart.yml"), books) == []
    problems = job_problems(PlaybookJob(name), books)
    assert len(problems) == 1 and problem in problems[0]


def test_without_a_playbook_folder_no_playbook_runs() -> None:
    assert job_problems(PlaybookJob("restart.yml"), None) == [
        "fleet.playbooks_dir is not set: no playbook can run"
    ]


class _Tagged(yaml.SafeLoader):
    """Reads `!unsafe` back as ("unsafe", text), to see what Ansible will see."""


_Tagged.add_constructor("!unsafe", lambda loader, node: ("unsafe", loader.construct_scalar(node)))


def test_every_string_goes_to_ansible_tagged_unsafe() -> None:
    text = play_yaml(
        "host-2", ModuleJob("ansible.builtin.command", {"argv": ["/bin/echo", "{{ x }}"], "n": 2})
    )
    play = yaml.load(text, Loader=_Tagged)  # noqa: S506 (our loader: safe plus one tag)

    assert play[0]["hosts"] == "host-2"
    assert play[0]["gather_facts"] is False
    task = play[0]["tasks"][0]["ansible.builtin.command"]
    assert task == {"argv": [("unsafe", "/bin/echo"), ("unsafe", "{{ x }}")], "n": 2}
    variables = yaml.load(vars_yaml({"word": "{% x %}", "list": ["a"]}), Loader=_Tagged)  # noqa: S506
    assert variables == {"word": ("unsafe", "{% x %}"), "list": [("unsafe", "a")]}


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("secret key text")
    key.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        check_private_key(key, "fleet.ssh.private_key_file")
    assert "mode 0644; a private key must be 0600 or 0400" in str(err.value.problems)
    assert "secret key text" not in str(err.value.problems)
    key.chmod(0o600)
    assert check_private_key(key, "fleet.ssh.private_key_file") == key.resolve()
    with pytest.raises(ConfigError):
        check_private_key(tmp_path / "absent", "RECOVERY_STACK_SSH_KEY")


def test_ssh_checks_host_keys_against_the_stacks_file_only(tmp_path: Path) -> None:
    ssh = SshSettings(user="remediation", known_hosts=tmp_path / "known_hosts", control_persist=30)
    executor = AnsibleExecutor(tmp_path / "hosts.yml", ssh, tmp_path / "id", None, tmp_path / "cp")

    env = executor.environment("token")
    args = env["ANSIBLE_SSH_ARGS"]

    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in args
    assert "StrictHostKeyChecking=yes" in args and "=no" not in args.replace(
        "UpdateHostKeys=no", ""
    )
    assert "GlobalKnownHostsFile=/dev/null" in args and "ControlPersist=30s" in args
    # A kept connection to a host gone silent is given up after ~connect_timeout (10 s).
    assert "ServerAliveInterval=3" in args and "ServerAliveCountMax=3" in args
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert env["ANSIBLE_REMOTE_USER"] == "remediation"
    assert env["ANSIBLE_PRIVATE_KEY_FILE"] == str(tmp_path / "id")
    assert (tmp_path / "cp").stat().st_mode & 0o777 == 0o700


def test_a_refused_job_starts_nothing(tmp_path: Path) -> None:
    executor = AnsibleExecutor(tmp_path / "hosts.yml", control_dir=tmp_path / "cp")
    host = Host("host-1", "127.0.0.2", 22, ())
    result = executor.run(host, ModuleJob("ansible.builtin.command", {"argv": ["{{ x }}"]}), 5)
    assert result.outcome is HostOutcome.FAILED and result.rc is None
    assert (
        result.detail
        == "refused before Ansible: args.argv[0]: holds {{, which Ansible would template"
    )


def _event(kind: str, host: str = "host-1", **data: Any) -> dict[str, Any]:
    return {"event": kind, "event_data": {"host": host, "task": "t", **data}}


def _stats(**counts: int) -> dict[str, Any]:
    return {
        "event": "playbook_on_stats",
        "event_data": {k: {"host-1": v} for k, v in counts.items()},
    }


def test_events_become_the_hosts_outcome() -> None:
    ok = [_event("runner_on_ok", res={"changed": False}, duration=0.5), _stats(ok=1)]
    changed = [
        _event("runner_on_ok", res={"changed": False}),
        _event("runner_on_ok", res={"changed": True}),
    ]
    ignored = [_event("runner_on_failed", res={"msg": "x"}, ignore_errors=True)]

    assert judge(ok, "host-1", 0) == (
        HostOutcome.OK, "task t: ok 0.50s; stats ok=1 changed=0 failures=0 dark=0 skipped=0", ""
    )  # fmt: skip
    assert judge(changed, "host-1", 0)[0] is HostOutcome.CHANGED
    assert judge(ignored, "host-1", 0)[0] is HostOutcome.OK


def test_unreachable_outranks_failed_and_names_the_host() -> None:
    events = [
        _event("runner_on_failed", res={"msg": "boom", "stderr": "line1\nline2"}),
        _event(
            "runner_on_unreachable",
            res={"msg": "ssh: connect to host 127.0.0.3 port 22: Connection refused"},
        ),
    ]
    outcome, _, detail = judge(events, "host-1", 4)
    assert outcome is HostOutcome.UNREACHABLE
    assert detail == f"host-1 unreachable in task t: {events[1]['event_data']['res']['msg']}"
    failed = judge(events[:1], "host-1", 2)
    assert (
        failed[0] is HostOutcome.FAILED and failed[2] == "host-1 failed in task t: boom line1 line2"
    )


def test_no_task_on_the_host_is_a_failure() -> None:
    """A playbook whose `hosts:` leaves the host out exits 0 having done nothing."""
    other = [_event("runner_on_ok", host="host-2", res={"changed": True})]
    assert judge(other, "host-1", 0) == (
        HostOutcome.FAILED, "", "no task ran on host-1 (ansible-playbook exit status 0)"
    )  # fmt: skip
