"""startup.py: why the webhook cannot start, in one line without the password."""

from __future__ import annotations

from alert_webhook.cli.startup import store_problem
from alert_webhook.db.transactions import StoreUnavailable

URL = "postgresql+psycopg://alert:hunter2@127.0.0.1:5/webhook"


def test_names_the_store_and_the_first_line_of_the_reason() -> None:
    exc = StoreUnavailable("connection failed: Connection refused\n\tIs the server running?")
    assert store_problem(URL, exc) == (
        "store postgresql+psycopg://alert:***@127.0.0.1:5/webhook unreachable: "
        "connection failed: Connection refused"
    )


def test_a_password_in_the_drivers_reason_is_hidden_too() -> None:
    exc = StoreUnavailable("invalid dsn: password=hunter2 host=127.0.0.1")
    assert "hunter2" not in store_problem(URL, exc)


def test_a_folder_that_cannot_be_made_gives_the_os_reason() -> None:
    exc = PermissionError(13, "Permission denied")
    assert store_problem("sqlite:////root/x.db", exc).endswith("unreachable: Permission denied")
