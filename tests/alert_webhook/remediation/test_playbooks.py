"""playbooks.py: the file format, every error at once, matching, rendering a step."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from alert_webhook.app.actions import registered_actions
from alert_webhook.ingest.payload import Alert
from alert_webhook.remediation.actions.base import SAFE_WORD
from alert_webhook.remediation.actions.cleanup_disk import CleanupDiskParams
from alert_webhook.remediation.actions.http_request import HttpRequestParams
from alert_webhook.remediation.actions.restart_service import RestartServiceParams
from alert_webhook.remediation.actions.run_command import RunCommandParams
from alert_webhook.remediation.playbooks import (
    DEFAULT_PLAYBOOK_FILE,
    load_playbooks,
    playbooks_from_mapping,
    render_step,
)
from alert_webhook.remediation.templates import Refused
from toolkit.config import ConfigError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alert_webhook"


def alert(status: str = "firing", **labels: str) -> Alert:
    return Alert.model_validate(
        {
            "status": status,
            "labels": {"alertname": "ServiceUnavailable", **labels},
            "startsAt": "2026-12-01T17:00:00Z",
            "fingerprint": "f" * 16,
        }
    )


def book(name: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, **kw}


def test_every_problem_in_a_file_is_named_at_once() -> None:
    path = FIXTURES / "bad-playbooks.yml"
    with pytest.raises(ConfigError) as error:
        load_playbooks(path, registered_actions())
    assert error.value.source == str(path)
    assert sorted(error.value.problems) == sorted(
        [
            "dry_run: Input should be a valid boolean, unable to interpret input",
            "playbooks[0].actions[1].timeout: must be a positive duration",
            "playbooks[1].match_re.instance: invalid regular expression: missing ), "
            "unterminated subpattern at position 4",
            "playbooks[2]: needs at least one matcher in match or match_re",
            "playbooks[3].cooldown: must be a positive duration",
            "playbooks[3].max_attempts: Input should be greater than or equal to 1",
            "playbooks[0].actions[0].action: unknown action 'reboot_host' "
            "(known: ansible, cleanup_disk, failover, http_request, restart_service, "
            "restore_from_backup, run_command)",
            "playbooks[0].actions[1].params.env: takes no {labels.NAME} placeholders",
            "playbooks[0].actions[1].params.argv[0]: the program cannot come from a label",
            "playbooks[1].name: duplicate of playbooks[0]",
            "playbooks[1].actions[0].inputs.method: http_request takes no labels in method",
            "playbooks[1].actions[0].params.url: must be an http:// or https:// URL with a host",
            "playbooks[1].actions[0].params.headers: Authorization: secrets are not read "
            "from files; name an environment variable in headers_from_env instead",
            "playbooks[1].actions[0].params.bogus: unknown key",
            "playbooks[1].actions[1].params: 'http://{labels.instance/x': "
            "a placeholder is written {labels.NAME}",
        ]
    )
    # Each line names the file, as the command line prints it.
    assert all(line.startswith(f"{path}: ") for line in error.value.lines)


def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_playbooks(tmp_path / "nope.yml", registered_actions())
    assert error.value.lines == [f"{tmp_path / 'nope.yml'}: file not found"]


def test_actions_are_checked_against_the_registry_given() -> None:
    data = {"playbooks": [book("a", match={"x": "y"}, actions=[{"action": "run_command"}])]}
    with pytest.raises(ConfigError) as error:
        playbooks_from_mapping(data, "p.yml", actions={})
    assert error.value.problems == [
        "playbooks[0].actions[0].action: unknown action 'run_command' (known: )"
    ]
    assert playbooks_from_mapping({}, "p.yml").playbooks == ()


def test_defaults_and_durations() -> None:
    loaded = playbooks_from_mapping(
        {"playbooks": [book("a", match={"alertname": "X"}, cooldown="2m", window="1h")]}
    )
    [p] = loaded.playbooks
    assert (p.cooldown, p.window, p.max_attempts, p.blast_radius) == (120, 3600, 3, 3)
    assert (p.dry_run, p.require_approval, p.notify, p.target) == (
        False,
        False,
        "immediately",
        ["service", "instance"],
    )
    assert loaded.dry_run is False


def test_only_firing_alerts_match_and_regexes_match_whole_values() -> None:
    loaded = playbooks_from_mapping(
        {"playbooks": [book("a", match={"severity": "critical"}, match_re={"service": "de.o"})]}
    )
    assert loaded.select(alert(severity="critical", service="demo")) is loaded.playbooks[0]
    assert loaded.select(alert("resolved", severity="critical", service="demo")) is None
    assert loaded.select(alert(severity="critical", service="demon")) is None
    assert loaded.select(alert(severity="high", service="demo")) is None
    assert loaded.select(alert(severity="critical")) is None


def test_the_first_matching_playbook_wins_in_file_order() -> None:
    loaded = playbooks_from_mapping(
        {
            "playbooks": [
                book("demo-specific", match={"category": "connection", "service": "demo"}),
                book("connection", match={"category": "connection"}),
            ]
        }
    )
    chosen = loaded.select(alert(category="connection", service="demo"))
    assert chosen is not None and chosen.name == "demo-specific"
    chosen = loaded.select(alert(category="connection", service="db"))
    assert chosen is not None and chosen.name == "connection"


def test_each_alert_of_a_notification_is_matched_on_its_own() -> None:
    loaded = playbooks_from_mapping(
        {
            "playbooks": [
                book("conn", match={"category": "connection"}),
                book("perm", match={"category": "permission"}),
            ]
        }
    )
    alerts = [
        alert(category="connection", instance="a"),
        alert("resolved", category="connection", instance="b"),
        alert(category="permission", instance="c"),
        alert(category="timeout", instance="d"),
    ]
    chosen = [(a.labels["instance"], p.name) for a, p in loaded.select_each(alerts)]
    assert chosen == [("a", "conn"), ("c", "perm")]


def test_a_target_is_named_by_the_playbooks_target_labels() -> None:
    [p] = playbooks_from_mapping({"playbooks": [book("a", match={"x": "y"})]}).playbooks
    assert p.target_of({"service": "demo", "instance": "h:1", "job": "j"}) == (
        "service=demo,instance=h:1"
    )
    assert p.target_of({"instance": "h:1"}) == "service=,instance=h:1"


def test_critical_alerts_are_never_held_back_from_people() -> None:
    data = {"playbooks": [book("a", match={"x": "y"}, notify="after_attempt")]}
    [p] = playbooks_from_mapping(data).playbooks
    assert p.notify_for("critical") == "immediately"
    assert p.notify_for("high") == "after_attempt"
    with pytest.raises(ConfigError, match="notify"):
        playbooks_from_mapping({"playbooks": [book("a", match={"x": "y"}, notify="later")]})


RESTART = {
    "action": "run_command",
    "params": {"argv": ["/usr/bin/systemctl", "restart", "{labels.service}.service"]},
    "inputs": {"argv": {"enum": ["demo", "worker"]}},
    "timeout": "20s",
}


def test_a_step_renders_into_its_actions_typed_params() -> None:
    loaded = playbooks_from_mapping({"playbooks": [book("r", match={"x": "y"}, actions=[RESTART])]})
    step = loaded.playbooks[0].actions[0]
    rendered = render_step(step, loaded.actions, {"service": "demo"})
    assert rendered.action is loaded.actions["run_command"]
    assert isinstance(rendered.params, RunCommandParams)
    assert rendered.params.argv == ["/usr/bin/systemctl", "restart", "demo.service"]
    assert rendered.timeout == 20


@pytest.mark.parametrize(
    ("service", "reason"),
    [
        ("db", "label service='db' is not one of demo, worker (needed by argv)"),
        ("demo;reboot", f"label service='demo;reboot' does not match {SAFE_WORD} (needed by argv)"),
        ("../demo", f"label service='../demo' does not match {SAFE_WORD} (needed by argv)"),
    ],
)
def test_a_label_outside_its_rules_renders_nothing(service: str, reason: str) -> None:
    loaded = playbooks_from_mapping({"playbooks": [book("r", match={"x": "y"}, actions=[RESTART])]})
    with pytest.raises(Refused) as refused:
        render_step(loaded.playbooks[0].actions[0], loaded.actions, {"service": service})
    assert refused.value.reasons == [reason]


def test_a_rendered_value_its_model_rejects_is_refused_too() -> None:
    step = {"action": "http_request", "params": {"url": "http://{labels.instance}/"}}
    loaded = playbooks_from_mapping({"playbooks": [book("h", match={"x": "y"}, actions=[step])]})
    with pytest.raises(Refused) as refused:
        render_step(loaded.playbooks[0].actions[0], loaded.actions, {"instance": "host:99999"})
    assert refused.value.reasons == ["rendered params.url: has an invalid port"]


def test_the_shipped_playbooks_load_and_name_only_existing_actions() -> None:
    loaded = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    assert loaded.actions.keys() == registered_actions().keys()
    names = {p.name: p for p in loaded.playbooks}
    assert list(names) == [
        "drain-task-queue",
        "refresh-token",
        "escalate-permission",
        "restart-demo",
        "restart-demo-worker",
        "restart-hogging-demo-program",
        "fail-over-dependency",
        "clean-disk",
        "fail-over",
        "restore-orders",
        "restore-from-backup",
    ]
    # data_integrity: the demo's orders from their replica, anything else a dry run.
    orders = loaded.select(alert(alertname="DataIntegrityCheckFailing", category="data_integrity",
                                 service="demo"))  # fmt: skip
    assert orders is not None and orders.name == "restore-orders" and not orders.dry_run
    other = loaded.select(alert(alertname="DataIntegrityCheckFailing", category="data_integrity",
                                service="billing"))  # fmt: skip
    assert other is not None and other.name == "restore-from-backup" and other.dry_run
    # permission → escalate: nothing is ever tried, and it is matched so no later
    # playbook acts on a permission fault.
    assert names["escalate-permission"].actions == []
    perm = loaded.select(alert(category="permission", service="demo"))
    assert perm is not None and perm.name == "escalate-permission"
    # authentication → a token refresh hook, shipped as a dry run.
    assert names["refresh-token"].dry_run is True
    # resource_exhaustion → cleanup, a dry run until its roots are real folders.
    assert names["clean-disk"].dry_run is True
    disk = loaded.select(alert(alertname="HostDiskSpaceLow", instance="h", mountpoint="/"))
    assert disk is not None and disk.name == "clean-disk"
    cleanup = render_step(disk.actions[0], loaded.actions, {})
    assert isinstance(cleanup.params, CleanupDiskParams)
    assert cleanup.params.roots == ["/var/log/recovery-stack", "/var/tmp/recovery-stack"]


def test_the_demo_systems_worker_is_restarted_and_its_dependency_fails_over() -> None:
    loaded = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    down = {"alertname": "ServiceUnavailable", "category": "connection"}
    worker = loaded.select(alert(**down, service="demo_worker"))
    assert worker is not None and worker.name == "restart-demo-worker" and not worker.dry_run
    step = render_step(worker.actions[0], loaded.actions, {})
    assert (step.params.backend, step.params.service) == ("supervisor", "demo_worker")
    for category in ("connection", "timeout"):  # refused or 5xx; hanging behind a partition
        labels = {**down, "category": category, "service": "dependency"}
        chosen = loaded.select(alert(**labels))
        assert chosen is not None and chosen.name == "fail-over-dependency" and not chosen.dry_run
    assert render_step(chosen.actions[0], loaded.actions, {}).params.service == "dependency"


def test_the_shipped_restart_playbook_restarts_only_the_demo_through_supervisord() -> None:
    loaded = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    for alertname, category in (
        ("ServiceUnavailable", "connection"),
        ("ApiResponseTimeHigh", "timeout"),
    ):
        labels = {"alertname": alertname, "service": "demo", "category": category}
        chosen = loaded.select(alert(**labels))
        assert chosen is not None and chosen.name == "restart-demo", alertname
    rendered = render_step(chosen.actions[0], loaded.actions, labels)
    assert isinstance(rendered.params, RestartServiceParams)
    assert (rendered.params.backend, rendered.params.service) == ("supervisor", "demo")
    # The variables the stack's launcher gives the webhook.
    assert rendered.params.env_names() == [
        "STACK_SUPERVISOR_URL",
        "STACK_SUPERVISOR_USERNAME",
        "STACK_SUPERVISOR_PASSWORD",
    ]
    assert chosen.target_of(labels) == "service=demo"
    # Never one of the stack's own programs, even if an alert named it.
    with pytest.raises(Refused, match="is not one of demo"):
        render_step(chosen.actions[0], loaded.actions, {**labels, "service": "webhook"})
    # A bad credential or a missing grant is not fixed by a restart.
    for category, name in (
        ("authentication", "refresh-token"),
        ("permission", "escalate-permission"),
    ):
        other = loaded.select(
            alert(alertname="ServiceUnavailable", service="demo", category=category)
        )
        assert other is not None and other.name == name


def test_a_demo_program_hogging_cpu_or_memory_is_restarted_by_its_process_group() -> None:
    loaded = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    for alertname in ("ProcessCpuHigh", "ProcessMemoryHigh"):
        for program in ("demo", "demo_worker"):
            labels = {"alertname": alertname, "groupname": program, "service": program,
                      "instance": "127.0.0.1:9101", "severity": "high",
                      "category": "resource_exhaustion"}  # fmt: skip
            chosen = loaded.select(alert(**labels))
            assert chosen is not None and chosen.name == "restart-hogging-demo-program"
            # The target of restart-demo and restart-demo-worker too: never two at once.
            assert not chosen.dry_run and chosen.target_of(labels) == f"service={program}"
            rendered = render_step(chosen.actions[0], loaded.actions, labels)
            assert isinstance(rendered.params, RestartServiceParams)
            assert (rendered.params.backend, rendered.params.service) == ("supervisor", program)
    # Another group's hog (a dependency instance, someone else's service) is people's
    # to handle: nothing is restarted.
    other = {**labels, "groupname": "dependency_primary", "service": "dependency_primary"}
    assert loaded.select(alert(**other)) is None
    # Never one of the stack's own programs, even if a group were named after one.
    with pytest.raises(Refused, match="is not one of demo, demo_worker"):
        render_step(chosen.actions[0], loaded.actions, {**labels, "service": "webhook"})


def test_the_shipped_drain_playbook_renders_for_the_demos_queue_alert() -> None:
    loaded = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    labels = {
        "alertname": "TaskQueueDepthHigh",
        "job": "demo",
        "instance": "127.0.0.1:8081",
        "queue": "orders",
        "severity": "high",
        "category": "resource_exhaustion",
    }
    chosen = loaded.select(alert(**labels))
    assert chosen is not None and chosen.name == "drain-task-queue"
    rendered = render_step(chosen.actions[0], loaded.actions, labels)
    assert isinstance(rendered.params, HttpRequestParams)
    assert (rendered.params.method, rendered.params.url) == (
        "POST",
        "http://127.0.0.1:8081/api/tasks/drain?count=100",
    )
    # Only the local demo's host:port, never another host or a path.
    for hostile in ("10.0.0.5:8081", "127.0.0.1:8081/../admin", "127.0.0.1:8081\n"):
        with pytest.raises(Refused):
            render_step(chosen.actions[0], loaded.actions, {**labels, "instance": hostile})
    assert chosen.target_of(labels) == "job=demo,instance=127.0.0.1:8081"


def test_verify_and_precondition_are_checked_with_every_other_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        playbooks_from_mapping({"playbooks": [{
            "name": "a", "match": {"alertname": "X"},
            "verify": {"query": 'up{service="{labels.service}"} == 0', "delay": "-1s",
                       "window": "soon", "every": "1s"},
            "precondition": {"query": "  "},
        }]}, "playbooks.yml")  # fmt: skip
    assert caught.value.lines == [
        "playbooks.yml: playbooks[0].verify.query: takes no {labels.NAME} placeholders",
        "playbooks.yml: playbooks[0].verify.delay: must be a positive duration",
        "playbooks.yml: playbooks[0].verify.window: must be a positive duration",
        "playbooks.yml: playbooks[0].verify.every: unknown key",
        "playbooks.yml: playbooks[0].precondition.query: String should have at least 1 character",
        "playbooks.yml: playbooks[0].precondition.reason: required",
    ]


def test_by_default_a_run_is_checked_against_the_alerts_own_expression() -> None:
    [book] = playbooks_from_mapping(
        {"playbooks": [{"name": "a", "match": {"alertname": "X"}, "verify": {"delay": "1m"}}]}
    ).playbooks
    assert (book.verify.query, book.verify.delay, book.verify.window) == (None, 60.0, 30.0)
    assert book.precondition is None


def test_a_silence_window_is_a_duration_of_at_most_a_day() -> None:
    step = {"action": "run_command", "params": {"argv": ["/bin/true"]}}
    books = [
        book("ok", match={"a": "b"}, actions=[step], silence_for="10m"),
        book("long", match={"a": "b"}, actions=[step], silence_for="2d"),
        book("vague", match={"a": "b"}, actions=[step], silence_for="soon"),
    ]
    with pytest.raises(ConfigError) as error:
        playbooks_from_mapping({"playbooks": books})
    assert error.value.problems == [
        "playbooks[1].silence_for: Input should be less than or equal to 86400",
        "playbooks[2].silence_for: must be a positive duration",
    ]
    ok = playbooks_from_mapping({"playbooks": books[:1]}).playbooks[0]
    assert ok.silence_for == 600


FLEET_PLAYBOOK_FILE = DEFAULT_PLAYBOOK_FILE.with_name("playbooks-fleet.yml")


def test_the_shipped_playbooks_act_on_this_machine_and_the_fleets_on_the_host_named() -> None:
    from dataclasses import replace

    from alert_webhook.remediation.playbooks import host_bound

    here = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    fleet = load_playbooks(FLEET_PLAYBOOK_FILE, registered_actions())
    both = replace(here, playbooks=(*here.playbooks, *fleet.playbooks))  # as make up joins them
    assert not any(host_bound(b, here.actions) for b in here.playbooks)
    assert all(host_bound(b, fleet.actions) for b in fleet.playbooks)
    down = {"alertname": "ServiceUnavailable", "service": "demo", "category": "connection"}
    for local in ({}, {"host": "localhost"}):
        chosen = both.select(alert(**down, **local))
        assert chosen is not None and chosen.name == "restart-demo", local
    chosen = both.select(alert(**down, host="host-2"))
    assert chosen is not None and chosen.name == "restart-demo-on-host"
    assert chosen.target_of({**down, "host": "host-2"}) == "host=host-2,service=demo"
    # No playbook that acts here ever takes an alert about a fleet host.
    for book in here.playbooks:
        if book.actions:
            host = book.match_re.get("host")
            assert host is not None and re.fullmatch(host, "localhost"), book.name
            assert not re.fullmatch(host, "host-2") and re.fullmatch(host, ""), book.name
    # The fleet's step names an Ansible playbook the repository ships.
    step = render_step(chosen.actions[0], both.actions, {**down, "host": "host-2"})
    assert step.params.vars == {"program": "demo"}  # type: ignore[attr-defined]
    ansible_dir = DEFAULT_PLAYBOOK_FILE.parents[1] / "deploy" / "remediation"
    assert (ansible_dir / step.params.playbook).is_file()  # type: ignore[attr-defined]
    with pytest.raises(Refused, match="is not one of demo"):
        render_step(chosen.actions[0], both.actions, {**down, "host": "host-2", "service": "x"})
