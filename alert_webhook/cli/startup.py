"""What the operator reads when the webhook cannot start: one line, no secret."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def redacted(url: str) -> str:
    """The store URL with its password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True)


def store_problem(url: str, exc: BaseException) -> str:
    """`store <url> unreachable: <first line of the driver's reason>`."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    reason = reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
    password = make_url(url).password
    if password:
        reason = reason.replace(str(password), "***")
    return f"store {redacted(url)} unreachable: {reason}"
