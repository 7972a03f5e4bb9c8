"""Switching a service between its backends: health checks, the three mechanisms,
and the record of which backend is active.

`Failover` is what the `failover` action and the switch-back duty share: the
settings' chains, the store's record (`state.py`) and the clock. A
switch is claimed in the store first (so no two replicas, and never the action
and the duty, switch one service at once), then made through the service's
mechanism, then recorded; a mechanism that fails gives the claim back and the
record stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import requests
from prometheus_client.core import GaugeMetricFamily, Metric

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.failover.config import (
    Backend,
    FailoverSettings,
    ServiceFailover,
    SymlinkMechanism,
    command_argv,
    http_params,
)
from alert_webhook.remediation.actions import http_request, run_command
from alert_webhook.remediation.actions.base import ActionOutcome, ActionResult, Boundaries, tail
from alert_webhook.remediation.actions.contained import open_folder, under

if TYPE_CHECKING:
    from alert_webhook.failover.state import FailoverStates

# Never zero: a requests timeout of 0 would mean "fail at once", not "the time left".
_LEAST = 0.001


@dataclass(frozen=True)
class Health:
    backend: str
    healthy: bool
    detail: str  # "HTTP 200", "HTTP 503", "no answer within 2s" …

    def __str__(self) -> str:
        return f"{self.backend}: {'healthy' if self.healthy else 'unhealthy'} ({self.detail})"


def check_health(backend: Backend, ctx: Boundaries, time_left: float) -> Health:
    """One health check: a 2xx from the backend's URL within its timeout (and
    within what is left of the caller's). Redirects are not followed."""
    timeout = max(min(backend.health.timeout, time_left), _LEAST)
    try:
        with ctx.http.get(
            backend.health.url, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
    except requests.Timeout:
        return Health(backend.name, False, f"no answer within {timeout:g}s")
    except requests.RequestException as exc:
        return Health(backend.name, False, f"{type(exc).__name__}: {exc}")
    return Health(backend.name, 200 <= status < 300, f"HTTP {status}")


def candidates(service: ServiceFailover, active: str) -> list[Backend]:
    """The backends to try instead of `active`: the ones after it in the chain,
    then (wrapping round) the ones before it; the whole chain if `active` is not
    in it any more."""
    names = [b.name for b in service.backends]
    if active not in names:
        return list(service.backends)
    at = names.index(active)
    return [*service.backends[at + 1 :], *service.backends[:at]]


def switch_to(
    service: ServiceFailover, backend: Backend, timeout: float, ctx: Boundaries
) -> ActionResult:
    """Make `backend` active through the service's mechanism."""
    if service.http is not None:
        return http_request.run(http_params(service.http, backend), timeout, ctx)
    if service.command is not None:
        command = service.command
        params = run_command.RunCommandParams(
            argv=command_argv(command, backend), env=command.env, cwd=command.cwd,
            success_exit_codes=command.success_exit_codes,
        )  # fmt: skip
        return run_command.run(params, timeout, ctx)
    assert service.symlink is not None and backend.path is not None
    started = ctx.monotonic()
    outcome, output, detail = swap_symlink(service.symlink, backend.path)
    return ActionResult(outcome, None, tail(output.encode()), ctx.monotonic() - started, detail)


def swap_symlink(mechanism: SymlinkMechanism, target: str) -> tuple[ActionOutcome, str, str]:
    """Point the link at `target` atomically: a new link beside it, renamed over
    the old one, so a reader sees the old or the new backend, never neither.
    (outcome, output, detail)."""
    link = PurePosixPath(mechanism.link)
    real_roots = [os.path.realpath(r) for r in mechanism.roots]
    if not under(os.path.realpath(target), real_roots):
        return ActionOutcome.FAILED, "", f"{target} leads outside the roots; not linked"
    if not os.path.exists(target):
        return ActionOutcome.FAILED, "", f"{target} does not exist; not linked"
    temporary = f".{link.name}.failover-{uuid.uuid4().hex[:12]}"
    try:
        with open_folder(str(link.parent), mechanism.roots) as folder:
            was = _current_link(folder, link.name)
            os.symlink(target, temporary, dir_fd=folder)
            try:
                os.replace(temporary, link.name, src_dir_fd=folder, dst_dir_fd=folder)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder)
                raise
            os.fsync(folder)
    except _NotALink as exc:
        return ActionOutcome.FAILED, "", str(exc)
    except OSError as exc:
        return ActionOutcome.FAILED, "", f"{link}: {exc.strerror or exc}"
    return ActionOutcome.SUCCEEDED, f"{link} -> {target} (was {was or 'absent'})\n", ""


class _NotALink(Exception):
    pass


def _current_link(folder: int, name: str) -> str | None:
    """Where the link points now (None: there is none); something else in its
    place is never replaced: it may be the service's data."""
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISLNK(info.st_mode):
        raise _NotALink(f"{name} is not a symbolic link; refusing to replace it")
    return os.readlink(name, dir_fd=folder)


@dataclass
class Failover:
    """The failover chains, their record in the store, and the clock: what the
    `failover` action reaches through its boundaries and the switch-back duty holds."""

    settings: FailoverSettings
    states: FailoverStates
    clock: Callable[[], float]
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def active(self, name: str, service: ServiceFailover) -> str:
        found = self.states.get(name)
        return found.active if found is not None else service.primary.name

    def fail_over(self, name: str, timeout: float, ctx: Boundaries) -> ActionResult:
        """Onto the first healthy backend after the active one — unless the active
        one passes its own health check: moving traffic off a healthy backend on
        an alert about another (a standby that went down) would make things
        worse, so that is a failure for people to look at, and nothing moves."""
        started = ctx.monotonic()
        service = self.settings.services.get(name)
        if service is None:
            known = ", ".join(sorted(self.settings.services)) or "none"
            detail = f"no failover configured for service {name} (configured: {known})"
            return ActionResult(ActionOutcome.FAILED, None, "", 0.0, detail)
        active = self.active(name, service)
        current = service.backend(active)
        checked: list[Health] = []
        if current is not None:
            checked.append(health := check_health(current, ctx, timeout))
            if health.healthy:
                detail = f"{name}'s active backend {health}: nothing to fail over; not switched"
                out = ActionResult(ActionOutcome.FAILED, None, "", 0.0, detail)
                return _with_checks(out, checked, ctx.monotonic() - started)
        for backend in candidates(service, active):
            left = started + timeout - ctx.monotonic()
            if left <= 0:
                detail = f"out of time after {timeout:g}s of health checks; {name} not switched"
                out = ActionResult(ActionOutcome.TIMED_OUT, None, "", 0.0, detail)
                return _with_checks(out, checked, ctx.monotonic() - started)
            health = check_health(backend, ctx, left)
            checked.append(health)
            if health.healthy:
                left = started + timeout - ctx.monotonic()
                reason = f"failover from {active}"
                done = self.switch(name, service, active, backend, reason, left, ctx)
                return _with_checks(done, checked, ctx.monotonic() - started)
        detail = f"no healthy backend for {name} to fail over to from {active}: " + "; ".join(
            str(h) for h in checked
        )
        return _with_checks(
            ActionResult(ActionOutcome.FAILED, None, "", 0.0, detail),
            checked,
            ctx.monotonic() - started,
        )

    def switch_back_if_due(
        self, name: str, service: ServiceFailover, ctx: Boundaries
    ) -> ActionResult | None:
        """One check of a service that is off its primary: back once the primary
        has passed every check for `switch_back_after`; None while not due."""
        found = self.states.get(name)
        primary, wait = service.primary, service.switch_back_after
        if found is None or found.active == primary.name or wait is None:
            return None
        now = self.clock()
        if found.switching_until is not None and found.switching_until > now:
            return None  # someone is switching it right now
        health = check_health(primary, ctx, primary.health.timeout)
        since = self.states.primary_health(name, health.healthy, now)
        if since is None or now - since < wait:
            return None
        reason = f"switch back from {found.active}: {primary.name} healthy for {now - since:g}s"
        timeout = service.switch_timeout
        return self.switch(name, service, found.active, primary, reason, timeout, ctx)

    def switch(
        self, name: str, service: ServiceFailover, active: str, to: Backend, reason: str,
        timeout: float, ctx: Boundaries,
    ) -> ActionResult:  # fmt: skip
        """Claim, switch through the mechanism, record; the claim held for `timeout`."""
        now = self.clock()
        timeout = max(timeout, _LEAST)
        claimed = self.states.claim(
            name, active, service.primary.name, now, now + timeout, self.worker_id
        )
        if not claimed:
            detail = f"{name} is being switched by another run, or is no longer on {active}"
            return ActionResult(ActionOutcome.FAILED, None, "", 0.0, detail)
        try:
            done = switch_to(service, to, timeout, ctx)
        except BaseException:
            self.states.release(name, self.worker_id)
            raise
        if done.outcome is not ActionOutcome.SUCCEEDED:
            self.states.release(name, self.worker_id)
            detail = f"switching {name} from {active} to {to.name}: {done.detail or done.outcome}"
            return ActionResult(done.outcome, done.status, done.output, done.duration, detail)
        if not self.states.switched(name, to.name, self.clock(), reason, self.worker_id):
            detail = f"switched {name} to {to.name}, but the claim ran out before it was recorded"
            return ActionResult(
                ActionOutcome.FAILED, done.status, done.output, done.duration, detail
            )
        output = f"{done.output}{name}: {active} -> {to.name} ({reason})\n"
        return ActionResult(
            ActionOutcome.SUCCEEDED, done.status, tail(output.encode()), done.duration
        )


def _with_checks(done: ActionResult, checked: list[Health], duration: float) -> ActionResult:
    """The result with each health check's result first in its output."""
    lines = "".join(f"{h}\n" for h in checked)
    output = tail((lines + done.output).encode())
    return ActionResult(done.outcome, done.status, output, duration, done.detail)


class FailoverCollector:
    """`alert_webhook_failover_active{service,backend}`: 1 for each configured
    service's active backend, 0 for the others, read from the store when
    Prometheus scrapes (the same on every replica). Left out of a scrape the
    store cannot answer."""

    def __init__(self, settings: FailoverSettings, states: FailoverStates) -> None:
        self.settings, self.states = settings, states

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "alert_webhook_failover_active",
            "1 for the backend each failover service is on now, 0 for its others.",
            labels=["service", "backend"],
        )

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        try:
            recorded = {s.service: s.active for s in self.states.all()}
        except StoreUnavailable:
            return
        family = self._family()
        for name, service in sorted(self.settings.services.items()):
            active = recorded.get(name, service.primary.name)
            names = [b.name for b in service.backends]
            for backend in names if active in names else [*names, active]:
                family.add_metric([name, backend], 1.0 if backend == active else 0.0)
        yield family
