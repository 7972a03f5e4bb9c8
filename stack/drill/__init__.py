"""Recovery drills against the running stack: `python -m stack drill` runs the
scenarios that are safe on a live stack (`scenarios.py`), records the drill in
the webhook's store through `POST /api/drills` (`run.py`), and
`python -m stack drill-schedule` runs them on the schedule of
STACK_DRILL_SCHEDULE (`schedule.py`), which is off unless set."""
