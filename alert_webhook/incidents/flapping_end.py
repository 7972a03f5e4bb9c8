"""The end of flapping: an alert that has held one state for `hold_seconds` stops
flapping, and the people its episode's notice reached are told once ("stopped
flapping: firing for 10 min").

`FlappingEnd` is a duty (app/duties.py): each pass it asks the store for the open
episodes whose last change is that old and ends each in one transaction — the
guarded UPDATE that says "this replica ends it" (a change recorded meanwhile
moves `last_change_at`, and the episode goes on), the notice, and the
incidents' marker. A replica that loses the race writes nothing.

The notice goes where the last change's own messages were meant to go. Held
firing, the hushed firing messages are sent now with the notice as their note:
the alert is firing and people must know, and its resolution then follows them
as any resolution follows its firing message. Otherwise (resolved, or the last
change was the one that said "flapping") it is a message of its own, purpose
`flapping`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import ColumnElement

from alert_webhook.db.schema import FLAPPING_OPEN, deliveries, flapping, incidents
from alert_webhook.db.transactions import StoreUnavailable, Transactions
from alert_webhook.delivery.outbox import delivery_insert
from alert_webhook.delivery.routing import Target
from alert_webhook.delivery.rows import HUSHED, DeliveryStatus, NewDelivery, Purpose
from alert_webhook.delivery.settings import FlappingSettings
from alert_webhook.incidents.flapping import stopped_note
from alert_webhook.text import one_line

logger = logging.getLogger("alert_webhook.incidents")


@dataclass(frozen=True)
class Episode:
    """An open flapping episode, as the duty reads it."""

    id: int
    fingerprint: str
    alertname: str
    changes: int
    last_change_at: float
    last_status: str
    last_alert_id: int
    last_event_id: int


class FlappingEpisodes:
    """The `flapping` table's reads and the end of an episode (portable SQL)."""

    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        self._insert = delivery_insert(dialect)

    def settled(self, since: float) -> list[Episode]:
        """Open episodes whose last change is at or before `since`."""
        columns = [flapping.c[f] for f in Episode.__dataclass_fields__]
        query = select(*columns).where(FLAPPING_OPEN, flapping.c.last_change_at <= since)
        with self.tx.read() as conn:
            return [Episode(*row) for row in conn.execute(query.order_by(flapping.c.id))]

    def open_count(self) -> int:
        with self.tx.read() as conn:
            query = select(func.count()).select_from(flapping).where(FLAPPING_OPEN)
            return int(conn.execute(query).scalar_one())

    def end(
        self, episode: Episode, since: float, now: float, note: str, stored: frozenset[str]
    ) -> bool:
        """End the episode once (False: another replica did, or it changed since
        `since`), telling the end where its last change's messages were meant to go."""
        with self.tx.write() as conn:
            ended = conn.execute(
                update(flapping)
                .where(
                    flapping.c.id == episode.id, FLAPPING_OPEN,
                    flapping.c.last_change_at <= since,
                )
                .values(ended_at=now)
            )  # fmt: skip
            if ended.rowcount != 1:
                return False
            of_last = (
                deliveries.c.event_id == episode.last_event_id,
                deliveries.c.purpose == Purpose.NOTIFY,
            )
            planned = conn.execute(
                select(deliveries.c.channel, deliveries.c.recipient, deliveries.c.status,
                       deliveries.c.note).where(*of_last).order_by(deliveries.c.id)
            ).all()  # fmt: skip
            hushed = [p for p in planned if p.status == DeliveryStatus.SKIPPED and p.note == HUSHED]
            if episode.last_status == "firing" and hushed:
                self._release(conn, of_last, note, now, stored)
            else:
                targets = dict.fromkeys(Target(p.channel, p.recipient) for p in planned)
                rows = [self._notice(episode, t, note, now, stored) for t in targets]
                if rows:
                    self._insert(conn, rows)
            conn.execute(
                update(incidents).where(incidents.c.flapping_id == episode.id).values(flapping=note)
            )
            return True

    @staticmethod
    def _release(
        conn: Connection, of_last: tuple[ColumnElement[bool], ...], note: str, now: float,
        stored: frozenset[str],
    ) -> None:  # fmt: skip
        """The hushed messages of the last (firing) change go out now, with the note."""
        hushed = (*of_last, deliveries.c.status == DeliveryStatus.SKIPPED.value,
                  deliveries.c.note == HUSHED)  # fmt: skip
        in_store = deliveries.c.channel.in_(sorted(stored))
        conn.execute(
            update(deliveries).where(*hushed, in_store).values(
                status=DeliveryStatus.DELIVERED.value, attempts=1, provider=deliveries.c.channel,
                note=note, finished_at=now,
            )
        )  # fmt: skip
        conn.execute(
            update(deliveries).where(*hushed).values(
                status=DeliveryStatus.PENDING.value, next_attempt_at=now, note=note,
                finished_at=None,
            )
        )  # fmt: skip

    @staticmethod
    def _notice(
        episode: Episode, target: Target, note: str, now: float, stored: frozenset[str]
    ) -> NewDelivery:
        args = (episode.last_alert_id, episode.last_event_id, episode.last_status, target)
        if target.channel in stored:
            return NewDelivery.stored(*args, now, now, purpose=Purpose.FLAPPING.value, note=note)
        return NewDelivery.pending(*args, Purpose.FLAPPING.value, now, note)


class FlappingEnd:
    """The duty: end each episode whose alert held one state for `hold_seconds`."""

    def __init__(
        self,
        episodes: FlappingEpisodes,
        settings: FlappingSettings,
        stored_channels: frozenset[str],
        clock: Callable[[], float],
        ended: Callable[[], None] = lambda: None,
    ) -> None:
        self.episodes, self.settings, self.stored = episodes, settings, stored_channels
        self.clock, self.ended = clock, ended

    def __call__(self) -> None:
        now = self.clock()
        since = now - self.settings.hold_seconds
        told = 0
        for episode in self.episodes.settled(since):
            note = stopped_note(episode.last_status, self.settings.hold_seconds)
            if self.episodes.end(episode, since, now, note, self.stored):
                told += 1
                logger.warning(
                    "alert %s (%s) %s after %d changes",
                    one_line(episode.fingerprint), one_line(episode.alertname), note,
                    episode.changes,
                )  # fmt: skip
        if told:
            self.ended()  # wake the delivery lanes


class FlappingCollector:
    """`alert_webhook_flapping_alerts`: alerts flapping now, read from the store at
    scrape time (the same on every replica); left out when the store cannot answer."""

    def __init__(self, open_count: Callable[[], int]) -> None:
        self._open_count = open_count

    @staticmethod
    def _family(value: float | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "alert_webhook_flapping_alerts",
            "Alerts flapping now: changed state more than incidents.flapping.max_changes "
            "times in its window, and not yet held one state for its hold time.",
            value=value,
        )

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        try:
            count = self._open_count()
        except StoreUnavailable as exc:
            logger.warning("flapping gauge left out of this scrape: %s", exc)
            return
        yield self._family(count)
