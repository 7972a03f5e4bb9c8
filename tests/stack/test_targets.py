"""The inventory becomes Prometheus's file_sd targets: each host's exporter in the
system job, its per-host jobs in their own, every target with `host` and `groups`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from alert_webhook.config.settings import load_settings
from stack import targets
from stack.ports import StackError, ports_from_env
from stack.supervisor import Layout
from stack.up import render_all

PORTS = ports_from_env({"SYSTEM_EXPORTER_PORT": "19101", "PROMETHEUS_PORT": "19090"})

INVENTORY = """\
all:
  children:
    web:
      hosts:
        host-1: {ansible_host: 127.0.0.2}
        host-2:
          ansible_host: 127.0.0.3
          recovery_stack_jobs: {demo: 8081, demo_worker: 8082}
    db:
      hosts:
        host-2: {}
        host-3: {ansible_host: 127.0.0.4, recovery_stack_exporter_port: 9200}
"""


def inventory_file(tmp_path: Path, text: str = INVENTORY) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    return path


def read(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def by_host(groups: list[dict]) -> dict[str, dict]:
    return {g["labels"]["host"]: g for g in groups}


def test_each_hosts_exporter_with_its_host_and_groups_labels(tmp_path: Path) -> None:
    fleet = targets.render_fleet(tmp_path, PORTS, inventory_file(tmp_path))
    system = by_host(read(fleet.system_file))
    assert system["host-1"] == {
        "targets": ["127.0.0.2:9101"],
        "labels": {"host": "host-1", "groups": ",web,"},
    }
    assert system["host-2"]["labels"]["groups"] == ",db,web,"
    assert system["host-3"]["targets"] == ["127.0.0.4:9200"]
    # The stack's own machine stays watched, through its own exporter's port.
    assert system["localhost"] == {"targets": ["127.0.0.1:19101"], "labels": {"host": "localhost"}}
    assert fleet.folder == tmp_path / "var/run/targets"


def test_per_host_jobs_carry_their_job_label(tmp_path: Path) -> None:
    fleet = targets.render_fleet(tmp_path, PORTS, inventory_file(tmp_path))
    jobs = read(fleet.jobs_file)
    assert jobs == [
        {
            "targets": ["127.0.0.3:8081"],
            "labels": {"job": "demo", "host": "host-2", "groups": ",db,web,"},
        },
        {
            "targets": ["127.0.0.3:8082"],
            "labels": {"job": "demo_worker", "host": "host-2", "groups": ",db,web,"},
        },
    ]


def test_the_groups_label_matches_one_group_exactly() -> None:
    host = targets.Host("h", "10.0.0.1", None, ("db2", "web"))
    label = targets.host_labels(host)["groups"]
    assert label == ",db2,web,"
    assert ",db," not in label and ",db2," in label


def test_without_an_inventory_this_machine_is_the_only_host(tmp_path: Path) -> None:
    fleet = targets.render_fleet(tmp_path, PORTS, None)
    assert [h.name for h in fleet.hosts] == ["localhost"]
    assert read(fleet.system_file) == [
        {"targets": ["127.0.0.1:19101"], "labels": {"host": "localhost"}}
    ]
    assert read(fleet.jobs_file) == []
    assert (targets.recorded(tmp_path) or {})["inventory"] is None


def test_an_inventory_listing_this_machines_exporter_is_not_doubled(tmp_path: Path) -> None:
    text = (
        "all:\n  hosts:\n    stack-host:\n      ansible_host: 127.0.0.1\n"
        "      recovery_stack_exporter_port: 19101\n"
    )
    fleet = targets.render_fleet(tmp_path, PORTS, inventory_file(tmp_path, text))
    assert [g["labels"]["host"] for g in read(fleet.system_file)] == ["stack-host"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("all:\n  hosts:\n    h1: {ansible_port: x}\n", "host h1: ansible_port 'x' is not a port"),
        ("all:\n  hosts:\n    h1: {recovery_stack_jobs: {system: 9100}}\n", "host h1: "),
        ("just text\n", "lists no hosts"),
    ],
)
def test_a_broken_inventory_is_refused_naming_file_and_host(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = inventory_file(tmp_path, text)
    with pytest.raises(StackError) as exc:
        targets.render_fleet(tmp_path, PORTS, path)
    assert exc.value.exit_code == 2
    assert exc.value.problems[0].startswith(f"{path}: ")
    assert problem in exc.value.problems[0]
    assert not (tmp_path / "var/run/targets/system.json").exists()


def test_a_missing_inventory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError) as exc:
        targets.render_fleet(tmp_path, PORTS, tmp_path / "nope.yml")
    assert exc.value.problems == [f"{tmp_path / 'nope.yml'}: file not found"]


def test_files_are_replaced_by_a_rename_never_rewritten_in_place(tmp_path: Path) -> None:
    path = tmp_path / "system.json"
    path.write_text("old")
    before = os.stat(path).st_ino
    held = path.open()  # a reader that opened the old file keeps reading it whole
    targets.write_atomically(path, "new")
    assert held.read() == "old"
    held.close()
    assert path.read_text() == "new"
    assert os.stat(path).st_ino != before
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["system.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "system.json"
    path.write_text("old")

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        targets.write_atomically(path, Boom())  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["system.json"]


def test_sync_rerenders_from_the_inventory_the_run_started_with(tmp_path: Path) -> None:
    path = inventory_file(tmp_path)
    targets.render_fleet(tmp_path, PORTS, path)
    path.write_text(INVENTORY + "        host-4: {ansible_host: 127.0.0.5}\n")
    # Another shell's ports may differ: the run's own are kept.
    fleet = targets.sync(tmp_path, None, ports_from_env({}))
    system = by_host(read(fleet.system_file))
    assert system["host-4"]["targets"] == ["127.0.0.5:9101"]
    assert system["localhost"]["targets"] == ["127.0.0.1:19101"]
    assert fleet.prometheus_url == "http://127.0.0.1:19090"


def test_make_up_with_an_inventory_renders_file_sd_and_tells_the_webhook(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make()
    path = inventory_file(tmp_path)
    configs = render_all(layout, PORTS, "t", fast=True, inventory=path)
    prometheus = yaml.safe_load(configs["prometheus"].read_text())
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    assert jobs["system"] == {
        "job_name": "system",
        "file_sd_configs": [{"files": [str(tmp_path / "var/run/targets/system.json")]}],
    }
    assert jobs["inventory_jobs"]["file_sd_configs"] == [
        {"files": [str(tmp_path / "var/run/targets/jobs.json")]}
    ]
    assert jobs["demo"]["static_configs"] == [{"targets": ["127.0.0.1:8081"]}]  # the stack's own
    assert load_settings(configs["webhook"], {}).fleet.inventory == path.resolve()


def test_make_up_without_one_watches_this_machine_as_before(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make()
    configs = render_all(layout, PORTS, "t")
    assert load_settings(configs["webhook"], {}).fleet.inventory is None
    prometheus = yaml.safe_load(configs["prometheus"].read_text())
    names = [j["job_name"] for j in prometheus["scrape_configs"]]
    assert names.count("system") == 1 and names[-1] == "inventory_jobs"
