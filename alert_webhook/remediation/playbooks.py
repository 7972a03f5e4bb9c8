"""Playbooks: which firing alerts get which recovery actions, under which limits.

```yaml
dry_run: false                 # true: every playbook only says what it would do
playbooks:
  - name: drain-task-queue
    match: {alertname: TaskQueueDepthHigh, job: demo}
    actions:
      - action: http_request
        params: {method: POST, url: "http://{labels.instance}/api/tasks/drain?count=100"}
        inputs: {url: {pattern: '^127\\.0\\.0\\.1:[0-9]{1,5}$'}}
        timeout: 10s
    cooldown: 10m
    max_attempts: 3
    window: 1h
```

The file is checked whole when it is loaded: every problem at once, each naming
the file and the key (`playbooks.yml: playbooks[1].actions[0].action: unknown
action 'restart_service' (known: http_request, run_command)`). Each step's
parameters are checked against its action's model with every label standing in
as a harmless word, so a bad URL or a missing argument is found at start-up,
not when an alert fires.

Matching: only a firing alert triggers, each alert of a notification on its
own, and the *first* playbook whose matchers all hold is its playbook (like
routes): the file's order is its priority, a specific playbook placed before a
category-wide one overrides it, and one alert never starts two playbooks that
could act on the same target at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from alert_webhook.delivery.routing import labels_match
from alert_webhook.ingest.payload import Alert
from alert_webhook.remediation.actions import builtin_actions
from alert_webhook.remediation.actions.base import Action, ActionParams
from alert_webhook.remediation.templates import (
    Refused,
    Rule,
    labels_used,
    render,
    sample,
    syntax_problems,
)
from toolkit.config import (
    ConfigError,
    Duration,
    Regex,
    Strict,
    format_location,
    load_yaml,
    validation_problems,
)

DEFAULT_PLAYBOOK_FILE = Path(__file__).resolve().parent.parent / "playbooks.yml"

Name = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$", min_length=1, max_length=100)
]
LabelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Notify = Literal["immediately", "after_attempt"]
MAX_SILENCE = 86400.0  # a remediation window, not a maintenance window


class Inputs(Strict):
    """What label values reaching one parameter must also look like; narrows the
    action's own safe alphabet, never widens it."""

    pattern: Regex | None = None
    enum: list[str] | None = Field(default=None, min_length=1)


PromQL = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


def _no_placeholders(query: str) -> str:
    # Label values never reach a query: the alert's own series are picked out of the
    # answer instead (verify.of_alert), so a label cannot change what is asked.
    if "{labels." in query:
        raise ValueError("takes no {labels.NAME} placeholders")
    return query


class Verify(Strict):
    """How a run is checked after a step reported success: `query` (default: the
    alert's own expression) must return nothing of the alert for `window`, checked
    from `delay` + `window` after the step until it does, or until the time its
    expression can lag behind a fix (derived from Prometheus: verify.py) — or
    `deadline`, when longer — plus `window` has passed."""

    query: PromQL | None = None
    delay: Duration = 10.0
    window: Duration = 30.0
    deadline: Duration | None = None

    _placeholders = field_validator("query")(_no_placeholders)


class Precondition(Strict):
    """A PromQL query that must return something before the playbook may act, and
    why it matters (said when it blocks a run)."""

    query: PromQL
    reason: str = Field(min_length=1, max_length=200)

    _placeholders = field_validator("query")(_no_placeholders)


class Step(Strict):
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Inputs] = Field(default_factory=dict)
    timeout: Duration = 30.0


class Playbook(Strict):
    name: Name
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, Regex] = Field(default_factory=dict)
    # Tried in order until one works; none: nothing is tried, people are told at once.
    actions: list[Step] = Field(default_factory=list)
    # The labels naming what the actions act on: guardrails count per target.
    target: list[LabelName] = Field(default_factory=lambda: ["service", "instance"], min_length=1)
    cooldown: Duration = 600.0
    max_attempts: int = Field(default=3, ge=1)
    window: Duration = 3600.0
    blast_radius: int = Field(default=3, ge=1)  # distinct targets per window
    dry_run: bool = False
    require_approval: bool = False
    approval_timeout: Duration = 900.0
    # Silence the alert in Alertmanager while the run acts, for at most this long
    # (the silence is expired when the run ends); None: no silence.
    silence_for: Annotated[Duration, Field(le=MAX_SILENCE)] | None = None
    notify: Notify = "immediately"
    verify: Verify = Field(default_factory=Verify)
    precondition: Precondition | None = None

    @model_validator(mode="after")
    def _selects_something(self) -> Playbook:
        # A playbook without matchers would act on every alert there is.
        if not self.match and not self.match_re:
            raise ValueError("needs at least one matcher in match or match_re")
        return self

    def matches(self, alert: Alert) -> bool:
        return alert.status == "firing" and labels_match(self.match, self.match_re, alert.labels)

    def target_of(self, labels: Mapping[str, str]) -> str:
        return ",".join(f"{name}={labels.get(name, '')}" for name in self.target)

    def notify_for(self, severity: str) -> Notify:
        """When people hear of the alert: a critical one is never held back."""
        return "immediately" if severity == "critical" else self.notify


class PlaybookFile(Strict):
    dry_run: bool = False
    playbooks: list[Playbook] = Field(default_factory=list)


@dataclass(frozen=True)
class Playbooks:
    """A validated playbook file with the actions it was checked against."""

    dry_run: bool
    playbooks: tuple[Playbook, ...]
    actions: Mapping[str, Action]

    def binding(self, action: Action) -> Playbooks:
        """These playbooks with `action` in place of the one registered under its
        name: a collaborator bound at start-up (the failover chains)."""
        if action.name not in self.actions:
            return self
        return replace(self, actions={**self.actions, action.name: action})

    def select(self, alert: Alert) -> Playbook | None:
        """The first playbook for a firing alert; None for resolved or unmatched."""
        return next((p for p in self.playbooks if p.matches(alert)), None)

    def select_each(self, alerts: Sequence[Alert]) -> list[tuple[Alert, Playbook]]:
        """Each alert of a notification judged on its own labels and status."""
        return [(a, p) for a in alerts if (p := self.select(a)) is not None]


@dataclass(frozen=True)
class RenderedStep:
    """A step with the alert's labels in its parameters, ready for its action."""

    action: Action
    params: ActionParams
    timeout: float


def host_bound(book: Playbook, actions: Mapping[str, Action]) -> bool:
    """Whether any step of `book` acts on the fleet host the alert names (the
    `ansible` action, restart_service with `on_host`)."""
    return any(
        actions[step.action].params.binds_host(step.params)
        for step in book.actions
        if step.action in actions
    )


def rules_for(step: Step, action: Action) -> dict[str, list[Rule]]:
    rules = {param: [Rule(pattern=p)] for param, p in action.params.label_patterns.items()}
    for param, extra in step.inputs.items():
        enum = tuple(extra.enum) if extra.enum is not None else None
        rules.setdefault(param, []).append(Rule(pattern=extra.pattern, enum=enum))
    return rules


def render_step(
    step: Step, actions: Mapping[str, Action], labels: Mapping[str, str]
) -> RenderedStep:
    """The step for this alert's labels, or `Refused` saying which value failed."""
    action = actions[step.action]
    rendered = render(step.params, rules_for(step, action), labels)
    try:
        params = action.params.model_validate(rendered)
    except ValidationError as exc:
        raise Refused([f"rendered params.{p}" for p in validation_problems(exc)]) from None
    return RenderedStep(action, params, step.timeout)


def _step_problems(where: str, raw: Any, actions: Mapping[str, Action]) -> list[str]:
    """What the structure model cannot know: the action exists, its parameters fit
    its model, labels appear only where that action checks them."""
    if not isinstance(raw, dict) or not isinstance(raw.get("action"), str):
        return []
    name = raw["action"]
    if name not in actions:
        known = ", ".join(sorted(actions))
        return [f"{where}.action: unknown action {name!r} (known: {known})"]
    model = actions[name].params
    params, inputs = raw.get("params", {}), raw.get("inputs", {})
    if not isinstance(params, dict):
        return []
    problems = [f"{where}.params: {p}" for p in syntax_problems(params)]
    for param, value in params.items():
        if labels_used(value) and param not in model.label_patterns:
            problems.append(f"{where}.params.{param}: takes no {{labels.NAME}} placeholders")
    problems += [f"{where}.params.{p}" for p in model.placeholder_problems(params)]
    for param in inputs if isinstance(inputs, dict) else ():
        if param not in model.label_patterns:
            problems.append(f"{where}.inputs.{param}: {name} takes no labels in {param}")
    try:
        model.model_validate(sample(params))
    except ValidationError as exc:
        problems += [f"{where}.params.{p}" for p in validation_problems(exc)]
    return problems


def _file_problems(data: Any, actions: Mapping[str, Action]) -> list[str]:
    books = data.get("playbooks") if isinstance(data, dict) else None
    if not isinstance(books, list):
        return []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, book in enumerate(books):
        if not isinstance(book, dict):
            continue
        name = book.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(f"playbooks[{i}].name: duplicate of playbooks[{seen[name]}]")
            seen.setdefault(name, i)
        steps = book.get("actions")
        for j, step in enumerate(steps if isinstance(steps, list) else []):
            where = format_location(("playbooks", i, "actions", j))
            problems += _step_problems(where, step, actions)
    return problems


def playbooks_from_mapping(
    data: Any, source: str = "<playbooks>", actions: Mapping[str, Action] | None = None
) -> Playbooks:
    """Validate a playbook document; ConfigError lists every problem in it."""
    registry = builtin_actions() if actions is None else actions
    problems = _file_problems(data, registry)
    try:
        parsed = PlaybookFile.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc) + problems) from None
    if problems:
        raise ConfigError(source, problems)
    return Playbooks(parsed.dry_run, tuple(parsed.playbooks), registry)


def load_playbooks(path: Path, actions: Mapping[str, Action]) -> Playbooks:
    """The playbook file at `path`, checked against the registry the factory builds
    (`alert_webhook/app/actions.py`); ConfigError lists every problem in it."""
    return playbooks_from_mapping(load_yaml(path), str(path), actions)
