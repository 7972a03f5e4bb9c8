"""Incidents: the store (`store.py`), opened by the incident planner (`planner.py`)
with each firing state change; their brief (`brief.py`), silences
(`silences.py`), response deadlines and reminders (`deadlines.py`)."""
