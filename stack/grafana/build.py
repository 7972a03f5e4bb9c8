"""Write the dashboards' JSON, or check that the committed files are what the code builds."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from stack.grafana import alerts, host, services
from stack.grafana.panels import REPO, load_params

DASHBOARD_DIR = REPO / "grafana" / "dashboards"
# File name (as provisioned from grafana/dashboards/) → the dashboard's builder.
DASHBOARDS: dict[str, Callable[[Mapping[str, Any]], dashboard.Dashboard]] = {
    "host.json": host.build,
    "services.json": services.build,
    "alerts.json": alerts.build,
}


def render(params: Mapping[str, Any]) -> dict[str, str]:
    """Each dashboard file's text: sorted keys and a final newline, so a diff shows
    only what changed."""
    return {
        name: json.dumps(build(params).build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }


def stale(dest: Path, rendered: Mapping[str, str]) -> list[str]:
    """The files under `dest` that differ from `rendered`, are missing, or are extra."""
    present = {p.name for p in dest.glob("*.json")}
    changed = [
        n for n, text in rendered.items() if n not in present or (dest / n).read_text() != text
    ]
    return sorted(changed + sorted(present - set(rendered)))


def write(dest: Path, rendered: Mapping[str, str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for extra in set(p.name for p in dest.glob("*.json")) - set(rendered):
        (dest / extra).unlink()
    for name, text in rendered.items():
        (dest / name).write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.grafana", description=__doc__)
    parser.add_argument("--dest", type=Path, default=DASHBOARD_DIR)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 naming the files that are out of date"
    )
    args = parser.parse_args(argv)
    rendered = render(load_params())
    if args.check:
        outdated = stale(args.dest, rendered)
        for name in outdated:
            print(f"{args.dest / name}: out of date; run python -m stack.grafana", file=sys.stderr)
        return 1 if outdated else 0
    write(args.dest, rendered)
    return 0
