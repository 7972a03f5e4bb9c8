from pathlib import Path

import pytest
import yaml

from stack import render
from stack.ports import StackError, ports_from_env

MOVED = ports_from_env({"PROMETHEUS_PORT": "19090", "WEBHOOK_PORT": "19095", "DEMO_PORT": "18081"})


def test_rewrite_ports_changes_only_whole_ports() -> None:
    text = (
        "a: 127.0.0.1:9090\nb: 127.0.0.1:90901\nc: 10.0.0.1:9090\nd: http://127.0.0.1:9095/alerts"
    )
    out = render.rewrite_ports(text, MOVED)
    assert "a: 127.0.0.1:19090" in out
    assert "b: 127.0.0.1:90901" in out  # another port that merely starts alike
    assert "c: 10.0.0.1:9090" in out  # not ours
    assert "http://127.0.0.1:19095/alerts" in out


def test_prometheus_targets_rules_and_intervals(tmp_path: Path) -> None:
    path = render.render_prometheus(tmp_path, MOVED, ["/abs/rules/*.yml"], interval="1s")
    config = yaml.safe_load(path.read_text())
    assert config["rule_files"] == ["/abs/rules/*.yml"]
    assert config["global"]["evaluation_interval"] == "1s"
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets["demo"] == ["127.0.0.1:18081"]
    assert targets["prometheus"] == ["127.0.0.1:19090"]
    assert targets["system"] == ["127.0.0.1:9101"]


def test_alertmanager_gets_the_token_file_and_fast_routes(tmp_path: Path) -> None:
    path = render.render_alertmanager(tmp_path, MOVED, "s3cret", fast=True)
    config = yaml.safe_load(path.read_text())
    token_file = tmp_path / "webhook-token"
    assert token_file.read_text() == "s3cret"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert "s3cret" not in path.read_text()
    webhook = config["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == "http://127.0.0.1:19095/alerts"

    def waits(route: dict) -> list[str]:
        return [route["group_wait"]] + [w for r in route.get("routes", []) for w in waits(r)]

    assert set(waits(config["route"])) == {"0s"}


def test_rules_get_the_for_override_and_the_profiles_parameters(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "params.yml").write_text("floor: 1\nwindow: 5m\n")
    (source / "a.yml").write_text(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up < ${floor}\n"
        "    for: ${window}\n  - record: job:up:sum\n    expr: sum(up)\n"
    )
    [written] = render.render_rules(tmp_path / "out", "0s", source=source, params={"floor": "2"})
    rules = yaml.safe_load(Path(written).read_text())["groups"][0]["rules"]
    assert (rules[0]["expr"], rules[0]["for"]) == ("up < 2", "0s")
    assert "for" not in rules[1]


def test_broken_rule_templates_stop_the_stack_naming_the_problem(tmp_path: Path) -> None:
    (tmp_path / "params.yml").write_text("floor: 1\n")
    (tmp_path / "a.yml").write_text("groups: []\n")
    with pytest.raises(StackError) as raised:
        render.render_rules(tmp_path / "out", "0s", source=tmp_path)
    assert raised.value.problems == ["params.yml: floor: not used by any rule"]
    assert raised.value.exit_code == 2


def test_the_webhook_config_gets_the_runs_operator(tmp_path: Path) -> None:
    source = tmp_path / "webhook.yml"
    source.write_text(
        "links: {dashboard_url: 'http://127.0.0.1:9095/'}\nauth: {operators: {ann: 'h1'}}\n"
    )
    path = render.render_webhook(tmp_path / "out", MOVED, {"operator": "h2"}, source=source)
    config = yaml.safe_load(path.read_text())
    assert config["links"]["dashboard_url"] == "http://127.0.0.1:19095/"
    assert config["auth"]["operators"] == {"ann": "h1", "operator": "h2"}


def test_the_login_file_is_for_its_owner_only(tmp_path: Path) -> None:
    path = render.write_login(tmp_path, "operator", "pw-123")
    assert path.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(path.read_text()) == {"name": "operator", "password": "pw-123"}


def test_the_dependency_folder_follows_the_ports_and_keeps_a_failover(tmp_path) -> None:
    from demo.dependency import ActiveInstance, switch
    from stack.ports import ports_from_env
    from stack.render import render_dependency

    folder = tmp_path / "dependency"
    render_dependency(folder, ports_from_env({}))
    active = ActiveInstance(folder)
    assert (active.current().name, active.current().url) == ("primary", "http://127.0.0.1:8083")
    switch(folder, "secondary")
    render_dependency(folder, ports_from_env({"DEPENDENCY_SECONDARY_PORT": "18084"}))
    assert (active.current().name, active.current().url) == ("secondary", "http://127.0.0.1:18084")
    (folder / "active").unlink()
    (folder / "active").symlink_to("nowhere.url")
    render_dependency(folder, ports_from_env({}))
    assert active.current().name == "primary"


def test_fast_probes_run_every_second(tmp_path: Path) -> None:
    source = tmp_path / "probes.yml"
    source.write_text(
        "defaults: {network_interval: 30s, service_interval: 60s, timeout: 5s}\n"
        "checks:\n- {name: a, kind: http, url: 'http://127.0.0.1:8081/healthz', interval: 15s}\n"
        "- {name: b, kind: tcp, address: '127.0.0.1:8081'}\n"
    )
    fast = yaml.safe_load(render.render_probes(tmp_path / "fast", MOVED, True, source).read_text())
    assert fast["defaults"] == {"network_interval": "1s", "service_interval": "1s", "timeout": "5s"}
    assert [c.get("interval") for c in fast["checks"]] == [None, None]
    assert fast["checks"][1]["address"] == "127.0.0.1:18081"
    (tmp_path / "plain").mkdir()
    plain = render.render_probes(tmp_path / "plain", MOVED, False, source).read_text()
    assert "service_interval: 60s" in plain and "interval: 15s" in plain


PLAYBOOKS = """\
playbooks:
  - name: slow
    match: {alertname: A}
    actions: [{action: run_command, params: {argv: [/bin/true]}}]
    cooldown: 2m
    window: 1h
    max_attempts: 3
  - name: quick
    match: {alertname: B}
    actions: []
    cooldown: 2
    window: 10s
"""


def test_fast_playbooks_cut_cooldowns_and_windows_only(tmp_path: Path) -> None:
    source = tmp_path / "playbooks.yml"
    source.write_text(PLAYBOOKS)
    copy = yaml.safe_load(render.render_playbooks(tmp_path / "out", source).read_text())
    slow, quick = copy["playbooks"]
    assert (slow["cooldown"], slow["window"]) == (5.0, 30.0)
    assert (quick["cooldown"], quick["window"]) == (2.0, 10.0)  # already shorter: kept
    assert (
        slow["max_attempts"] == 3
        and slow["actions"] == yaml.safe_load(PLAYBOOKS)["playbooks"][0]["actions"]
    )


def test_paths_under_the_stack_root_are_moved_under_the_runs_root(tmp_path: Path) -> None:
    source = tmp_path / "playbooks.yml"
    argv = ["/srv/recovery-stack/bin/x", "/srv/recovery-stackish", "/srv/other"]
    steps = [{"action": "run_command", "params": {"argv": argv}}]
    book = {"name": "p", "match": {"a": "b"}, "actions": steps, "cooldown": "2m"}
    source.write_text(yaml.safe_dump({"playbooks": [book]}))
    root = Path("/home/me/stack")
    copy = render.render_playbooks(tmp_path / "out", source, root=root, fast=False)
    book = yaml.safe_load(copy.read_text())["playbooks"][0]
    assert book["actions"][0]["params"]["argv"] == [
        "/home/me/stack/bin/x", "/srv/recovery-stackish", "/srv/other",
    ]  # fmt: skip
    assert book["cooldown"] == "2m"  # not the fast profile: as written


def test_fast_playbooks_check_their_runs_within_seconds(tmp_path: Path) -> None:
    source = tmp_path / "playbooks.yml"
    books = yaml.safe_load(PLAYBOOKS)
    books["playbooks"][0]["verify"] = {"query": "up == 0", "delay": "1m", "window": "1s"}
    source.write_text(yaml.safe_dump(books))
    copy = yaml.safe_load(render.render_playbooks(tmp_path / "out", source).read_text())
    slow, quick = copy["playbooks"]
    assert slow["verify"] == {"query": "up == 0", "delay": 2.0, "window": 1.0}
    assert quick["verify"] == {"delay": 2.0, "window": 3.0}  # the defaults, cut


def test_a_bad_playbook_file_is_reported_naming_it(tmp_path: Path) -> None:
    source = tmp_path / "playbooks.yml"
    source.write_text("playbooks:\n  - name: x\n    match: {a: b}\n    cooldown: soon\n")
    with pytest.raises(StackError) as error:
        render.render_playbooks(tmp_path / "out", source)
    assert error.value.exit_code == 2
    assert error.value.problems == [f"{source}: playbooks[0].cooldown: must be a positive duration"]
    assert not (tmp_path / "out" / "playbooks.yml").exists()


def test_the_webhook_config_gets_remediation_over_its_own(tmp_path: Path) -> None:
    source = tmp_path / "webhook.yml"
    source.write_text("remediation: {enabled: false, dry_run: false}\n")
    on = {"enabled": True, "playbooks_file": "/x/playbooks.yml"}
    path = render.render_webhook(tmp_path / "out", MOVED, {}, on, source=source)
    assert yaml.safe_load(path.read_text())["remediation"] == {**on, "dry_run": False}


def test_the_fleets_probe_checks_join_the_probe_file_naming_their_hosts(tmp_path: Path) -> None:
    from alert_webhook.fleet.inventory import Host
    from exporters.probe_config import load_probe_file

    host = Host("host-2", "127.0.0.3", 2222, (), probes=(
        {"name": "demo-http", "kind": "http", "service": "demo",
         "url": "http://127.0.0.3:8081/healthz"},
    ))  # fmt: skip
    for fast in (False, True):
        path = render.render_probes(
            tmp_path / str(fast), MOVED, fast=fast, fleet_checks=host.probe_checks()
        )
        probes = {p.name: p for p in load_probe_file(path, {})}
        assert probes["demo-http.host-2"].check.host == "host-2"
        assert probes["demo-http"].check.host is None  # the local demo's
        assert probes["demo-http.host-2"].interval == (1 if fast else 30)  # http: network


def test_a_fleet_probe_check_that_is_wrong_stops_make_up_naming_it(tmp_path: Path) -> None:
    from alert_webhook.fleet.inventory import Host

    host = Host("host-2", "127.0.0.3", 2222, (), probes=({"name": "x", "kind": "htp"},))
    with pytest.raises(StackError) as error:
        render.render_probes(tmp_path, MOVED, fleet_checks=host.probe_checks())
    assert error.value.exit_code == 2
    assert any("checks[" in p and "htp" in p for p in error.value.problems), error.value.problems


def test_the_fast_profile_judges_flapping_on_its_own_time_scale(tmp_path: Path) -> None:
    from alert_webhook.config.settings import settings_from_mapping

    fast = render.render_webhook(tmp_path / "fast", MOVED, {}, fast=True)
    flapping = settings_from_mapping(yaml.safe_load(fast.read_text()), {}).incidents.flapping
    assert (flapping.window_seconds, flapping.hold_seconds) == (20, 5)
    assert flapping.max_changes == 4  # as the shipped file says
    fleet = settings_from_mapping(yaml.safe_load(fast.read_text()), {}).fleet
    assert fleet.breaker.window == render.FAST_WINDOW_SECONDS
    plain = render.render_webhook(tmp_path / "plain", MOVED, {})
    default = settings_from_mapping(yaml.safe_load(plain.read_text()), {}).incidents.flapping
    assert (default.window_seconds, default.hold_seconds) == (1800, 600)


def test_a_webhook_files_own_ssh_options_stay_beside_the_stacks_fleet_settings(
    tmp_path: Path,
) -> None:
    from alert_webhook.config.settings import settings_from_mapping

    source = tmp_path / "webhook.yml"
    own = yaml.safe_load(render.DEFAULT_WEBHOOK_CONFIG.read_text())
    own["fleet"] = {"ssh": {"control_persist": "1s", "pipelining": False, "user": "remediation"}}
    source.write_text(yaml.safe_dump(own))
    stacks = {"inventory": str(tmp_path / "hosts.yml"), "ssh": {"known_hosts": "kh"}}
    path = render.render_webhook(tmp_path / "run", MOVED, {}, source=source, fleet=stacks)
    ssh = settings_from_mapping(yaml.safe_load(path.read_text()), {}).fleet.ssh
    assert (ssh.control_persist, ssh.pipelining, ssh.user) == (1.0, False, "remediation")
    assert ssh.known_hosts == Path("kh")


def test_the_webhook_gets_the_dependencys_failover_chain_as_valid_settings(tmp_path) -> None:
    from alert_webhook.config.settings import settings_from_mapping
    from stack.ports import ports_from_env
    from stack.render import dependency_failover, render_dependency, render_webhook

    ports = ports_from_env({"DEPENDENCY_TERTIARY_PORT": "18085"})
    folder = render_dependency(tmp_path / "dependency", ports)
    path = render_webhook(
        tmp_path / "run", ports, {}, {}, dependency_failover(folder, ports, False)
    )
    settings = settings_from_mapping(yaml.safe_load(path.read_text()), {})
    chain = settings.failover.services["dependency"]
    assert [b.name for b in chain.backends] == ["primary", "secondary", "tertiary"]
    assert chain.backends[2].health.url == "http://127.0.0.1:18085/healthz"
    assert chain.symlink.link == str(folder / "active")
    assert chain.backends[1].path == str(folder / "secondary.url")
    assert chain.switch_back_after == 300
    fast = dependency_failover(folder, ports, True)["services"]["dependency"]
    assert (fast["switch_back_after"], fast["check_interval"]) == ("10s", "1s")


def test_the_system_exporter_counts_each_program_by_its_pidfile(tmp_path: Path) -> None:
    from exporters.system import load_config

    pidfiles = {"demo": tmp_path / "demo.pid", "demo_worker": tmp_path / "demo_worker.pid"}
    path = render.render_system_exporter(tmp_path / "run", pidfiles)
    config = load_config(path)  # as the exporter reads it at start
    assert {g.name: g.pidfile for g in config.process_groups} == pidfiles


def test_with_an_inventory_the_fleets_playbooks_follow_the_stacks_own(tmp_path: Path) -> None:
    from stack.up import FLEET_PLAYBOOK_FILE

    path = render.render_playbooks(tmp_path, fast=True, fleet=FLEET_PLAYBOOK_FILE)
    names = [b["name"] for b in yaml.safe_load(path.read_text())["playbooks"]]
    assert names[-1] == "restart-demo-on-host" and "restart-demo" in names[:-1]
    copy = render.check_playbooks(path)
    assert copy.playbooks[-1].cooldown == render.FAST_COOLDOWN_SECONDS  # fast applies to it too
