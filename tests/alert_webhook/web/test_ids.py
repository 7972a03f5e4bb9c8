"""Ids in paths and queries: past what a store's integer columns hold (int64 on
SQLite, int32 on PostgreSQL) is a 4xx naming it, never a 500, on both stores."""

from __future__ import annotations

import pytest

BEYOND_INT64 = "99999999999999999999"
LARGEST_ID = str(2**31 - 1)  # PostgreSQL's INTEGER; SQLite's are wider
INT64_MAX = str(2**63 - 1)


@pytest.fixture
def store(any_store):
    return any_store


@pytest.mark.parametrize("alert_id", [BEYOND_INT64, INT64_MAX, LARGEST_ID, "0"])
def test_acknowledging_an_id_no_store_can_hold_is_404(app_factory, alert_id: str) -> None:
    client = app_factory(env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    resp = client.post(
        f"/api/incidents/{alert_id}/ack", json={"by": "ops"}, headers={"Authorization": "Bearer t"}
    )
    assert resp.status_code == 404
    assert "error" in resp.get_json()


@pytest.mark.parametrize("raw", [BEYOND_INT64, INT64_MAX, "²", "-1", "1.5", "x"])
def test_deliveries_of_an_impossible_alert_id_are_400_naming_it(client, raw: str) -> None:
    resp = client.get("/api/deliveries", query_string={"alert_id": raw})
    assert resp.status_code == 400
    assert resp.get_json()["error"].startswith("alert_id:")


def test_deliveries_of_the_largest_id_are_an_empty_list(client) -> None:
    resp = client.get("/api/deliveries", query_string={"alert_id": LARGEST_ID})
    assert resp.status_code == 200
    assert resp.get_json() == {"deliveries": []}


@pytest.mark.parametrize("raw", ["²", BEYOND_INT64, "0"])
def test_an_impossible_limit_is_400_naming_it(client, raw: str) -> None:
    resp = client.get("/api/alerts", query_string={"limit": raw})
    assert resp.status_code == 400
    assert resp.get_json()["error"].startswith("limit:")
