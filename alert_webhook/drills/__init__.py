"""Recovery drills on record: what `python -m stack drill` ran against the live
stack and how each scenario went (`record.py` the report it posts, `store.py`
the tables, `metrics.py` what Prometheus scrapes from them)."""
