"""What every page and JSON view stands on: the typed request context
(`context.py`), operators and logins (`operators.py`, `auth.py`), the Host and
Origin guards (`guard.py`), security headers (`security.py`), ids in URLs (`ids.py`)."""
