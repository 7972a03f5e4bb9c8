"""The inventory is the operator's Ansible file, read by Ansible; an alert's host
is one plain name of it or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from alert_webhook.fleet.inventory import (
    NotInFleet,
    fleet_inventory,
    load_inventory,
    local_inventory,
)
from toolkit.config import ConfigError

YAML = """\
all:
  children:
    web:
      hosts:
        host-1: {ansible_host: 127.0.0.2, ansible_port: 2222}
        host-2:
          ansible_host: 127.0.0.3
          recovery_stack_jobs: {demo: 8081, demo_worker: 8082}
          recovery_stack_probes:
            - {name: demo-http, kind: http, service: demo, url: "http://127.0.0.3:8081/healthz"}
    db:
      hosts:
        host-3: {ansible_host: 127.0.0.4, recovery_stack_exporter_port: 9200}
"""

INI = """\
[web]
mail ansible_host=10.0.0.7 ansible_port=2200
[erp]
erp-1
"""


@pytest.fixture
def inventory(tmp_path: Path):
    path = tmp_path / "hosts.yml"
    path.write_text(YAML)
    return load_inventory(path)


def test_yaml_hosts_with_addresses_ports_groups_and_jobs(inventory) -> None:
    by_name = {h.name: h for h in inventory.hosts}
    assert by_name["host-1"].address == "127.0.0.2"
    assert by_name["host-1"].ssh_port == 2222
    assert by_name["host-1"].groups == ("web",)
    assert by_name["host-2"].jobs == {"demo": 8081, "demo_worker": 8082}
    assert by_name["host-3"].exporter == "127.0.0.4:9200"
    assert by_name["host-2"].exporter == "127.0.0.3:9101"


def test_probes_of_a_host_are_named_after_it(inventory) -> None:
    [check] = inventory.host("host-2").probe_checks()
    assert check == {
        "name": "demo-http.host-2",
        "kind": "http",
        "service": "demo",
        "url": "http://127.0.0.3:8081/healthz",
        "host": "host-2",
    }
    assert inventory.host("host-1").probe_checks() == []


def test_ini_inventory_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text(INI)
    by_name = {h.name: h for h in load_inventory(path).hosts}
    assert by_name["mail"].address == "10.0.0.7"
    assert by_name["mail"].ssh_port == 2200
    assert by_name["erp-1"].address == "erp-1"
    assert by_name["erp-1"].groups == ("erp",)


@pytest.mark.parametrize(
    ("labels", "host"),
    [
        ({"instance": "127.0.0.3:8081"}, "host-2"),
        ({"instance": "host-1:9101"}, "host-1"),
        ({"instance": "127.0.0.4"}, "host-3"),
        ({"host": "host-1", "instance": "127.0.0.3:8081"}, "host-1"),
    ],
)
def test_resolves_by_name_address_or_host_label(inventory, labels, host) -> None:
    assert inventory.resolve(labels).name == host


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ({"instance": "127.0.0.3:8081;reboot"}, "not a plain host name"),
        ({"instance": "{{ lookup('pipe','id') }}"}, "not a plain host name"),
        ({"host": "host-9"}, "names no host"),
        ({"host": "all"}, "names no host"),
        ({"instance": "*"}, "not a plain host name"),
        ({"instance": "host-2,host-3"}, "not a plain host name"),
        ({"host": "!host-1"}, "not a plain host name"),
        ({"host": "~host-.*"}, "not a plain host name"),
        ({"host": "web:db"}, "not a plain host name"),
        ({"instance": "host-1\n:22"}, "not a plain host name"),
        ({"host": "host-1\x00"}, "not a plain host name"),
        ({"host": "web"}, "names no host"),  # a group is not a host
        ({"job": "demo"}, "neither a host nor an instance"),
    ],
)
def test_refuses_anything_but_one_inventory_host(inventory, labels, reason) -> None:
    with pytest.raises(NotInFleet, match=reason):
        inventory.resolve(labels)


def test_two_hosts_on_one_address_are_not_guessed_between(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  hosts:\n    a: {ansible_host: 10.0.0.1}\n    b: {ansible_host: 10.0.0.1}\n"
    )
    with pytest.raises(NotInFleet, match="several hosts"):
        load_inventory(path).resolve({"instance": "10.0.0.1:9101"})


def test_problems_named_with_the_file_and_host(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  hosts:\n    a:\n      ansible_port: http\n      recovery_stack_jobs: {demo: 0}\n"
        "      recovery_stack_probes: [{kind: http}, {name: x, host: b}]\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_inventory(path)
    assert raised.value.lines == [
        f"{path}: host a: ansible_port 'http' is not a port (1-65535)",
        f"{path}: host a: recovery_stack_jobs.demo 0 is not a port (1-65535)",
        f"{path}: host a: recovery_stack_probes[0] must be a check with a name",
        f"{path}: host a: recovery_stack_probes[1].host: set by the inventory, not the check",
    ]


def test_missing_or_unparsable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_inventory(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("all: [this, is: not an inventory\n")
    with pytest.raises(ConfigError, match="not an Ansible inventory"):
        load_inventory(bad)


def test_without_a_file_the_local_machine_is_the_only_host() -> None:
    assert [h.name for h in local_inventory().hosts] == ["localhost"]


def test_the_settings_inventory_else_this_machine(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(YAML)
    assert [h.name for h in fleet_inventory(path).hosts] == ["host-1", "host-2", "host-3"]
    assert fleet_inventory(None) == local_inventory()


def test_a_broken_inventory_stops_the_webhook_at_start_up_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alert_webhook.cli.serve import main

    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    host-1: {ansible_port: 0}\n")
    config = tmp_path / "webhook.yml"
    config.write_text(f"fleet: {{inventory: {path}}}\n")
    assert main(["--config", str(config), "--check"], env={}) == 2
    err = capsys.readouterr().err
    problem = "host host-1: ansible_port 0 is not a port (1-65535)"
    assert err == f"alert_webhook: fleet.inventory {path}: {problem}\n"
    path.unlink()
    assert main(["--config", str(config), "--check"], env={}) == 2
    assert capsys.readouterr().err == f"alert_webhook: fleet.inventory {path}: file not found\n"


def test_what_is_read_is_plain_python_that_yaml_and_json_write(inventory) -> None:
    import json

    import yaml

    host = inventory.host("host-2")
    assert type(host.name) is str and type(host.address) is str
    yaml.safe_dump([host.probe_checks(), dict(host.jobs), list(host.groups)])
    json.dumps([host.probe_checks(), dict(host.jobs)])
