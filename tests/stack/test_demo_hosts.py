"""The demo fleet's plan and files, without starting anything: the hosts'
addresses, the inventory the stack and Ansible read, each host's supervisord."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

import pytest
import yaml

from alert_webhook.fleet.inventory import load_inventory
from stack.demo_hosts import (
    DEFAULT_SSH_PORT,
    SSH_PORT_ENV,
    FleetFiles,
    inventory_text,
    plan_hosts,
    ssh_port_from_env,
)
from stack.ports import StackError

PORTS = {"demo": 18081, "system_exporter": 19101}


def test_hosts_take_the_loopback_addresses_after_the_stacks(tmp_path: Path) -> None:
    hosts = plan_hosts(tmp_path, 3, PORTS, 2222)
    assert [(h.name, h.address) for h in hosts] == [
        ("host-1", "127.0.0.2"),
        ("host-2", "127.0.0.3"),
        ("host-3", "127.0.0.4"),
    ]
    assert {(h.ssh.port, h.demo_port, h.exporter_port) for h in hosts} == {(2222, 18081, 19101)}
    assert hosts[1].root == tmp_path / "host-2"


@pytest.mark.parametrize("count", [0, -1, 51])
def test_a_count_out_of_range_is_refused(tmp_path: Path, count: int) -> None:
    with pytest.raises(StackError, match=f"HOSTS={count}: must be from 1 to 50"):
        plan_hosts(tmp_path, count, PORTS, 2222)


def test_the_ssh_port_comes_from_the_environment() -> None:
    assert ssh_port_from_env({}) == DEFAULT_SSH_PORT
    assert ssh_port_from_env({SSH_PORT_ENV: "12345"}) == 12345
    with pytest.raises(StackError, match=f"{SSH_PORT_ENV}=ssh: must be a port number"):
        ssh_port_from_env({SSH_PORT_ENV: "ssh"})


def test_the_inventory_is_a_plain_ansible_inventory_the_stack_reads(tmp_path: Path) -> None:
    files = FleetFiles(tmp_path / "fleet")
    files.folder.mkdir()
    hosts = plan_hosts(files.folder, 2, PORTS, 2222)
    files.inventory.write_text(inventory_text(hosts, files))

    inventory = load_inventory(files.inventory)
    host = inventory.host("host-2")
    assert host is not None
    assert (host.address, host.ssh_port, host.exporter_port) == ("127.0.0.3", 2222, 19101)
    assert dict(host.jobs) == {"demo": 18081}
    assert host.groups == ("demo_hosts",)

    raw = yaml.safe_load(files.inventory.read_text())["all"]
    # Host keys checked against the fleet's own known_hosts, with the fleet's key.
    assert raw["vars"]["ansible_ssh_private_key_file"] == str(files.key)
    assert f"UserKnownHostsFile={files.known_hosts}" in raw["vars"]["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in raw["vars"]["ansible_ssh_common_args"]
    entry = raw["children"]["demo_hosts"]["hosts"]["host-1"]
    assert entry["ansible_python_interpreter"] == sys.executable
    assert entry["recovery_stack_service_manager"] == "supervisord"
    assert entry["recovery_stack_supervisorctl"][-2:] == ["-c", str(hosts[0].supervisord_conf)]


def test_each_host_has_its_own_supervisord_with_the_demo_on_its_address(tmp_path: Path) -> None:
    host = plan_hosts(tmp_path, 2, PORTS, 2222)[1]
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(host.supervisord_text())
    assert conf["unix_http_server"]["file"] == str(tmp_path / "host-2" / "supervisor.sock")
    assert conf["unix_http_server"]["chmod"] == "0700"
    assert conf["include"]["files"] == str(host.include / "*.conf")
    demo = conf["program:demo"]
    assert "--bind=127.0.0.3:18081" in demo["command"]
    # As on the stack: the demo comes back only through the alert path.
    assert demo["autorestart"] == "false"
