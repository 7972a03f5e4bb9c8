"""Configuration files parsed at the edge, with every error reported at once.

A `ConfigError` carries one line per problem, each naming the file and the path of
the bad key in it (`probes.yml: checks[2].timeout: must be a positive duration`).
The command-line entry points print it and exit with status 2, without a traceback.
The exporters, the alert webhook and the stack share this module: one error, one
way of naming where it is.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

EXIT_CONFIG_ERROR = 2

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


class ConfigError(Exception):
    """Every problem found in one configuration source (a file, a flag, a variable)."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(self.lines))

    @property
    def lines(self) -> list[str]:
        """One line per problem, each naming the source."""
        return [f"{self.source}: {p}" for p in self.problems]


class Strict(BaseModel):
    """Base for configuration models: unknown keys are errors, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a positive duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ValueError("must be a positive duration")
    if seconds <= 0:
        raise ValueError("must be a positive duration")
    return seconds


def _parse_regex(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


# Seconds, written as a number or as `500ms`, `30s`, `5m`, `1h`, `7d`.
Duration = Annotated[float, BeforeValidator(_parse_duration)]
# A regular expression, checked when the file is loaded.
Regex = Annotated[str, BeforeValidator(_parse_regex)]

M = TypeVar("M", bound=BaseModel)


def format_location(
    loc: Sequence[int | str], skip: Callable[[int | str], bool] = lambda part: False
) -> str:
    """`('checks', 2, 'http', 'timeout')` → `checks[2].timeout` (union tags skipped)."""
    out = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif index > 0 and isinstance(loc[index - 1], int) and skip(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def validation_problems(
    exc: ValidationError, skip_tag: Callable[[int | str], bool] = lambda part: False
) -> list[str]:
    """Each of pydantic's errors as `key.path: what is wrong`."""
    problems = []
    for error in exc.errors():
        where = format_location(error["loc"], skip_tag)
        problems.append(f"{where}: {_message(error)}" if where else _message(error))
    return problems


def parse_model(
    model: type[M],
    data: Any,
    source: str,
    skip_tag: Callable[[int | str], bool] = lambda part: False,
) -> M:
    """Validate `data` into `model`, or raise a ConfigError listing every problem."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, skip_tag)) from None


def load_yaml(path: Path) -> Any:
    """The YAML document in `path`, or a ConfigError (missing, unreadable, not YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"{where}invalid YAML: {problem}"]) from None


def report_config_error(
    error: ConfigError, program: str | None = None, out: TextIO | None = None
) -> int:
    """Print the error's lines to stderr (`out`), each after `program: ` when one is
    named; the exit status a command line then returns (EXIT_CONFIG_ERROR)."""
    prefix = f"{program}: " if program else ""
    for line in error.lines:
        print(f"{prefix}{line}", file=sys.stderr if out is None else out)
    return EXIT_CONFIG_ERROR


def exit_on_config_error(error: ConfigError) -> None:
    """Print the error's lines to stderr and exit 2 — the CLI contract."""
    sys.exit(report_config_error(error))
