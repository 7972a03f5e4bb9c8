"""Delivery: the outbox (`outbox.py`, `rows.py`) the planner (`planner.py`) fills
from the routes (`routing.py`, `settings.py`); the worker (`worker.py`) that
hands each message to its channel (`channels/`) over lanes (`lanes.py`), with
its retry policy (`policy.py`) and circuit breakers (`breaker.py`)."""
