"""The recovery plan's six error types (its "Error Classification"), and how a
probe's failure is sorted into one.

Rules carry the category as a label and remediation picks its default strategy by
it, so every failure a probe can meet must land in exactly one of these.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
from enum import StrEnum


class Category(StrEnum):
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    DATA_INTEGRITY = "data_integrity"


class ProbeFailure(Exception):
    """A failure the probe itself recognised, with its category decided there."""

    def __init__(self, category: Category, message: str) -> None:
        super().__init__(message)
        self.category = category


_RESOURCE_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOMEM,
    errno.EMFILE,
    errno.ENFILE,
    errno.EAGAIN,
}
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
_TIMEOUT_ERRNOS = {errno.ETIMEDOUT}
# SQLSTATE classes (PostgreSQL and the SQL standard).
_SQLSTATE_CLASSES = {
    "08": Category.CONNECTION,
    "28": Category.AUTHENTICATION,
    "53": Category.RESOURCE_EXHAUSTION,
    "57": Category.TIMEOUT,  # 57014 query_canceled, e.g. statement_timeout
    "22": Category.DATA_INTEGRITY,
    "23": Category.DATA_INTEGRITY,
    "XX": Category.DATA_INTEGRITY,
}
# Words drivers put in messages when they give no code (SQLite, libpq before connecting).
_MESSAGE_HINTS = (
    ("password authentication failed", Category.AUTHENTICATION),
    ("authentication", Category.AUTHENTICATION),
    ("permission denied", Category.PERMISSION),
    ("readonly database", Category.PERMISSION),
    ("too many connections", Category.RESOURCE_EXHAUSTION),
    ("too many clients", Category.RESOURCE_EXHAUSTION),
    ("remaining connection slots", Category.RESOURCE_EXHAUSTION),
    ("database or disk is full", Category.RESOURCE_EXHAUSTION),
    ("out of memory", Category.RESOURCE_EXHAUSTION),
    ("timeout", Category.TIMEOUT),
    ("timed out", Category.TIMEOUT),
    ("database is locked", Category.TIMEOUT),
    ("not a database", Category.DATA_INTEGRITY),
    ("malformed", Category.DATA_INTEGRITY),
    ("no such table", Category.DATA_INTEGRITY),
    ("does not exist", Category.DATA_INTEGRITY),
    ("connection refused", Category.CONNECTION),
    ("could not connect", Category.CONNECTION),
    ("unable to open database", Category.CONNECTION),
)


def classify_http_status(status: int) -> Category:
    """The category of an unexpected HTTP status."""
    if status in (401, 403, 407):
        return Category.AUTHENTICATION
    if status in (408, 504):
        return Category.TIMEOUT
    if status in (413, 429, 507, 509):
        return Category.RESOURCE_EXHAUSTION
    # 5xx and anything else unexpected: the service is not available as it should be.
    return Category.CONNECTION


def _classify_os_error(exc: OSError) -> Category | None:
    if isinstance(exc, TimeoutError) or exc.errno in _TIMEOUT_ERRNOS:
        return Category.TIMEOUT
    if isinstance(exc, PermissionError) or exc.errno in _PERMISSION_ERRNOS:
        return Category.PERMISSION
    if exc.errno in _RESOURCE_ERRNOS:
        return Category.RESOURCE_EXHAUSTION
    if isinstance(exc, ConnectionError | socket.gaierror | FileNotFoundError):
        return Category.CONNECTION
    return None


def _classify_database(exc: BaseException) -> Category | None:
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str):
        if sqlstate == "42501":
            return Category.PERMISSION
        if sqlstate[:2] in _SQLSTATE_CLASSES:
            return _SQLSTATE_CLASSES[sqlstate[:2]]
    text = str(exc).lower()
    for hint, category in _MESSAGE_HINTS:
        if hint in text:
            return category
    return None


def classify(exc: BaseException) -> Category:
    """Sort any exception a probe raised into one of the six categories."""
    if isinstance(exc, ProbeFailure):
        return exc.category
    # SQLAlchemy wraps the driver's error in `.orig`; Python chains in __cause__.
    inner = getattr(exc, "orig", None) or exc.__cause__
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Category.AUTHENTICATION
    if isinstance(exc, ssl.SSLError):
        return Category.CONNECTION
    if isinstance(exc, http.client.RemoteDisconnected | http.client.IncompleteRead):
        return Category.CONNECTION  # closed mid-way
    if isinstance(exc, http.client.HTTPException | json.JSONDecodeError | UnicodeDecodeError):
        return Category.DATA_INTEGRITY  # answered, but not in the expected shape
    if isinstance(exc, MemoryError):
        return Category.RESOURCE_EXHAUSTION
    if isinstance(exc, OSError) and (category := _classify_os_error(exc)):
        return category
    if inner is not None and inner is not exc:
        return classify(inner)
    if (category := _classify_database(exc)) is not None:
        return category
    if isinstance(exc, ValueError | KeyError | TypeError):
        return Category.DATA_INTEGRITY
    return Category.CONNECTION
