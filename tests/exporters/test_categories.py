"""Every failure lands in one of the plan's six categories."""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl

import pytest

from exporters.categories import Category, ProbeFailure, classify, classify_http_status


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (401, "authentication"),
        (403, "authentication"),
        (407, "authentication"),
        (408, "timeout"),
        (504, "timeout"),
        (429, "resource_exhaustion"),
        (507, "resource_exhaustion"),
        (500, "connection"),
        (502, "connection"),
        (503, "connection"),
        (404, "connection"),
    ],
)
def test_http_status(status, category):
    assert classify_http_status(status) == category


def _decode_error() -> json.JSONDecodeError:
    try:
        json.loads("{")
    except json.JSONDecodeError as exc:
        return exc
    raise AssertionError


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "connection"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "connection"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "connection"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "connection"),
        (TimeoutError("timed out"), "timeout"),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), "timeout"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission"),
        (OSError(errno.EROFS, "Read-only file system"), "permission"),
        (OSError(errno.ENOSPC, "No space left on device"), "resource_exhaustion"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "resource_exhaustion"),
        (OSError(errno.EMFILE, "Too many open files"), "resource_exhaustion"),
        (MemoryError(), "resource_exhaustion"),
        (_decode_error(), "data_integrity"),
        (http.client.BadStatusLine("garbage"), "data_integrity"),
        (http.client.RemoteDisconnected("closed"), "connection"),
        (http.client.IncompleteRead(b"abc", 97), "connection"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "authentication"),
        (ssl.SSLError(1, "wrong version number"), "connection"),
        (ProbeFailure(Category.DATA_INTEGRITY, "checksum"), "data_integrity"),
        (RuntimeError("password authentication failed for user x"), "authentication"),
        (RuntimeError("sorry, too many clients already"), "resource_exhaustion"),
        (RuntimeError("permission denied for table secrets"), "permission"),
        (RuntimeError("file is not a database"), "data_integrity"),
        (RuntimeError("something nobody foresaw"), "connection"),
    ],
)
def test_exceptions(exc, category):
    assert classify(exc) == category


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


class Wrapped(Exception):
    """Like SQLAlchemy's DBAPIError: the driver's error in `.orig`."""

    def __init__(self, orig: BaseException) -> None:
        super().__init__(str(orig))
        self.orig = orig


@pytest.mark.parametrize(
    ("sqlstate", "category"),
    [
        ("08006", "connection"),
        ("28P01", "authentication"),
        ("42501", "permission"),
        ("53300", "resource_exhaustion"),
        ("53100", "resource_exhaustion"),
        ("57014", "timeout"),
        ("22P02", "data_integrity"),
        ("XX001", "data_integrity"),
    ],
)
def test_sqlstate_through_a_wrapper(sqlstate, category):
    assert classify(Wrapped(DriverError(sqlstate))) == category


def test_there_are_exactly_the_plans_six():
    assert {c.value for c in Category} == {
        "connection",
        "timeout",
        "authentication",
        "permission",
        "resource_exhaustion",
        "data_integrity",
    }
