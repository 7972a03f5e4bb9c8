"""What the factory builds from the settings: the recording planners, the playbooks,
the remediation facade. Configuration is read here, not in the features."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from alert_webhook.app.actions import registered_actions
from alert_webhook.config.settings import Settings
from alert_webhook.delivery.channels import Channel
from alert_webhook.delivery.planner import DeliveryPlanner
from alert_webhook.delivery.routing import Router
from alert_webhook.failover.state import FailoverStates
from alert_webhook.failover.switch import Failover, FailoverCollector
from alert_webhook.fleet.executor import AnsibleExecutor, Executor, check_private_key
from alert_webhook.fleet.inventory import Inventory, fleet_inventory
from alert_webhook.fleet.pausing import BreakerPage, FleetBreaker
from alert_webhook.fleet.settings import SSH_KEY_ENV
from alert_webhook.incidents.flapping import FlappingPlanner
from alert_webhook.incidents.planner import IncidentPlanner
from alert_webhook.ingest.planners import Planner, Recording
from alert_webhook.metrics.registry import WebhookMetrics
from alert_webhook.remediation.guardrails import default_guardrails
from alert_webhook.remediation.playbooks import (
    DEFAULT_PLAYBOOK_FILE,
    Playbooks,
    host_bound,
    load_playbooks,
)
from alert_webhook.remediation.runner import Remediation
from alert_webhook.remediation.verify import Checks, HttpPrometheus
from alert_webhook.store import SqlStore
from toolkit.config import ConfigError


def recording_from(
    settings: Settings,
    stored_channels: Iterable[str],
    extra: Iterable[Planner] = (),
    inline: Mapping[str, Channel] | None = None,
) -> Recording:
    """Incidents, flapping and deliveries planned with each state change (and any
    `extra` planners, in the same transaction); the watchdog's heartbeat only
    noted. Flapping runs after incidents (it marks them) and before the planners
    that read its verdicts. `inline`: the channels whose messages are sent in the
    recording transaction (channels.inline_channels: the log)."""
    watchdog = settings.watchdog
    planners: list[Planner] = [
        IncidentPlanner({str(k): v for k, v in settings.incidents.deadlines_seconds.items()}),
        FlappingPlanner(settings.incidents.flapping),
        DeliveryPlanner(
            Router(settings.routing, settings.channels),
            frozenset(stored_channels),
            inline,
            settings.links,
        ),  # fmt: skip
        *extra,
    ]
    return Recording(tuple(planners), watchdog.alertname if watchdog.enabled else None)


def load_remediation_playbooks(settings: Settings) -> Playbooks | None:
    """The playbook file the settings name (ConfigError listing every problem in
    it), or None when remediation is off."""
    cfg = settings.remediation
    if not cfg.enabled:
        return None
    return load_playbooks(cfg.playbooks_file or DEFAULT_PLAYBOOK_FILE, registered_actions())


@dataclass(frozen=True)
class Fleet:
    """The hosts host-bound steps may act on, and what reaches them."""

    inventory: Inventory
    executor: Executor


def fleet_from(
    settings: Settings, playbooks: Playbooks | None, env: Mapping[str, str]
) -> Fleet | None:
    """The inventory, read once here, and the Ansible executor for its hosts, when
    remediation is on and `fleet.inventory` is set; None otherwise. ConfigError
    for a bad inventory (whether or not remediation is on), a private key others
    may read, or playbooks that act on fleet hosts without an inventory or a
    known_hosts file to check them by."""
    cfg = settings.fleet
    inventory = fleet_inventory(cfg.inventory) if cfg.inventory is not None else None
    if playbooks is None:
        return None
    source = str(settings.remediation.playbooks_file or DEFAULT_PLAYBOOK_FILE)
    bound = [
        f"playbooks[{i}] ({book.name}): acts on a fleet host"
        for i, book in enumerate(playbooks.playbooks)
        if host_bound(book, playbooks.actions)
    ]
    if cfg.inventory is None or inventory is None:
        if bound:
            raise ConfigError(source, [f"{b}, but fleet.inventory is not set" for b in bound])
        return None
    key = cfg.ssh.private_key_file
    where = "fleet.ssh.private_key_file"
    if key is None and env.get(SSH_KEY_ENV):
        key, where = Path(env[SSH_KEY_ENV]), SSH_KEY_ENV
    if key is not None:
        key = check_private_key(key, where)
    if bound and not cfg.ssh.known_hosts.is_file():
        problem = f"{cfg.ssh.known_hosts}: no such file (the host keys remediation trusts)"
        raise ConfigError("fleet.ssh.known_hosts", [problem])
    executor = AnsibleExecutor(cfg.inventory, cfg.ssh, key, cfg.playbooks_dir)
    return Fleet(inventory, executor)


def failover_from(
    settings: Settings, store: SqlStore, metrics: WebhookMetrics, clock: Callable[[], float]
) -> Failover | None:
    """The failover chains and their record in the store (which the active-backend
    gauge reads at each scrape); None when no service is configured for failover."""
    if not settings.failover.services:
        return None
    states = FailoverStates(store.tx, store.engine.dialect)
    metrics.registry.register(FailoverCollector(settings.failover, states))
    return Failover(settings.failover, states, clock)


def fleet_breaker_from(
    settings: Settings, store: SqlStore, stored_channels: Iterable[str]
) -> FleetBreaker | None:
    """The fleet breaker over the store's pauses, paging as a critical alert is
    routed; None when `fleet.breaker.enabled` is off."""
    limits = settings.fleet.breaker
    if not limits.enabled:
        return None
    page = BreakerPage(Router(settings.routing, settings.channels), frozenset(stored_channels))
    return FleetBreaker(limits, store.fleet, page)


def remediation_from(
    settings: Settings,
    playbooks: Playbooks | None,
    fleet: Fleet | None = None,
    breaker: FleetBreaker | None = None,
) -> Remediation | None:
    """Playbooks and guardrails for the runner and the preview, with the fleet
    host-bound steps reach; None when off. The settings' dry run and the file's
    both hold; with `breaker`, the fleet breaker is among the guardrails."""
    if not settings.remediation.enabled or playbooks is None:
        return None
    cfg = settings.remediation
    prometheus = HttpPrometheus(
        cfg.prometheus_url or settings.links.prometheus_url, timeout=cfg.prometheus_timeout_seconds
    )
    limits = breaker.limits if breaker is not None else None
    guardrails = default_guardrails(cfg.dry_run or playbooks.dry_run, limits)
    return Remediation(playbooks, guardrails, Checks(prometheus), breaker,
                       fleet.inventory if fleet else None,
                       fleet.executor if fleet else None)  # fmt: skip
