"""db/schema.py: the severity order deliveries are claimed in is the plan's."""

from __future__ import annotations

from sqlalchemy import literal, select

from alert_webhook.db.schema import SEVERITY_ORDER, UNRANKED, severity_rank
from alert_webhook.delivery.settings import SEVERITIES


def test_the_claim_order_is_the_vocabularys_severities_most_urgent_first(store) -> None:
    assert SEVERITY_ORDER == SEVERITIES
    with store.tx.read() as conn:
        ranks = [
            conn.execute(select(severity_rank(literal(s)))).scalar_one()
            for s in (*SEVERITIES, "warning", "")
        ]
    assert ranks == [0, 1, 2, 3, UNRANKED, UNRANKED]
