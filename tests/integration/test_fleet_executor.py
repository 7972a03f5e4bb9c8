"""The executor against real peers: Debian's sshd per host (tests/support/sshd.py)
and real ansible-runner / ansible-playbook. Each Ansible run costs ~1.5 s of CPU,
so every test runs as few as its claim needs."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from support.faults import FaultUnavailable, isolated_host
from support.procs import running, wait_until
from support.sshd import Fleet, inventory_text, ssh_fleet

from alert_webhook.fleet.executor import (
    RUN_TOKEN_ENV,
    AnsibleExecutor,
    HostOutcome,
    ModuleJob,
    PlaybookJob,
)
from alert_webhook.fleet.inventory import Host, load_inventory
from alert_webhook.fleet.settings import SshSettings
from stack.sshd import SshHost, find_sshd, make_key, privilege_separation_ready

pytestmark = pytest.mark.integration

ECHO_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: say the word
      ansible.builtin.command:
        argv: [/bin/echo, "{{ word }}"]
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with ssh_fleet(tmp_path_factory.mktemp("fleet"), 2) as hosts:
        yield hosts


def executor_for(fleet: Fleet, root: Path, **kw: object) -> AnsibleExecutor:
    books = root / "books"
    books.mkdir(exist_ok=True)
    (books / "echo.yml").write_text(ECHO_PLAYBOOK)
    ssh = SshSettings(known_hosts=fleet.known_hosts)
    return AnsibleExecutor(fleet.inventory, ssh, fleet.key, books, root / "cp", **kw)  # type: ignore[arg-type]


def _answers(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=0.5):
        return True


def host(fleet: Fleet, name: str) -> Host:
    found = load_inventory(fleet.inventory).host(name)
    assert found is not None
    return found


def test_a_module_reports_ok_changed_or_failed(fleet: Fleet, tmp_path: Path) -> None:
    executor = executor_for(fleet, tmp_path)
    one = host(fleet, "host-1")

    ok = executor.run(one, ModuleJob("ansible.builtin.ping"), 60)
    changed = executor.run(one, ModuleJob("ansible.builtin.command", {"argv": ["/bin/true"]}), 60)
    failed = executor.run(one, ModuleJob("ansible.builtin.command", {"argv": ["/bin/false"]}), 60)

    assert (ok.outcome, ok.rc) == (HostOutcome.OK, 0)
    assert "task ansible.builtin.ping: ok" in ok.summary
    assert changed.outcome is HostOutcome.CHANGED
    assert "changed=1" in changed.summary
    assert failed.outcome is HostOutcome.FAILED
    assert failed.detail.startswith("host-1 failed in task ansible.builtin.command")
    assert "fatal: [host-1]" in failed.output


def test_label_text_never_reaches_jinja_either_way_in(fleet: Fleet, tmp_path: Path) -> None:
    """`run` refuses a template before Ansible starts; `execute`, which passes
    values as they are, passes them unsafe: the lookup stays text on both paths."""
    executor = executor_for(fleet, tmp_path)
    one = host(fleet, "host-2")
    canary = tmp_path / "CANARY"
    evil = "{{ lookup('pipe', 'touch " + str(canary) + "') }}"

    refused = executor.run(one, PlaybookJob("echo.yml", {"word": evil}), 60)
    as_var = executor.execute(one, PlaybookJob("echo.yml", {"word": evil}), 60)
    as_arg = executor.execute(
        one, ModuleJob("ansible.builtin.command", {"argv": ["/bin/echo", evil]}), 60
    )

    assert refused.outcome is HostOutcome.FAILED
    assert refused.detail.startswith("refused before Ansible: vars.word: holds {{ lookup(")
    assert refused.duration == 0.0 and refused.rc is None  # nothing started
    assert (as_var.outcome, as_arg.outcome) == (HostOutcome.CHANGED, HostOutcome.CHANGED)
    assert not canary.exists()


def test_an_unreachable_host_is_its_own_outcome(fleet: Fleet, tmp_path: Path) -> None:
    with ssh_fleet(tmp_path / "lone", 1, first_address=9) as lone:
        executor = executor_for(lone, tmp_path)
        lone.processes["host-1"].stop()
        result = executor.run(host(lone, "host-1"), ModuleJob("ansible.builtin.ping"), 60)

    assert result.outcome is HostOutcome.UNREACHABLE
    assert result.detail.startswith("host-1 unreachable in task ansible.builtin.ping:")
    assert "Connection refused" in result.detail


def test_a_wrong_host_key_is_refused_and_never_learnt(fleet: Fleet, tmp_path: Path) -> None:
    impostor = make_key(tmp_path / "impostor", "not host-1")
    kind, key, *_ = Path(f"{impostor}.pub").read_text().split()
    one = fleet.host("host-1")
    known = tmp_path / "known_hosts"
    known.write_text(f"[{one.address}]:{one.port} {kind} {key}\n")
    executor = executor_for(fleet, tmp_path)
    executor = replace(executor, ssh=SshSettings(known_hosts=known))

    result = executor.run(host(fleet, "host-1"), ModuleJob("ansible.builtin.ping"), 60)

    assert result.outcome is HostOutcome.UNREACHABLE
    assert "Host key verification failed" in result.detail
    assert known.read_text() == f"[{one.address}]:{one.port} {kind} {key}\n"


def _ours(token: str) -> list[str]:
    left = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.environ().get(RUN_TOKEN_ENV) == token:
                left.append(" ".join(proc.info["cmdline"] or []))
        except psutil.Error:
            continue
    return left


def test_a_timeout_kills_every_process_of_the_run(fleet: Fleet, tmp_path: Path) -> None:
    token = f"timeout-{uuid.uuid4().hex}"
    executor = executor_for(fleet, tmp_path, new_token=lambda: token)
    # The module on the host is the host's process: closing the connection does not
    # end it (a non-pty session's children outlive it), so it is kept short.
    sleep = ModuleJob("ansible.builtin.command", {"argv": ["/bin/sleep", "8"]})

    result = executor.run(host(fleet, "host-2"), sleep, 3)

    assert result.outcome is HostOutcome.TIMED_OUT
    assert 3 <= result.duration < 6
    assert "ansible-playbook, its workers and ssh killed (" in result.detail
    assert _ours(token) == []  # ansible-playbook, its workers, their ssh, the ControlMaster


def test_a_host_cut_off_behind_a_kept_connection_is_unreachable_not_hung(tmp_path: Path) -> None:
    """A host acted on a moment ago (its ControlMaster kept for reuse) and then
    partitioned: the next run must end `unreachable` within about the connect
    timeout, not hang on the dead connection until the step's timeout."""
    try:
        with isolated_host() as cut_off:
            key = make_key(tmp_path / "id_ed25519", "recovery-stack test")
            lone = SshHost("host-1", cut_off.address, 2222, tmp_path / "host-1")
            lone.prepare(Path(f"{key}.pub"))
            (tmp_path / "known_hosts").write_text(lone.known_hosts_line())
            (tmp_path / "inventory.yml").write_text(inventory_text([lone]))
            privilege_separation_ready()
            with running("sshd", cut_off.argv(lone.argv(find_sshd())), tmp_path):
                wait_until(lambda: _answers(cut_off.address, 2222), 10, "sshd in the namespace")
                ssh = SshSettings(known_hosts=tmp_path / "known_hosts", connect_timeout=5)
                executor = AnsibleExecutor(
                    tmp_path / "inventory.yml", ssh, key, None, tmp_path / "cp"
                )
                target = load_inventory(tmp_path / "inventory.yml").hosts[0]
                job = ModuleJob("ansible.builtin.command", {"argv": ["/bin/true"]})
                assert executor.run(target, job, 60).outcome is HostOutcome.CHANGED

                cut_off.cut()
                after = executor.run(target, job, 60)
    except FaultUnavailable as exc:
        pytest.skip(f"network namespaces are not allowed here: {exc}")

    assert after.outcome is HostOutcome.UNREACHABLE, after
    assert after.duration < 30, f"{after.duration:.1f} s: hung on the kept connection"
