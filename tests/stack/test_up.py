"""What `make up` renders for each profile (the launcher's processes are
tested in tests/integration/test_stack_up.py)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alert_webhook.app.actions import registered_actions
from alert_webhook.config.settings import load_settings
from alert_webhook.remediation.actions.backup_source import LitestreamReplica
from alert_webhook.remediation.actions.restore_from_backup import RestoreParams
from alert_webhook.remediation.playbooks import load_playbooks, render_step
from demo.chaos import MAX_MEMORY_HOG_MIB
from stack import render
from stack.ports import StackError, ports_from_env
from stack.supervisor import DEMO_PROGRAMS, Layout
from stack.up import render_all, session_key

PORTS = ports_from_env({})
REPO = Path(__file__).resolve().parents[2]


def _restart_demo(path: Path) -> tuple[float, float, int]:
    book = next(
        p for p in load_playbooks(path, registered_actions()).playbooks if p.name == "restart-demo"
    )
    return book.cooldown, book.window, book.max_attempts


def test_the_default_profile_runs_the_shipped_playbooks_with_the_plans_windows(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    layout.make()
    configs = render_all(layout, PORTS, "t")
    remediation = load_settings(configs["webhook"], {}).remediation
    assert remediation.enabled and not remediation.dry_run
    assert remediation.playbooks_file == layout.run / "playbooks.yml"
    assert _restart_demo(remediation.playbooks_file) == (120.0, 3600.0, 3)
    probes = yaml.safe_load(configs["probes"].read_text())
    assert probes["defaults"]["service_interval"] == "60s"


@pytest.mark.parametrize("fast", [False, True])
def test_each_demo_program_is_a_process_group_of_the_system_exporter(
    tmp_path: Path, fast: bool
) -> None:
    layout = Layout(tmp_path)
    layout.make()
    system = yaml.safe_load(
        render_all(layout, PORTS, "t", fast=fast)["system_exporter"].read_text()
    )
    groups = {g["name"]: g["pidfile"] for g in system["process_groups"]}
    assert groups == {name: str(layout.pidfile(name)) for name in DEMO_PROGRAMS}
    assert {"demo", "demo_worker"} <= set(groups)


@pytest.mark.parametrize("fast", [False, True])
def test_the_orders_are_restored_from_this_runs_replica(tmp_path: Path, fast: bool) -> None:
    layout = Layout(tmp_path)
    layout.make()
    remediation = load_settings(render_all(layout, PORTS, "t", fast=fast)["webhook"], {})
    loaded = load_playbooks(remediation.remediation.playbooks_file, registered_actions())
    book = next(p for p in loaded.playbooks if p.name == "restore-orders")
    restore = render_step(book.actions[0], loaded.actions, {}).params
    assert isinstance(restore, RestoreParams)
    assert isinstance(restore.backups, LitestreamReplica)
    assert restore.path == str(layout.orders)
    assert restore.backups.litestream.replica == str(tmp_path / "var/backups/replica/orders")
    assert restore.roots == [str(layout.orders.parent), str(tmp_path / "var/backups/replica")]


def test_the_fast_profile_runs_them_in_seconds(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make()
    configs = render_all(layout, PORTS, "t", fast=True)
    remediation = load_settings(configs["webhook"], {}).remediation
    assert remediation.enabled and remediation.lease_seconds == 5.0
    assert remediation.playbooks_file == layout.run / "playbooks.yml"
    assert _restart_demo(remediation.playbooks_file) == (5.0, 30.0, 3)
    probes = yaml.safe_load(configs["probes"].read_text())
    assert probes["defaults"]["network_interval"] == probes["defaults"]["service_interval"] == "1s"
    prometheus = yaml.safe_load(configs["prometheus"].read_text())["global"]
    assert prometheus["scrape_interval"] == prometheus["evaluation_interval"] == "1s"
    rules = yaml.safe_load((layout.run / "rules" / "probes.yml").read_text())
    fors = {r["for"] for g in rules["groups"] for r in g["rules"]}
    assert fors == {"0s"}
    # The demo's memory hog, at its bound, crosses the fast profile's limit.
    host = yaml.safe_load((layout.run / "rules" / "host.yml").read_text())
    [memory] = [
        r for g in host["groups"] for r in g["rules"] if r.get("alert") == "ProcessMemoryHigh"
    ]
    threshold = int(re.search(r"> (\d+)", memory["expr"])[1])
    assert threshold == int(render.FAST_RULE_PARAMS["process_resident_memory_threshold_bytes"])
    assert threshold < MAX_MEMORY_HOG_MIB << 20
    route = yaml.safe_load(configs["alertmanager"].read_text())["route"]
    assert (route["group_wait"], route["group_interval"]) == ("0s", "1s")


def test_a_bad_playbook_file_stops_either_profile_before_anything_starts(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make()
    missing = tmp_path / "nowhere.yml"
    for fast in (False, True):
        with pytest.raises(StackError) as error:
            render_all(layout, PORTS, "t", fast=fast, playbooks=missing)
        assert (error.value.exit_code, error.value.problems) == (2, [f"{missing}: file not found"])


def test_a_webhook_config_of_ones_own_keeps_its_channels_and_gets_the_stacks_settings(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    layout.make()
    own = yaml.safe_load((REPO / "alert_webhook" / "webhook.yml").read_text())
    own["channels"]["webhook"]["providers"] = [{"name": "chat", "url": "http://127.0.0.1:1/h"}]
    source = tmp_path / "mine.yml"
    source.write_text(yaml.safe_dump(own))
    configs = render_all(layout, PORTS, "t", fast=True, webhook_config=source)
    settings = load_settings(configs["webhook"], {})
    assert [p.name for p in settings.channels.webhook.providers] == ["chat"]
    assert settings.remediation.enabled and "dependency" in settings.failover.services


def test_a_missing_webhook_config_stops_the_stack_naming_it(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make()
    missing = tmp_path / "nowhere.yml"
    with pytest.raises(StackError) as error:
        render_all(layout, PORTS, "t", webhook_config=missing)
    assert (error.value.exit_code, error.value.problems) == (2, [f"{missing}: file not found"])


@pytest.mark.parametrize(
    ("args", "launch"), [([], "-m stack up"), (["FAST=1"], "-m stack up --fast")]
)
@pytest.mark.integration
def test_make_up_fast_1_runs_the_fast_profile(args: list[str], launch: str) -> None:
    # -n: what make would run, without setting anything up.
    # --no-print-directory: under `make test` this make is a sub-make, which would
    # otherwise end its output with "Leaving directory".
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "up", *args],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines()[-1].rstrip().endswith(launch)


def test_the_signing_key_outlives_a_restart_so_emailed_ack_links_still_work(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    layout.make()
    first = session_key(layout, {})
    assert len(first) >= 16
    assert session_key(layout, {}) == first
    kept = layout.data / "webhook-secret-key"
    assert kept.stat().st_mode & 0o777 == 0o600


def test_a_signing_key_from_the_environment_wins_and_is_not_written(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make()
    assert session_key(layout, {"ALERT_WEBHOOK_SECRET_KEY": "k" * 32}) == "k" * 32
    assert not (layout.data / "webhook-secret-key").exists()


def _rule(rule_files: list[str], name: str) -> dict:
    for path in rule_files:
        for group in yaml.safe_load(Path(path).read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    return rule
    raise AssertionError(f"no {name} in {rule_files}")


def test_rule_params_render_the_default_profiles_rules_with_them_and_its_for(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    layout.make()
    configs = render_all(layout, PORTS, "t", rule_params={"process_cpu_cores_threshold": "0.2"})
    files = yaml.safe_load(configs["prometheus"].read_text())["rule_files"]
    assert all(f.startswith(str(layout.run / "rules")) for f in files)
    cpu = _rule(files, "ProcessCpuHigh")
    assert "> 0.2" in cpu["expr"] and cpu["for"] == "5m"  # the plan's `for` kept
    assert _rule(files, "ServiceUnavailable")["for"] == "2m"
    with pytest.raises(StackError, match="nope"):
        render_all(layout, PORTS, "t", rule_params={"nope": "1"})


@pytest.mark.integration
def test_a_rule_param_that_is_not_name_equals_value_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stack", "up", f"--root={tmp_path}", "--rule-param", "oops"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (
        2, "make up: --rule-param 'oops': must be NAME=VALUE\n",
    )  # fmt: skip


def test_the_webhooks_fleet_settings_name_the_stacks_host_keys_and_ansible_folder(
    tmp_path: Path,
) -> None:
    from stack.demo_hosts import FleetFiles
    from stack.supervisor import Layout
    from stack.up import FLEET_ANSIBLE_DIR, fleet_settings

    layout = Layout(tmp_path)
    files = FleetFiles(layout.var / "fleet")
    demo = fleet_settings(layout, files.inventory)
    assert demo["playbooks_dir"] == str(FLEET_ANSIBLE_DIR)
    assert (FLEET_ANSIBLE_DIR / "restart-program.yml").is_file()
    assert demo["ssh"] == {
        "known_hosts": str(files.known_hosts),
        "private_key_file": str(files.key),
    }
    # An operator's inventory: the key comes from RECOVERY_STACK_SSH_KEY or the settings.
    own = fleet_settings(layout, tmp_path / "hosts.yml")
    assert own["ssh"] == {"known_hosts": str(files.known_hosts)}
    assert own["inventory"] == str(tmp_path / "hosts.yml")


def test_a_bad_drill_schedule_stops_the_stack_before_anything_starts(tmp_path: Path) -> None:
    from stack.up import up

    env = {"STACK_DRILL_SCHEDULE": "restore-test=often"}
    with pytest.raises(StackError) as error:
        up(tmp_path, env)
    assert error.value.exit_code == 2
    [problem] = error.value.problems
    assert problem.startswith("STACK_DRILL_SCHEDULE=restore-test=often: restore-test=often: ")
    assert not (tmp_path / "var").exists()
