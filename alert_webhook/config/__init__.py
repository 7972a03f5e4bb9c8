"""The webhook's settings: one YAML file plus the environment, typed, every error at
once (`settings.py`); the operators' settings (`auth.py`). The features own the
models of their own sections (delivery's channels and routes, failover's
chains, reconcile's timing); this package composes them."""
