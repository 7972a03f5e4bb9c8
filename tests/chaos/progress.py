"""`pytest -p chaos.progress` (tests/ on the path; what `make chaos` runs): each
scenario printed as it starts, by its name in the plan (the test module's
docstring) and the test's, then how it ended, how long it took and what it
measured (the lines it added to $CHAOS_RESULTS), instead of a row of dots:

    scenario 1, random service kill: a randomly killed business service ... passed in 9.1 s:
      single service kill (demo): recovered in 7.4 s (plan RTO 5 min)

(on one line). Failures are still reported in full at the end, as pytest does.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from chaos.results import RESULTS_ENV, Result, read
from chaos.table import duration

SCENARIO = re.compile(r"^(Scenario [^:.]*?)(?:, on `make up FAST=1`'s stack)?[:.]")


def scenario_name(item: pytest.Item) -> str:
    """`scenario 1, random service kill: a randomly killed business service is ...`"""
    doc = (getattr(item.module, "__doc__", None) or "").strip()  # type: ignore[attr-defined]
    found = SCENARIO.match(" ".join(doc.split()))
    plan = found.group(1) if found else item.module.__name__  # type: ignore[attr-defined]
    test = item.name.removeprefix("test_").replace("_", " ")
    return f"{plan[0].lower()}{plan[1:]}: {test}"


def measured(results: list[Result]) -> str:
    said = []
    for r in results:
        line = f"{r.scenario}: recovered in {duration(r.recovery_seconds)} "
        line += f"(plan RTO {duration(r.rto_seconds)})"
        if r.data_lost is not None:
            line += f", data lost {duration(r.data_lost)} (plan RPO {duration(r.rpo_seconds)})"
        said.append(line)
    return "; ".join(said)


class Progress:
    def __init__(
        self, config: pytest.Config, results: Path | None, clock: Callable[[], float]
    ) -> None:
        self.config, self.results, self.clock = config, results, clock
        self.outcome = ""

    def write(self, text: str) -> None:
        reporter: Any = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.write(text, flush=True)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        before = len(read(self.results)) if self.results else 0
        started, self.outcome = self.clock(), "passed"
        self.write(f"{scenario_name(item)} ... ")
        yield
        new = read(self.results)[before:] if self.results else []
        took = f"{self.outcome} in {duration(self.clock() - started)}"
        self.write(f"{took}: {measured(new)}\n" if new else f"{took}\n")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.outcome = "FAILED" if report.when == "call" else f"ERROR in its {report.when}"
        elif report.skipped and self.outcome == "passed":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            self.outcome = f"skipped ({reason.removeprefix('Skipped: ')})"

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str]:
        """pytest's own category and word (its tallies and summary), but no dot or letter."""
        if report.when == "call":
            return report.outcome, "", report.outcome.upper()
        if report.failed:
            return "error", "", "ERROR"
        return ("skipped", "", "SKIPPED") if report.skipped else ("", "", "")


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(RESULTS_ENV, "").strip()
    progress = Progress(config, Path(path) if path else None, time.monotonic)
    config.pluginmanager.register(progress, "chaos-progress")
