"""The textfile collector: `*.prom` files that cron jobs write, served with the host.

A backup script writes `backup.prom` (to a temporary name, then renames it) and the
next scrape publishes its samples, plus `node_textfile_mtime_seconds{file}` so a
rule can tell a stale report from a fresh one. A file that does not parse, holds
client-side timestamps, contradicts another file's type for the same metric or
repeats one of its series is skipped whole and sets `node_textfile_scrape_error 1`;
the rest is still served — node_exporter's behaviour, down to the `file` label
holding the full path (node_exporter fails the whole scrape on a repeated series;
skipping the later file keeps the rest of the host visible).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from exporters.host.base import HostContext

log = logging.getLogger(__name__)


class TextfileError(ValueError):
    pass


def parse_file(path: Path) -> list[Metric]:
    """Every family in one file, or a TextfileError saying what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TextfileError(f"cannot read: {exc}") from None
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError, TypeError) as exc:
        raise TextfileError(f"not the Prometheus text format: {exc}") from None
    for family in families:
        if any(sample.timestamp is not None for sample in family.samples):
            raise TextfileError(f"{family.name} has client-side timestamps, which are unsupported")
        if family.documentation == "":
            family.documentation = f"Metric read from {path}"
    return families


def collect_textfile(c: HostContext) -> Iterator[Metric]:
    directory = c.textfile_directory
    if directory is None:  # node_exporter without a directory says "no error" too
        yield _scrape_error(0)
        return
    merged: dict[str, Metric] = {}
    mtimes = GaugeMetricFamily(
        "node_textfile_mtime_seconds",
        "Unixtime mtime of textfiles successfully read.",
        labels=["file"],
    )
    error = 0
    try:
        paths = sorted(p for p in directory.iterdir() if p.name.endswith(".prom"))
    except OSError as exc:
        log.error("textfile directory %s: %s", directory, exc)
        paths, error = [], 1
    for path in paths:
        try:
            families = parse_file(path)
            mtime = path.stat().st_mtime
            _merge(merged, families)
        except (TextfileError, OSError) as exc:
            log.error("textfile %s skipped: %s", path, exc)
            error = 1
            continue
        mtimes.add_metric([str(path)], float(int(mtime)))
    yield from merged.values()
    if mtimes.samples:
        yield mtimes
    yield _scrape_error(error)


def _scrape_error(value: int) -> Metric:
    return GaugeMetricFamily(
        "node_textfile_scrape_error",
        "1 if there was an error opening or reading a file, 0 otherwise",
        value=value,
    )


def _merge(merged: dict[str, Metric], families: list[Metric]) -> None:
    """Add one file's families, or none of them if one contradicts an earlier file."""
    for family in families:
        earlier = merged.get(family.name)
        if earlier is None:
            continue
        if earlier.type != family.type:
            raise TextfileError(
                f"{family.name} is a {family.type} here but a {earlier.type} in an earlier file"
            )
        seen = {(s.name, tuple(sorted(s.labels.items()))) for s in earlier.samples}
        for sample in family.samples:
            if (sample.name, tuple(sorted(sample.labels.items()))) in seen:
                raise TextfileError(f"{sample.name}{sample.labels} is in an earlier file already")
    for family in families:
        if family.name in merged:
            merged[family.name].samples.extend(family.samples)
        else:
            merged[family.name] = family
