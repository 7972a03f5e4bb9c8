"""Render the committed configs for one run: ports, paths and (for tests) timings.

The committed files name `127.0.0.1:<default port>`; a run may move any port,
so each literal is rewritten. Paths become absolute so every process can run
from the stack's root folder.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from alert_webhook.app.actions import registered_actions
from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE, Playbooks, load_playbooks
from demo.dependency import (
    ACTIVE_LINK,
    URL_SUFFIX,
    ActiveInstance,
    DependencyError,
    write_instances,
)
from exporters.probe_config import load_probe_file
from stack.ports import DEPENDENCY_INSTANCES, HOST, SERVICES, StackError
from stack.private import write_private
from stack.repo import REPO
from toolkit.config import EXIT_CONFIG_ERROR, ConfigError, load_yaml

DEFAULT_WEBHOOK_CONFIG = REPO / "alert_webhook" / "webhook.yml"

# The fast profile's guardrail windows. The default profile's, from the recovery
# plan (a 2 minute cooldown, 3 restarts an hour), would let a person watch one
# recovery and then block the next for minutes; these keep every guardrail
# working, on the fast profile's time scale: a crash loop still stops after
# `max_attempts` within the window.
FAST_COOLDOWN_SECONDS = 5.0
FAST_WINDOW_SECONDS = 30.0
# A run is checked against Prometheus after its stabilisation delay and window:
# with 1 s scrapes and probes, a few seconds of each still prove the fix held.
# How long it may take to clear needs no cut: the webhook derives it from the
# profile's own intervals and ranges (remediation/lag.py), 2 s for a probe here.
# Flapping on the fast profile's time scale: five changes within 20 s, where a
# kill and its verified restart take about ten (the bench's and the chaos tests'
# repeated recoveries are not flapping); it ends after 5 s of one state.
FAST_FLAPPING = {"window_seconds": 20, "hold_seconds": 5}
FAST_VERIFY_DELAY_SECONDS = 2.0
FAST_VERIFY_WINDOW_SECONDS = 3.0
# The committed playbooks name the stack's own files (the demo's orders, their
# replica) under this folder; a run's copy names them under its root instead,
# as the ports are rewritten: an action's paths must be absolute.
STACK_ROOT = PurePosixPath("/srv/recovery-stack")


def rewrite_ports(text: str, ports: Mapping[str, int]) -> str:
    for service in SERVICES:
        pattern = rf"{re.escape(HOST)}:{service.default_port}(?!\d)"
        text = re.sub(pattern, f"{HOST}:{ports[service.name]}", text)
    return text


def _dump(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def render_prometheus(
    dest: Path,
    ports: Mapping[str, int],
    rule_files: list[str],
    interval: str | None = None,
    source: Path = REPO / "prometheus" / "prometheus.yml",
    fleet: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """prometheus.yml for this run; `fleet`'s scrape configs (stack/targets.py: the
    hosts' exporters from their targets files) replace the committed ones of the
    same job names, and come after the rest when new."""
    config = yaml.safe_load(rewrite_ports(source.read_text(), ports))
    config["rule_files"] = rule_files
    if fleet:
        by_name = {str(job["job_name"]): dict(job) for job in fleet}
        jobs = [by_name.pop(job["job_name"], job) for job in config.get("scrape_configs", [])]
        config["scrape_configs"] = [*jobs, *by_name.values()]
    if interval:
        config.setdefault("global", {})
        config["global"]["scrape_interval"] = interval
        config["global"]["evaluation_interval"] = interval
        for job in config.get("scrape_configs", []):
            job.pop("scrape_interval", None)
            job.pop("scrape_timeout", None)
    return _dump(dest / "prometheus.yml", config)


def _fast_routes(route: dict[str, Any]) -> None:
    route["group_wait"] = "0s"
    route["group_interval"] = "1s"
    for child in route.get("routes", []):
        _fast_routes(child)


def render_alertmanager(
    dest: Path,
    ports: Mapping[str, int],
    token: str,
    fast: bool = False,
    source: Path = REPO / "alertmanager" / "alertmanager.yml",
) -> Path:
    """alertmanager.yml and the bearer token it reads, side by side in `dest`."""
    config = yaml.safe_load(rewrite_ports(source.read_text(), ports))
    if fast:
        _fast_routes(config["route"])
    write_private(dest / "webhook-token", token)
    return _dump(dest / "alertmanager.yml", config)


# The fast profile's values of the rule parameters (rules/src/params.yml) that a
# test cannot reach with the recovery plan's on a machine shared with other work:
# its 1 GiB for one process group is four times what the demo's memory hog
# (demo/chaos.py) may hold; each of the demo's programs holds well under this.
FAST_RULE_PARAMS = {"process_resident_memory_threshold_bytes": str(192 << 20)}


def _rule_renderer() -> Any:
    """rules/render.py: a script beside the rules it renders, not a package."""
    spec = importlib.util.spec_from_file_location("rules_render", REPO / "rules" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_rules(
    dest: Path,
    for_override: str | None,
    source: Path = REPO / "rules" / "src",
    params: Mapping[str, str] | None = None,
) -> list[str]:
    """The rules rendered from their templates in `source` with `params` over
    params.yml's values, and every `for:` set to `for_override` (fast tests;
    None: as the templates and parameters say)."""
    renderer = _rule_renderer()
    try:
        rendered: dict[str, str] = renderer.render_all(source, params)
    except renderer.RenderError as exc:
        raise StackError(str(exc).splitlines(), exit_code=2) from None
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered.items():
        doc = yaml.safe_load(text) or {}
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "alert" in rule and for_override is not None:
                    rule["for"] = for_override
        written.append(str(_dump(dest / name, doc)))
    return written


def render_text(dest: Path, source: Path, ports: Mapping[str, int]) -> Path:
    """A copy of a text config with its ports rewritten."""
    target = dest / source.name
    dest.mkdir(parents=True, exist_ok=True)
    target.write_text(rewrite_ports(source.read_text(), ports))
    return target


def render_system_exporter(dest: Path, pidfiles: Mapping[str, Path]) -> Path:
    """The system exporter's config: one process group per program, found by the
    pidfile it writes (a pid and its children: a gunicorn master and its worker
    are one group). By pidfile, not over supervisord's XML-RPC: that would need
    supervisord's login, which only the webhook is given."""
    groups = [{"name": name, "pidfile": str(path)} for name, path in pidfiles.items()]
    return _dump(dest / "system_exporter.yml", {"process_groups": groups})


def render_dependency(folder: Path, ports: Mapping[str, int]) -> Path:
    """The dependency's link folder (demo/dependency.py): one URL file per instance
    at this run's ports, and the `active` link kept where a failover left it (on
    the primary the first time)."""
    urls = {name: f"http://{HOST}:{ports[svc]}" for name, svc in DEPENDENCY_INSTANCES.items()}
    try:
        active = ActiveInstance(folder).current().name
    except DependencyError:
        active = next(iter(urls))
    write_instances(folder, urls, active if active in urls else next(iter(urls)))
    return folder


def render_probes(
    dest: Path,
    ports: Mapping[str, int],
    fast: bool = False,
    source: Path = REPO / "exporters" / "probes.yml",
    fleet_checks: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """probes.yml with its ports rewritten and the fleet's hosts' checks added (the
    inventory's `recovery_stack_probes`, each naming its host); `fast`: every probe
    runs each second (its timeout then never outlives that second)."""
    if not fast and not fleet_checks:
        return render_text(dest, source, ports)
    config = yaml.safe_load(rewrite_ports(source.read_text(), ports)) or {}
    config["checks"] = [*(config.get("checks") or []), *map(dict, fleet_checks)]
    if fast:
        defaults = config.setdefault("defaults", {}) or {}
        defaults.update(network_interval="1s", service_interval="1s")
        config["defaults"] = defaults
        for check in config.get("checks", []):
            check.pop("interval", None)
    path = _dump(dest / source.name, config)
    if fleet_checks:
        # The inventory's checks are the operator's: refused now, naming them, not
        # by an exporter that will not start.
        try:
            load_probe_file(path, os.environ)
        except ConfigError as exc:
            raise StackError(exc.lines, exit_code=EXIT_CONFIG_ERROR) from None
    return path


def check_playbooks(source: Path) -> Playbooks:
    """The playbook file checked as the webhook will check it, so `make up`
    stops before starting anything, naming each problem (exit 2)."""
    try:
        return load_playbooks(source, registered_actions())
    except ConfigError as exc:
        raise StackError(exc.lines, exit_code=EXIT_CONFIG_ERROR) from None


def render_playbooks(
    dest: Path,
    source: Path = DEFAULT_PLAYBOOK_FILE,
    root: Path | None = None,
    fast: bool = True,
    fleet: Path | None = None,
) -> Path:
    """This run's copy of a playbook file, with the playbooks of `fleet` (the fleet
    hosts' file, when the stack watches an inventory) after its own: every path
    under STACK_ROOT moved under `root` (when given); `fast`: each cooldown at most
    FAST_COOLDOWN_SECONDS, each attempt window at most FAST_WINDOW_SECONDS, and
    each verification's delay and window at most FAST_VERIFY_DELAY_SECONDS and
    FAST_VERIFY_WINDOW_SECONDS; everything else as written. The sources are
    checked first, so their problems are reported naming them, not the copy."""
    checked = check_playbooks(source)
    config = load_yaml(source)
    if fleet is not None:
        # Checked whole with its host-bound steps once the webhook has the inventory.
        more = load_yaml(fleet) or {}
        config["playbooks"] = [*config.get("playbooks", []), *more.get("playbooks", [])]
        checked = replace(
            checked, playbooks=(*checked.playbooks, *check_playbooks(fleet).playbooks)
        )
    if fast:
        for raw, book in zip(config["playbooks"], checked.playbooks, strict=True):
            raw["cooldown"] = min(book.cooldown, FAST_COOLDOWN_SECONDS)
            raw["window"] = min(book.window, FAST_WINDOW_SECONDS)
            raw["verify"] = {
                **(raw.get("verify") or {}),
                "delay": min(book.verify.delay, FAST_VERIFY_DELAY_SECONDS),
                "window": min(book.verify.window, FAST_VERIFY_WINDOW_SECONDS),
            }
    if root is not None:
        config = _moved_under(config, root)
    return _dump(dest / "playbooks.yml", config)


def _moved_under(value: Any, root: Path) -> Any:
    """`value` with each string that is STACK_ROOT or a path below it re-rooted."""
    if isinstance(value, dict):
        return {key: _moved_under(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved_under(item, root) for item in value]
    if isinstance(value, str) and PurePosixPath(value).is_relative_to(STACK_ROOT):
        return str(root / PurePosixPath(value).relative_to(STACK_ROOT))
    return value


def dependency_failover(folder: Path, ports: Mapping[str, int], fast: bool) -> dict[str, Any]:
    """The webhook's `failover:` settings for the demo's dependency: its instances
    in chain order, each healthy while its /healthz answers, switched by
    pointing the folder's `active` link at the instance's URL file. Back on the
    primary once it has been healthy for 5 minutes (10 s on the fast profile)."""
    backends = [
        {
            "name": name,
            "path": str(folder / f"{name}{URL_SUFFIX}"),
            "health": {"url": f"http://{HOST}:{ports[svc]}/healthz", "timeout": "1s"},
        }
        for name, svc in DEPENDENCY_INSTANCES.items()
    ]
    service = {
        "backends": backends,
        "symlink": {"link": str(folder / ACTIVE_LINK), "roots": [str(folder)]},
        "switch_back_after": "10s" if fast else "5m",
        "check_interval": "1s" if fast else "10s",
    }
    return {"services": {"dependency": service}}


def render_webhook(
    dest: Path,
    ports: Mapping[str, int],
    operators: Mapping[str, str],
    remediation: Mapping[str, Any] | None = None,
    failover: Mapping[str, Any] | None = None,
    source: Path = DEFAULT_WEBHOOK_CONFIG,
    fleet: Mapping[str, Any] | None = None,
    fast: bool = False,
) -> Path:
    """webhook.yml with its ports rewritten, `operators` (name → password hash)
    added to those it configures, `remediation` over its remediation settings,
    `failover` as its failover chains when given, and `fleet` over its fleet
    settings (the inventory the stack was started with; `fleet.ssh` merged key by
    key, so a file's `control_persist` or `pipelining` stays); `fast`: flapping judged
    over FAST_FLAPPING's seconds, and the fleet breaker over the playbooks' fast
    window (FAST_WINDOW_SECONDS), so failures of one test do not pause the next."""
    config = yaml.safe_load(rewrite_ports(source.read_text(), ports)) or {}
    auth = config.setdefault("auth", {}) or {}
    auth["operators"] = {**(auth.get("operators") or {}), **operators}
    config["auth"] = auth
    config["remediation"] = {**(config.get("remediation") or {}), **(remediation or {})}
    if failover is not None:
        config["failover"] = dict(failover)
    if fleet:
        own = config.get("fleet") or {}
        # One level deeper for ssh: the file's own options (control_persist,
        # pipelining, user) stay beside the stack's known_hosts and key.
        ssh = {**(own.get("ssh") or {}), **(fleet.get("ssh") or {})}
        config["fleet"] = {**own, **fleet, **({"ssh": ssh} if ssh else {})}
    if fast:
        incidents = config.setdefault("incidents", {}) or {}
        incidents["flapping"] = {**(incidents.get("flapping") or {}), **FAST_FLAPPING}
        config["incidents"] = incidents
        fleet_config = config.setdefault("fleet", {}) or {}
        breaker = fleet_config.get("breaker") or {}
        fleet_config["breaker"] = {**breaker, "window": FAST_WINDOW_SECONDS}
        config["fleet"] = fleet_config
    dest.mkdir(parents=True, exist_ok=True)
    return _dump(dest / source.name, config)


def write_login(dest: Path, name: str, password: str) -> Path:
    """The local operator's login, readable by its owner only (like the token)."""
    login = yaml.safe_dump({"name": name, "password": password}, sort_keys=False)
    return write_private(dest / "webhook-login", login)
