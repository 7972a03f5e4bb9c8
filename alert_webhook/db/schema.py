"""Tables of the webhook's store, in portable SQL (SQLite and PostgreSQL).

An *alert* is one instance of a Prometheus alert: Alertmanager's fingerprint
plus its `startsAt`. Each state it reaches (firing, resolved) is one row of
`alert_events`, at most once: the unique constraint, not process memory, makes
repeats from `repeat_interval`, retries and HA peers collapse into one change.

Columns filled from labels or other payload text are `Text`: a label value has
no length limit, and PostgreSQL (unlike SQLite) enforces a `String(n)`.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData()
# The largest id a row can have on every store: `Integer` is 32-bit on
# PostgreSQL (SQLite's are wider, but start at 1 and count up as well).
MAX_ID = 2**31 - 1

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Float, nullable=False),
    Column("receiver", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("alert_count", Integer, nullable=False),
    Column("truncated_alerts", Integer, nullable=False),
    # Once the notification's JSON, which nothing read (about 30 KB per 100
    # alerts, on every write): now written empty (`NOTIFICATION_BODY`). The
    # column stays so that stores made by older webhooks, and replicas still
    # running one, keep working unchanged.
    Column("body", Text, nullable=False),
)
NOTIFICATION_BODY = ""

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("starts_at", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("alertname", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("ends_at", String(40)),
    Column("generator_url", Text, nullable=False),
    Column("first_received_at", Float, nullable=False),
    Column("last_received_at", Float, nullable=False),
    Column("last_notification_id", Integer, ForeignKey("notifications.id"), nullable=False),
    UniqueConstraint("fingerprint", "starts_at", name="uq_alert_instance"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("notification_id", Integer, ForeignKey("notifications.id"), nullable=False),
    UniqueConstraint("alert_id", "status", name="uq_alert_event"),
)

# The plan's severities, most urgent first (the vocabulary of
# delivery.settings.SEVERITIES, which a test keeps equal to this). A delivery's
# `severity_rank` is its alert's place here, UNRANKED for any other severity:
# workers claim due deliveries by it first, so a critical never waits behind a
# backlog of highs in its lane.
SEVERITY_ORDER = ("critical", "high", "medium", "low")
SEVERITY_RANKS = {name: rank for rank, name in enumerate(SEVERITY_ORDER)}
UNRANKED = len(SEVERITY_ORDER)


def severity_rank(severity: ColumnElement[str]) -> ColumnElement[int]:
    """The rank of a severity column's value, in SQL (SEVERITY_RANKS, UNRANKED)."""
    return case(SEVERITY_RANKS, value=severity, else_=UNRANKED)


# One row per (alert state change × channel × recipient × purpose): the outbox.
# `purpose` is "notify" for the state change itself, "remind-N" for reminders,
# "tier-N" for deadline escalation, "failover:<channel>" when another channel
# failed. The unique constraint makes every replica and every Alertmanager peer
# create it once; `claimed_until` is the lease that decides who sends it.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("event_id", Integer, ForeignKey("alert_events.id"), nullable=False),
    Column("event_status", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("recipient", Text, nullable=False),  # an email address may have 254 characters
    Column("purpose", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float),
    Column("claimed_by", String(64)),
    Column("provider", String(100)),
    Column("note", Text),
    Column("last_error", Text),
    Column("received_at", Float, nullable=False),
    Column("finished_at", Float),
    # Its alert's severity as SEVERITY_ORDER ranks it, written with the row.
    Column("severity_rank", Integer, nullable=False, server_default=text(str(UNRANKED))),
    UniqueConstraint("event_id", "channel", "recipient", "purpose", name="uq_delivery"),
)
# The due index holds only deliveries still to settle, so it stays the size of
# the backlog: the rows written settled (every dashboard delivery) and the
# history never enter it. SQLite uses a partial index only for a query that
# repeats its condition word for word, so queries of due rows add `UNSETTLED`.
# Within a status it is ordered by severity, then due time: a claim reads each
# severity's due rows off it in order (db/lease.py).
# The statuses of a delivery still to settle (`DeliveryStatus.final` reads them).
UNSETTLED_STATUSES = ("pending", "in_flight", "held")
UNSETTLED = deliveries.c.status.in_([literal_column(f"'{s}'") for s in UNSETTLED_STATUSES])
Index(
    "ix_deliveries_due_by_severity",
    deliveries.c.status,
    deliveries.c.severity_rank,
    deliveries.c.next_attempt_at,
    sqlite_where=UNSETTLED,
    postgresql_where=UNSETTLED,
)
Index("ix_deliveries_alert", deliveries.c.alert_id)

# An incident is a firing alert someone must answer; keyed by the alert.
# An operator may silence it (`silence_id`, the Alertmanager silence, held until
# `silenced_until` unless it is expired when the alert resolves) and may close it
# as handled with a note (`handled_*`; `closed_at` is then the handling time, and
# Alertmanager's later resolution leaves it so).
incidents = Table(
    "incidents",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id"), primary_key=True),
    Column("severity", Text, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("deadline_at", Float, nullable=False),
    Column("tier", Integer, nullable=False, default=1),
    Column("reminders", Integer, nullable=False, default=0),
    Column("acked_at", Float),
    Column("acked_by", String(200)),
    Column("closed_at", Float),
    Column("flag", Text),
    Column("silence_id", String(64)),
    Column("silenced_until", Float),
    Column("silenced_by", String(200)),
    Column("handled_at", Float),
    Column("handled_by", String(200)),
    Column("handled_note", Text),
    # The flapping episode this incident's alert took part in (the `flapping`
    # table), and what the console shows of it: "flapping: 5 changes in 30 min",
    # then "stopped flapping: firing for 10 min".
    Column("flapping_id", Integer, ForeignKey("flapping.id")),
    Column("flapping", Text),
)
# The improvement metrics read incidents that closed recently or are open.
Index("ix_incidents_closed", incidents.c.closed_at)

# A flapping episode of one alert (its fingerprint: every instance of it counts),
# from the state change past the limit (`started_event_id`, whose messages said
# so) to the duty that saw it hold one state long enough (`ended_at`). `changes`:
# the changes in the window when it began, plus each one since; `last_*`: the
# latest of them, which the "stopped flapping" notice is about. One open episode
# per alert, whichever replica saw the change: the store refuses a second.
flapping = Table(
    "flapping",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("alertname", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("started_event_id", Integer, ForeignKey("alert_events.id"), nullable=False),
    Column("changes", Integer, nullable=False),
    Column("last_change_at", Float, nullable=False),
    Column("last_status", String(16), nullable=False),
    Column("last_alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("last_event_id", Integer, ForeignKey("alert_events.id"), nullable=False),
    Column("ended_at", Float),
)
FLAPPING_OPEN = flapping.c.ended_at.is_(None)
Index(
    "ux_flapping_open",
    flapping.c.fingerprint,
    unique=True,
    sqlite_where=FLAPPING_OPEN,
    postgresql_where=FLAPPING_OPEN,
)

# Heartbeats (the Watchdog alert): when each was last seen, shared by replicas.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", Text, primary_key=True),
    Column("last_seen", Float, nullable=False),
)

# One remediation run per (firing state change × playbook): the unique key makes
# every replica and every Alertmanager peer plan it once; `claimed_until` is the
# lease that decides which runner works it. `started_at` is set when the runner
# commits to acting (a blocked run never starts); while it is set and
# `finished_at` is not, the run is acting on its target — verification included.
# `approval` is set only for a playbook that needs an operator: `awaiting` until
# `approval_deadline`, then `approved`, `rejected` or `timed_out`, with who
# decided and why. `silence_id` is the Alertmanager silence held while the run
# acts. `verifying_step` is the step whose success is being checked against
# Prometheus: set, a runner that claims the run checks again (a query is safe to
# repeat) rather than taking it for a run its runner died in. The `verify_*`
# columns are that check (remediation/verify.py's Verification): the expression
# asked (kept here once, not in each line of the record), since when the step
# worked, until when it may clear, and why that long in words.
remediation_runs = Table(
    "remediation_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("event_id", Integer, ForeignKey("alert_events.id"), nullable=False),
    Column("playbook", String(100), nullable=False),
    Column("target", Text, nullable=False),
    # The inventory host the run acts on (alert_webhook/fleet/); None: this machine.
    Column("host", String(255)),
    Column("status", String(24), nullable=False),  # awaiting_approval: 17
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float),
    Column("claimed_by", String(64)),
    Column("planned_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("guardrail", String(32)),
    Column("detail", Text),
    Column("approval", String(16)),
    Column("approval_deadline", Float),
    Column("approval_by", String(200)),
    Column("approval_at", Float),
    Column("approval_reason", Text),
    Column("silence_id", String(64)),
    Column("silence_note", Text),
    Column("verifying_step", Integer),
    Column("verify_query", Text),
    Column("verify_subject", Text),
    Column("verify_window", Float),
    Column("verify_since", Float),
    Column("verify_until", Float),
    Column("verify_why", Text),
    UniqueConstraint("event_id", "playbook", name="uq_remediation_run"),
)
Index("ix_remediation_runs_due", remediation_runs.c.status, remediation_runs.c.next_attempt_at)
Index("ix_remediation_runs_started", remediation_runs.c.started_at)
# The improvement metrics: runs by outcome since a time, and whether an
# incident's alert was recovered by a run.
Index("ix_remediation_runs_outcome", remediation_runs.c.status, remediation_runs.c.started_at)
Index("ix_remediation_runs_alert", remediation_runs.c.alert_id, remediation_runs.c.status)
# One run acting on a target at a time, whichever replica started it: the store
# refuses a second started-and-unfinished run there, even when two runners judged
# the guardrails at the same moment.
_acting = and_(remediation_runs.c.started_at.is_not(None), remediation_runs.c.finished_at.is_(None))
Index(
    "ux_remediation_acting",
    remediation_runs.c.target,
    unique=True,
    sqlite_where=_acting,
    postgresql_where=_acting,
)
# And one run acting on a fleet host at a time, whatever its target: two fixes on
# one machine at once (a restart during a cleanup) are judged by no one.
Index(
    "ux_remediation_host_acting",
    remediation_runs.c.host,
    unique=True,
    sqlite_where=_acting,
    postgresql_where=_acting,
)

# Each pause of automation for the whole fleet (alert_webhook/fleet/breaker.py):
# when and why it tripped (`limit`, `reason`, `evidence` as JSON: the counts, runs
# and hosts), the run whose judging tripped it, and who resumed it when.
# `in_force` is 1 while it holds and NULL once resumed: its unique constraint
# (NULLs are distinct) lets one pause hold at a time, so two replicas that trip
# at once write one pause, and page once.
fleet_pauses = Table(
    "fleet_pauses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tripped_at", Float, nullable=False),
    Column("limit_name", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("remediation_runs.id")),
    Column("in_force", Integer),
    Column("resumed_at", Float),
    Column("resumed_by", String(200)),
    UniqueConstraint("in_force", name="uq_fleet_pause_in_force"),
)

# The last page of each target healed too often (remediation/recurring.py): when
# it went, how many heals and which runs. One row per target: the page is the
# guarded write of this row (inserted once, then updated only once `paged_at` is
# a window old), so replicas ending heals of one target at once page once.
recurring_heals = Table(
    "recurring_heals",
    metadata,
    Column("target", String(500), primary_key=True),
    Column("paged_at", Float, nullable=False),
    Column("heals", Integer, nullable=False),
    Column("run_ids", Text, nullable=False),  # JSON list, oldest first
)

# Each step of a run as it was tried: written when it starts (so a runner that
# takes over a crashed run sees what was under way) and completed when it ends.
# `params` are the rendered parameters: label values and literal settings, never
# a secret (those stay in environment variables the parameters only name).
remediation_steps = Table(
    "remediation_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("remediation_runs.id"), nullable=False),
    Column("step", Integer, nullable=False),
    Column("action", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("exit_status", Integer),
    Column("output", Text),
    Column("detail", Text),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("duration", Float),
    UniqueConstraint("run_id", "step", name="uq_remediation_step"),
)

# Which backend each failover service is on, shared by replicas and surviving
# restarts. No row: the primary (nothing was ever switched). `switching_until` and
# `switching_by` are the claim of whoever is switching it now, so the failover
# action and the switch-back duty of any replica never switch one service at once;
# `primary_healthy_since` is when the primary's health checks began passing
# without a break while another backend is active.
failover_state = Table(
    "failover_state",
    metadata,
    Column("service", String(100), primary_key=True),
    Column("active", Text, nullable=False),
    Column("since", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("primary_healthy_since", Float),
    Column("switching_until", Float),
    Column("switching_by", String(64)),
)

# Follow-ups of a closed incident: notes operators add from its post-incident
# report (what to change so it does not happen again), shown in the report.
# `incident_id` is the incident's id as the console and the report name it: the
# alert that opened its episode.
follow_ups = Table(
    "follow_ups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("note", Text, nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("added_at", Float, nullable=False),
)
Index("ix_follow_ups_incident", follow_ups.c.incident_id)

# Recovery drills (`python -m stack drill`): one row per drill, one per scenario
# it ran, written together in one transaction (`POST /api/drills`), so a drill
# is on record whole or not at all. `trigger` is `manual` or `schedule`;
# `recovery_seconds` is what the scenario measured (NULL when it measured none,
# e.g. it failed before recovering); `detail` is the scenario's own account.
drills = Table(
    "drills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("recorded_at", Float, nullable=False),
)
drill_results = Table(
    "drill_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("drill_id", Integer, ForeignKey("drills.id"), nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("ok", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("recovery_seconds", Float),
    Column("detail", Text, nullable=False),
)
Index("ix_drill_results_scenario", drill_results.c.scenario, drill_results.c.finished_at)

# The weekly noise digest (reports/digest.py): one row per ISO week × recipient,
# written together in one transaction when the week's time has come — its
# unique key lets every replica plan the week once — and then sent under the
# lease (`claimed_*`, db/lease.py) like a delivery: retried with backoff while
# the mail relay is unavailable, never sent twice. `subject` and `body` are the
# digest as planned (the report of its window, [`since`, `until`)), so a retry
# sends the same text. A week in which no alert fired is recorded `skipped`.
digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("week", String(10), nullable=False),  # "2026-W48"
    Column("recipient", Text, nullable=False),
    Column("since", Float, nullable=False),
    Column("until", Float, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float),
    Column("claimed_by", String(64)),
    Column("provider", String(100)),
    Column("note", Text),
    Column("last_error", Text),
    Column("planned_at", Float, nullable=False),
    Column("finished_at", Float),
    UniqueConstraint("week", "recipient", name="uq_digest"),
)
Index("ix_digests_due", digests.c.status, digests.c.next_attempt_at)


# Columns an older store lacks whose value its rows can be given from what they
# hold, by (table, column): db/upgrade.py runs the statement once, right after
# adding the column. A store from before severity ranks keeps its backlog's
# order by severity.
BACKFILLS = {
    ("deliveries", "severity_rank"): update(deliveries)
    .where(UNSETTLED)
    .values(
        severity_rank=select(severity_rank(alerts.c.severity))
        .where(alerts.c.id == deliveries.c.alert_id)
        .scalar_subquery()
    ),
}
