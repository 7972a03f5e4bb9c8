"""Render rules/src/*.yml into rules/*.yml, filling ${name} from rules/src/params.yml.

Thresholds, selectors and the runbook base live once, in params.yml; the rule
templates name them as ${name}. The rendered files are committed (Prometheus and
promtool read them as they are), and `tests/rules` fails when they are stale.

    python rules/render.py           # write rules/*.yml
    python rules/render.py --check   # exit 1 and name the stale files

Prometheus' own template syntax ({{ $value }}, $labels) never has a brace right
after the dollar sign, so `${...}` is free for us.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parent
SOURCE = RULES / "src"
PARAMS = "params.yml"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class RenderError(Exception):
    """Every unknown or unused parameter, one per line."""


def load_params(path: Path) -> dict[str, str]:
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise RenderError(f"{path.name}: must be a mapping of name: value")
    bad = [
        f"{path.name}: {k}: must be a scalar" for k, v in raw.items() if isinstance(v, dict | list)
    ]
    if bad:
        raise RenderError("\n".join(bad))
    return {str(k): str(v) for k, v in raw.items()}


def render_all(source: Path = SOURCE, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """File name → rendered text, for every template in `source`; `overrides` are
    another profile's values of some parameters (the stack's fast profile)."""
    params = load_params(source / PARAMS)
    problems = [
        f"override {name}: not in {PARAMS}" for name in overrides or {} if name not in params
    ]
    if problems:
        raise RenderError("\n".join(problems))
    params.update(overrides or {})
    used: set[str] = set()
    rendered: dict[str, str] = {}
    for template in sorted(source.glob("*.yml")):
        if template.name == PARAMS:
            continue
        text = template.read_text()
        names = PLACEHOLDER.findall(text)
        used.update(names)
        problems += [
            f"{template.name}: ${{{n}}}: not in {PARAMS}" for n in names if n not in params
        ]
        header = (
            f"# Generated from rules/src/{template.name} by rules/render.py: edit that file\n"
            f"# (thresholds and selectors are in rules/src/{PARAMS}), then run\n"
            "# `python rules/render.py`.\n"
        )
        rendered[template.name] = header + PLACEHOLDER.sub(lambda m: params.get(m[1], m[0]), text)
    problems += [f"{PARAMS}: {name}: not used by any rule" for name in params if name not in used]
    if problems:
        raise RenderError("\n".join(problems))
    return rendered


def stale(rendered: Mapping[str, str], target: Path = RULES) -> list[str]:
    """Rendered files that differ from their committed copy, and rule files with no template."""
    changed = [
        name
        for name, text in rendered.items()
        if not (target / name).is_file() or (target / name).read_text() != text
    ]
    orphans = [path.name for path in sorted(target.glob("*.yml")) if path.name not in rendered]
    return changed + orphans


def main(argv: list[str]) -> int:
    try:
        rendered = render_all()
    except RenderError as exc:
        print(exc, file=sys.stderr)
        return 2
    if "--check" in argv:
        names = stale(rendered)
        for name in names:
            print(f"rules/{name} is stale: run `python rules/render.py`", file=sys.stderr)
        return 1 if names else 0
    for name, text in rendered.items():
        (RULES / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
