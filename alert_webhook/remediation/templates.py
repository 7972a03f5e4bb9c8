"""Label values into action parameters, each one checked before it is used.

A parameter string may hold `{labels.NAME}` placeholders; nothing else in it is
special, so JSON-looking text stays literal. Before a value is substituted it
must fully match every pattern and enum that parameter declares: the action's own
safe alphabet for that parameter, and whatever the playbook adds. One value that
fails means the whole action is refused with the reason, e.g.

    label instance='db1;rm -rf /' does not match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$

so a label can never carry a shell word, a path, an option or a line break into
a command or a URL. Rendering is pure; nothing here runs anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

PLACEHOLDER = re.compile(r"\{labels\.([A-Za-z_][A-Za-z0-9_]*)\}")
# A `{labels` that is not a whole placeholder is a typo, never literal text.
_OPENING = re.compile(r"\{\s*labels\b")
# A stand-in for every label when a template is validated at load time: it passes
# any safe alphabet, so the action's own model judges the rest of the text.
SAMPLE_VALUE = "x"
_SHOWN = 80


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Rule:
    """What a label value must look like to reach one parameter."""

    pattern: str | None = None
    enum: tuple[str, ...] | None = None

    def problem(self, label: str, value: str) -> str | None:
        shown = repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")
        if self.pattern is not None and not _compiled(self.pattern).fullmatch(value):
            return f"label {label}={shown} does not match {self.pattern}"
        if self.enum is not None and value not in self.enum:
            return f"label {label}={shown} is not one of {', '.join(self.enum)}"
        return None


class Refused(Exception):
    """The action cannot run with these labels; `reasons` say why, one per value."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


def strings(value: Any) -> list[str]:
    """Every string inside `value` (lists and mapping values, not mapping keys)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return []


def labels_used(value: Any) -> list[str]:
    """The label names `value`'s placeholders name, in order, each once."""
    names = [m.group(1) for s in strings(value) for m in PLACEHOLDER.finditer(s)]
    return list(dict.fromkeys(names))


def syntax_problems(value: Any) -> list[str]:
    """Malformed placeholders, e.g. `{labels.}` or `{labels.instance` unclosed."""
    problems = []
    for text in strings(value):
        rest = PLACEHOLDER.sub("", text)
        if _OPENING.search(rest):
            problems.append(f"{text!r}: a placeholder is written {{labels.NAME}}")
    return problems


def substitute(value: Any, labels: Mapping[str, str]) -> Any:
    """`value` with every placeholder replaced (values must be checked already)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: labels[m.group(1)], value)
    if isinstance(value, Mapping):
        return {k: substitute(v, labels) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(v, labels) for v in value]
    return value


def sample(value: Any) -> Any:
    """`value` as it renders when every label is a harmless word, for load-time checks."""
    return substitute(value, _Everything())


class _Everything(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return SAMPLE_VALUE


def render(
    params: Mapping[str, Any],
    rules: Mapping[str, Sequence[Rule]],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """The parameters with the alert's labels in them, or `Refused` listing every
    label that is missing or fails a rule of the parameter it would reach."""
    reasons: list[str] = []
    for param, value in params.items():
        used = labels_used(value)
        if used and not rules.get(param):
            # Unchecked values never pass, even if a caller forgot the action's rules.
            reasons.append(f"parameter {param} takes no labels")
            continue
        for label in used:
            if label not in labels:
                reasons.append(f"label {label} is missing (needed by {param})")
                continue
            for rule in rules.get(param, ()):
                if (problem := rule.problem(label, labels[label])) is not None:
                    reasons.append(f"{problem} (needed by {param})")
                    break
    if reasons:
        raise Refused(list(dict.fromkeys(reasons)))
    return {param: substitute(value, labels) for param, value in params.items()}
