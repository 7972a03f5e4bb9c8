"""stack/agent.py's reading of ansible-runner's events: what a person sees of an
onboarding that went wrong."""

from __future__ import annotations

import io

from stack.agent import _Progress


def test_an_unreachable_loop_item_says_why_not_all_items_completed() -> None:
    out = io.StringIO()
    progress = _Progress(out, 0.0, lambda: 2.0)
    progress({
        "event": "runner_on_unreachable",
        "event_data": {"host": "host-1", "task": "Make the agent's folders", "res": {
            "msg": "All items completed", "unreachable": True, "results": [
                {"item": "/opt/a", "changed": False},
                {"item": "/opt/b", "unreachable": True,
                 "msg": "Failed to connect to the host via ssh: unix_listener: path too long"},
            ],
        }},
    })  # fmt: skip
    [problem] = progress.hosts["host-1"].problems
    assert problem == (
        "Make the agent's folders: Failed to connect to the host via ssh: "
        "unix_listener: path too long"
    )
    assert "host-1: FAILED" in out.getvalue()
