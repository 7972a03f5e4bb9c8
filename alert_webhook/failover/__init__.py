"""Failover: a service's chain of backends (`config.py`), the switch onto the next
healthy one and the active backend's gauge (`switch.py`, `FailoverCollector`), its
state in the store (`state.py`), the `failover` action (`action.py`) and the
switch-back duty (`switch_back.py`)."""
