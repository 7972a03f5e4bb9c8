"""The runner and a playbook that needs an operator's approval, on a fake clock:
the run waits until its deadline, runs once approved (guardrails judged again),
ends blocked when rejected or unanswered; replicas agree through the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_runner
from test_runner import APPEND, Harness, book, command

from alert_webhook.remediation.states import Approval

replicas = test_runner.replicas  # the fixture: two stores sharing one database
TIMEOUT = 900  # approval_timeout: 15m


def needing_approval(out: Path, **kw: object) -> dict[str, object]:
    steps = command(APPEND, str(out), "{labels.service}")
    return book("DbCorrupt", steps, require_approval=True, approval_timeout="15m", **kw)


def waiting(store, out: Path, **kw: object) -> Harness:
    """A harness whose one run is now awaiting approval."""
    h = Harness(store, [needing_approval(out, **kw)])
    h.fire("DbCorrupt", service="db")
    assert h.runner.run_once() == 1
    return h


def test_a_run_that_needs_approval_waits_until_its_deadline(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = waiting(store, out)
    [run] = h.runs()
    assert (run["status"], run["approval"]) == ("awaiting_approval", "awaiting")
    assert run["approval_deadline"] == h.clock() + TIMEOUT
    assert (run["started_at"], run["claimed_by"], run["steps"]) == (None, None, [])
    h.clock.advance(TIMEOUT - 1)
    assert h.runner.run_once() == 0  # nothing due: it waits, holding no lease
    assert not out.exists()


@pytest.mark.integration
def test_approved_before_the_deadline_it_runs_and_records_who(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = waiting(store, out)
    h.clock.advance(60)
    [run] = h.runs()
    decided = store.runs.answer(run["id"], Approval.APPROVED, "alice", h.clock())
    assert decided.taken and decided.run is not None
    assert (decided.run["status"], decided.run["approval_by"]) == ("planned", "alice")
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert (run["status"], run["approval"], run["approval_at"]) == (
        "verifying", "approved", h.clock(),
    )  # fmt: skip
    assert out.read_text() == "db\n"
    assert h.runner.run_once() == 0  # it ran once


def test_unanswered_at_the_deadline_it_ends_blocked_saying_so(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = waiting(store, out)
    h.clock.advance(TIMEOUT)
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert (run["status"], run["guardrail"], run["detail"]) == (
        "blocked", "approval", "nobody approved within 15m",
    )  # fmt: skip
    assert (run["approval"], run["finished_at"]) == ("timed_out", h.clock())
    assert h.count("DbCorrupt", "blocked") == 1
    late = store.runs.answer(run["id"], Approval.APPROVED, "bob", h.clock())
    assert not late.taken
    assert h.runner.run_once() == 0
    assert not out.exists()


def test_an_approval_after_the_deadline_is_not_taken_though_no_runner_looked(
    store, tmp_path: Path
) -> None:
    h = waiting(store, tmp_path / "ran")
    h.clock.advance(TIMEOUT)
    [run] = h.runs()
    late = store.runs.answer(run["id"], Approval.APPROVED, "bob", h.clock())
    assert not late.taken and late.run is not None
    assert late.run["status"] == "awaiting_approval" and late.run["approval_by"] is None


def test_a_second_answer_changes_nothing(store, tmp_path: Path) -> None:
    h = waiting(store, tmp_path / "ran")
    [run] = h.runs()
    runs = store.runs
    assert runs.answer(run["id"], Approval.APPROVED, "alice", h.clock()).taken
    again = runs.answer(run["id"], Approval.REJECTED, "bob", h.clock(), "no")
    assert not again.taken and again.run is not None
    assert (again.run["approval"], again.run["approval_by"]) == ("approved", "alice")


def test_a_rejected_run_ends_blocked_with_who_and_why(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = waiting(store, out)
    [run] = h.runs()
    store.runs.answer(run["id"], Approval.REJECTED, "alice", h.clock(), "restoring by hand")
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert (run["status"], run["guardrail"], run["detail"]) == (
        "blocked", "approval", "rejected by alice: restoring by hand",
    )  # fmt: skip
    assert not out.exists()


@pytest.mark.integration
def test_once_approved_the_guardrails_are_judged_again(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [needing_approval(out, cooldown="1h")])
    h.fire("DbCorrupt", "a", service="db")
    h.fire("DbCorrupt", "b", service="db")
    assert h.runner.run_once() + h.runner.run_once() == 2  # both wait: neither acted
    second, first = h.runs()
    assert store.runs.answer(first["id"], Approval.APPROVED, "alice", h.clock()).taken
    h.runner.run_once()
    h.settle()  # the first run acted and was verified
    assert store.runs.answer(second["id"], Approval.APPROVED, "alice", h.clock()).taken
    h.runner.run_once()
    second, first = h.runs()
    assert first["status"] == "verified"
    assert (second["status"], second["guardrail"]) == ("blocked", "cooldown")
    assert out.read_text() == "db\n"


def test_a_dry_run_does_not_wait_and_says_a_real_one_would(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [needing_approval(out)], dry_run=True)
    h.fire("DbCorrupt", service="db")
    h.runner.run_once()
    [run] = h.runs()
    assert (run["status"], run["guardrail"], run["approval"]) == ("skipped", "dry_run", None)
    assert run["detail"] == (
        "remediation is in dry-run mode; a real run would wait for an operator's approval"
    )
    assert not out.exists()


@pytest.mark.integration
def test_two_replicas_one_approval_one_run(replicas, tmp_path: Path) -> None:
    a, b = replicas
    out = tmp_path / "ran"
    h = Harness(a, [needing_approval(out)])
    h.fire("DbCorrupt", service="db")
    first, second = h.runner_on(a, "w1"), h.runner_on(b, "w2")
    assert second.run_once() == 1  # replica b asks for approval
    [run] = h.runs()
    assert b.runs.answer(run["id"], Approval.APPROVED, "alice", h.clock()).taken
    assert first.run_once() + second.run_once() == 1
    assert out.read_text() == "db\n"


def test_replicas_agree_on_the_deadline(replicas, tmp_path: Path) -> None:
    a, b = replicas
    h = Harness(a, [needing_approval(tmp_path / "ran")])
    h.fire("DbCorrupt", service="db")
    first, second = h.runner_on(a, "w1"), h.runner_on(b, "w2")
    assert first.run_once() == 1
    h.clock.advance(TIMEOUT)
    assert second.run_once() + first.run_once() == 1  # one of them ends it, once
    [run] = h.runs()
    assert (run["status"], run["detail"]) == ("blocked", "nobody approved within 15m")
    assert h.count("DbCorrupt", "blocked") == 1
