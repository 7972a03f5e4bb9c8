"""How long an alert's expression can keep answering with samples from before a fix.

A fix takes effect at once, but Prometheus learns of it late, and an expression
goes on reading what it learnt before: a probe-fed series changes only when the
probe next runs (every minute on the default profile), a scraped one when
Prometheus next scrapes (15 s), a recording rule's output when its group is
next evaluated, and a range selector (`rate(x[5m])`) holds the last five
minutes whatever happened since. Their sum along the worst path through the
expression and the recording rules it reads (recursively) is its **lag**: after
that long, every sample the expression reads was taken after the fix.

An alerting rule's `for` is not part of it: it delays the firing, never the
clearing — Prometheus resolves an alert at the first evaluation its expression
returns nothing. Verification asks the expression itself, not `ALERTS`.

Pure: the rule texts and intervals come in (`verify.py` asks Prometheus for
them), so this is tested without one. Expressions are scanned, not parsed: each
name read counts with the range and offset written right after it, every name
that is a recording rule's is followed, and a subquery's range is added to every
name of its expression. Where the scan cannot tell, it overstates the lag,
which is the safe side: verification then polls a little longer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_UNIT_SECONDS = {
    "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0,
}  # fmt: skip
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+")
# A range `[5m]` or a subquery `[30m:1m]` / `[30m:]`: the range is what counts.
_RANGE = re.compile(r"\[\s*((?:\d+(?:ms|s|m|h|d|w|y))+)\s*(?::[^\]]*)?\]")
_OFFSET = re.compile(r"\boffset\s+(-?)((?:\d+(?:ms|s|m|h|d|w|y))+)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_NAME = re.compile(r"(?<![\w:.])[A-Za-z_:][A-Za-z0-9_:]*")
# `by (job)`, `on (job, instance)`, `group_left (category)`: label names, not series.
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "atan2",
        "inf",
        "nan",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    }
)
# How deep recording rules may read each other before a loop is assumed.
_MAX_DEPTH = 20


def parse_duration(text: str) -> float:
    """A Prometheus duration (`15s`, `1m30s`, `500ms`) in seconds; ValueError else."""
    text = text.strip()
    if not _DURATION.fullmatch(text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))


def say(seconds: float) -> str:
    """A duration in words as people read it: 30s, 1m 15s, 5m, 1h 2m."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "",
             f"{secs}s" if secs else ""]  # fmt: skip
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class RecordingRule:
    """A recording rule as Prometheus runs it: the name it writes, its expression,
    and its group's evaluation interval in seconds."""

    name: str
    query: str
    interval: float


@dataclass(frozen=True)
class Sources:
    """How late raw series reach Prometheus: the scrape interval, and the interval
    of the probes that feed the expression's raw series (0: none does)."""

    scrape_interval: float
    probe_interval: float = 0.0


@dataclass(frozen=True)
class Lag:
    """Seconds, and the parts they add up from, each named in words."""

    parts: tuple[tuple[str, float], ...]

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.parts)

    def words(self) -> str:
        named = [f"{say(seconds)} {what}" for what, seconds in self.parts if seconds > 0]
        return " + ".join(named) or "no lag"


def _scrubbed(expr: str) -> str:
    """The expression without strings and label matchers, where names and
    brackets mean nothing."""
    return _MATCHERS.sub(" ", _STRING.sub(" ", expr))


def selectors(expr: str) -> dict[str, float]:
    """Each name the expression reads (outside strings, label matchers and
    grouping clauses), with the longest window it reads that name over: the
    range written right after it (`x[5m]`), plus an `offset` after that, plus
    the longest subquery range anywhere in the expression (`(...)[30m:1m]`
    reaches back that far for every name inside, and finding which are inside
    is not worth a parser). Function names, followed by `(`, are not names
    read; keywords neither."""
    text = _GROUPING.sub(" ", _scrubbed(expr))
    subquery = max(
        (parse_duration(m.group(1)) for m in _RANGE.finditer(text) if ":" in m.group(0)),
        default=0.0,
    )
    found: dict[str, float] = {}
    for match in _NAME.finditer(text):
        name, after = match.group(0), text[match.end() :]
        if name.lower() in _KEYWORDS or after.lstrip().startswith("("):
            continue
        window = subquery
        if (rng := _RANGE.match(after.lstrip())) and ":" not in rng.group(0):
            window += parse_duration(rng.group(1))
            after = after.lstrip()[rng.end() :]
        if (off := _OFFSET.match(after.lstrip())) and not off.group(1):
            window += parse_duration(off.group(2))
        found[name] = max(found.get(name, 0.0), window)
    return found


def raw_metrics(expr: str, recordings: Mapping[str, RecordingRule]) -> set[str]:
    """The names the expression reads, through every recording rule it reads, that
    no recording rule writes: the scraped (or probed) series underneath."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = [expr]
    while pending:
        for name in selectors(pending.pop()):
            if name in recordings:
                if name not in seen:
                    seen.add(name)
                    pending.append(recordings[name].query)
            else:
                found.add(name)
    return found


def lag(expr: str, recordings: Mapping[str, RecordingRule], sources: Sources) -> Lag:
    """How long after a fix `expr` may still return what it returned before: the
    worst path from the expression down to a scraped series."""
    return Lag(tuple(_merged(_path(expr, recordings, sources, 0))))


def _path(
    expr: str, recordings: Mapping[str, RecordingRule], sources: Sources, depth: int
) -> list[tuple[str, float]]:
    raw = [("probe interval", sources.probe_interval), ("scrape interval", sources.scrape_interval)]
    paths = []
    for name, window in selectors(expr).items():
        below = raw
        if name in recordings and depth < _MAX_DEPTH:
            rule = recordings[name]
            below = [("evaluation of " + name, rule.interval),
                     *_path(rule.query, recordings, sources, depth + 1)]  # fmt: skip
        paths.append([("range", window), *below])
    # An expression that reads no series at all (`vector(1)`) has no lag.
    return max(paths, key=lambda path: sum(s for _, s in path), default=[])


def _merged(parts: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """Parts of one kind added together (two ranges on one path are one longer
    window), in the order first seen."""
    total: dict[str, float] = {}
    for what, seconds in parts:
        kind = "rule evaluation" if what.startswith("evaluation of ") else what
        total[kind] = total.get(kind, 0.0) + seconds
    return [(what, seconds) for what, seconds in total.items() if seconds > 0]
