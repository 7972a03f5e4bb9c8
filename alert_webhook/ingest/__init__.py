"""From Alertmanager's POST to a committed state change: the payload model
(`payload.py`), the intake (`intake.py`), the group commit (`group_commit.py`),
the recorder (`record.py`) and the planner protocol every feature plans through
(`planners.py`); the webhook's own alerts (`own.py`), and reconciling what the
store holds as firing with what Alertmanager holds (`firing.py`, `reconcile.py`)."""
