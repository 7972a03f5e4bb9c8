"""app/wiring.py's fleet: the inventory read once at start-up, the executor built
from `fleet:` in the settings, and every way that can be wrong refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alert_webhook.app.wiring import fleet_from, load_remediation_playbooks, remediation_from
from alert_webhook.cli.serve import main
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.fleet.executor import AnsibleExecutor
from alert_webhook.fleet.settings import SSH_KEY_ENV
from toolkit.config import ConfigError

STEP = {"action": "ansible", "params": {"module": "ansible.builtin.ping"}}


def files(tmp_path: Path, *, bound: bool = True) -> dict:
    books = tmp_path / "playbooks.yml"
    step = STEP if bound else {"action": "run_command", "params": {"argv": ["/bin/true"]}}
    books.write_text(yaml.safe_dump({"playbooks": [
        {"name": "ping", "match": {"alertname": "HostDown"}, "actions": [step]},
    ]}))  # fmt: skip
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    host-1:\n      ansible_host: 127.0.0.2\n")
    known = tmp_path / "known_hosts"
    known.write_text("")
    key = tmp_path / "id"
    key.write_text("not read")
    key.chmod(0o600)
    return {
        "remediation": {"enabled": True, "playbooks_file": str(books)},
        "fleet": {"inventory": str(inventory), "ssh": {"known_hosts": str(known)}},
        "_key": key,
    }


def settings(config: dict, **fleet: object):
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    config["fleet"] = {**config["fleet"], **fleet}
    return settings_from_mapping(config, {})


def test_the_inventory_and_executor_reach_the_runner(tmp_path: Path) -> None:
    config = files(tmp_path)
    s = settings(config)
    playbooks = load_remediation_playbooks(s)
    fleet = fleet_from(s, playbooks, {SSH_KEY_ENV: str(config["_key"])})
    assert fleet is not None and [h.name for h in fleet.inventory.hosts] == ["host-1"]
    assert isinstance(fleet.executor, AnsibleExecutor)
    assert fleet.executor.private_key == config["_key"].resolve()
    remediation = remediation_from(s, playbooks, fleet)
    assert remediation is not None and remediation.inventory is fleet.inventory


def test_a_host_bound_playbook_needs_an_inventory(tmp_path: Path) -> None:
    config = files(tmp_path)
    s = settings(config, inventory=None)
    with pytest.raises(ConfigError) as err:
        fleet_from(s, load_remediation_playbooks(s), {})
    assert err.value.problems == [
        "playbooks[0] (ping): acts on a fleet host, but fleet.inventory is not set"
    ]
    local = files(tmp_path, bound=False)
    s = settings(local, inventory=None)
    assert fleet_from(s, load_remediation_playbooks(s), {}) is None


def test_a_key_others_may_read_is_refused_without_showing_it(tmp_path: Path) -> None:
    config = files(tmp_path)
    config["_key"].chmod(0o640)
    s = settings(config, ssh={"known_hosts": str(tmp_path / "known_hosts"),
                              "private_key_file": str(config["_key"])})  # fmt: skip
    with pytest.raises(ConfigError) as err:
        fleet_from(s, load_remediation_playbooks(s), {})
    mode = "mode 0640; a private key must be 0600 or 0400"
    assert err.value.lines == [f"fleet.ssh.private_key_file: {config['_key']}: {mode}"]


def test_host_keys_must_be_known_before_acting_on_hosts(tmp_path: Path) -> None:
    config = files(tmp_path)
    s = settings(config, ssh={"known_hosts": str(tmp_path / "absent")})
    with pytest.raises(ConfigError) as err:
        fleet_from(s, load_remediation_playbooks(s), {})
    assert "no such file (the host keys remediation trusts)" in str(err.value)


def test_a_bad_inventory_stops_start_up_with_exit_2(tmp_path: Path, capsys) -> None:
    config = files(tmp_path)
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    'bad name!':\n")
    webhook = tmp_path / "webhook.yml"
    webhook.write_text(yaml.safe_dump({k: v for k, v in config.items() if k != "_key"}))
    assert main(["--config", str(webhook), "--check"], env={}) == 2
    assert f"{tmp_path / 'hosts.yml'}: host bad name!: the name must be" in capsys.readouterr().err
