"""Clients of the stack's other services: Alertmanager's API (`alertmanager.py`)."""
