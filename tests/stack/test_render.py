from pathlib import Path

import yaml

from stack import render
from stack.ports import ports_from_env

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


def test_rules_get_the_for_override(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.yml").write_text(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n"
        "  - record: job:up:sum\n    expr: sum(up)\n"
    )
    [written] = render.render_rules(tmp_path / "out", "0s", source=source)
    rules = yaml.safe_load(Path(written).read_text())["groups"][0]["rules"]
    assert rules[0]["for"] == "0s"
    assert "for" not in rules[1]


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
