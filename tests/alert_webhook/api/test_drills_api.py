"""POST /api/drills records a drill whole with the bearer token only (a 400 names
every problem, and stores nothing); GET /api/drills and /api/drills/scenarios read
it back; the metrics and the /drills page show it, a detail as text, never markup."""

from __future__ import annotations

import pytest

TOKEN = {"ALERT_WEBHOOK_TOKEN": "t"}
AUTH = {"Authorization": "Bearer t"}
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1))"


def drill(ok: bool = True, detail: str = "restored") -> dict:
    return {"started_at": 100.0, "finished_at": 110.0, "trigger": "schedule", "results": [
        {"scenario": "restore-test", "ok": True, "started_at": 100.0, "finished_at": 102.0,
         "recovery_seconds": 1.25, "detail": detail},
        {"scenario": "service-kill", "ok": ok, "started_at": 102.0, "finished_at": 110.0,
         "recovery_seconds": 7.5 if ok else None, "detail": "killed"},
    ]}  # fmt: skip


@pytest.fixture
def app(app_factory):
    return app_factory(None, TOKEN)


def sample(app, name: str, **labels: str) -> float | None:
    registry = app.extensions["alert_webhook"].metrics.registry
    return registry.get_sample_value(name, labels)


def test_recording_needs_the_bearer_token(app, store) -> None:
    client = app.test_client()
    assert client.post("/api/drills", json=drill()).status_code == 401
    assert client.post("/api/drills", json=drill(), headers={"Authorization": "Bearer x"}
                       ).status_code == 401  # fmt: skip
    assert store.count("drills") == 0


def test_a_bad_report_is_refused_whole_naming_each_problem(app, store) -> None:
    bad = drill()
    bad["results"][1]["scenario"] = "Not A Name"
    bad["results"][0]["finished_at"] = 1.0
    reply = app.test_client().post("/api/drills", json=bad, headers=AUTH)
    assert reply.status_code == 400
    problems = reply.get_json()["problems"]
    assert len(problems) == 2 and problems[0].startswith("results.0:"), problems
    assert store.count("drills") == store.count("drill_results") == 0
    not_json = app.test_client().post("/api/drills", data="x", headers=AUTH)
    assert not_json.status_code == 415


def test_a_recorded_drill_is_listed_summarised_and_published(app) -> None:
    client = app.test_client()
    reply = client.post("/api/drills", json=drill(ok=False), headers=AUTH)
    assert reply.status_code == 201 and reply.get_json()["ok"] is False
    [listed] = client.get("/api/drills", headers=AUTH).get_json()["drills"]
    assert (listed["trigger"], listed["ok"], len(listed["results"])) == ("schedule", False, 2)
    scenarios = client.get("/api/drills/scenarios").get_json()["scenarios"]
    assert [s["scenario"] for s in scenarios] == ["restore-test", "service-kill"]
    assert sample(app, "alert_webhook_drill_last_run_ok", scenario="service-kill") == 0
    assert sample(app, "alert_webhook_drill_last_run_ok", scenario="restore-test") == 1
    assert sample(app, "alert_webhook_drill_recovery_seconds", scenario="restore-test") == 1.25
    assert sample(app, "alert_webhook_drill_last_success_timestamp_seconds",
                  scenario="service-kill") is None  # fmt: skip
    assert sample(app, "alert_webhook_drill_runs_total", scenario="service-kill",
                  result="failed") == 1  # fmt: skip
    assert client.get("/api/drills?limit=0").status_code == 400


def test_the_drills_page_shows_a_detail_as_text_and_the_console_links_it(app) -> None:
    client = app.test_client()
    assert 'id="no-drills"' in client.get("/drills").text
    client.post("/api/drills", json=drill(detail=HOSTILE), headers=AUTH)
    page = client.get("/drills").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert 'data-scenario="service-kill"' in page and "FAILED" not in page
    assert 'id="drills-link" href="/drills"' in client.get("/").text
