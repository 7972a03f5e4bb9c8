"""A drill's report as `POST /api/drills` takes it: parsed at the edge into typed
objects, every problem named at once, before anything is stored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_DETAIL = 4000
MAX_RESULTS = 32
# A scenario's name as the stack's drill names it: it becomes a metric label.
SCENARIO_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioResult(_Strict):
    scenario: str = Field(pattern=SCENARIO_PATTERN)
    ok: bool
    started_at: float = Field(ge=0)
    finished_at: float = Field(ge=0)
    recovery_seconds: float | None = Field(default=None, ge=0)
    detail: str = Field(default="", max_length=MAX_DETAIL)

    @model_validator(mode="after")
    def _ordered(self) -> ScenarioResult:
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self


class DrillReport(_Strict):
    started_at: float = Field(ge=0)
    finished_at: float = Field(ge=0)
    trigger: Literal["manual", "schedule"] = "manual"
    results: list[ScenarioResult] = Field(min_length=1, max_length=MAX_RESULTS)

    @model_validator(mode="after")
    def _consistent(self) -> DrillReport:
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        names = [r.scenario for r in self.results]
        if len(set(names)) != len(names):
            raise ValueError("a scenario is listed twice")
        return self

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


class ReportError(Exception):
    """Every problem of a report, one per line item: `where: what`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_report(data: object) -> DrillReport:
    """The report in `data` (the request's JSON), or ReportError naming each problem."""
    try:
        return DrillReport.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        ]
        raise ReportError(problems) from None
