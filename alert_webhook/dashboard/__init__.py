"""The console: the page (`pages.py`, one incident per episode of a failing service,
its actions, runs, timeline and messages), its live region (`live.py`), its read
model (`console.py`: what the page shows, read in one transaction), the
login page (`login.py`) and the channel-health panel (`health.py`)."""
