"""Storage errors carry their HTTP status; argument errors map to 422."""

import pytest

from qclone.errors import (
    InvalidArgumentError,
    QcloneError,
    TooLargeError,
    UnsupportedError,
)
from qclone.storage.errors import (
    GENERIC_MESSAGES,
    BodyTooLargeError,
    ConflictError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    error_body,
    http_status,
)


@pytest.mark.parametrize(
    ("cls", "status"),
    [(NotFoundError, 404), (ConflictError, 409), (UnauthorizedError, 401), (BodyTooLargeError, 413)],
)
def test_storage_errors(cls, status):
    exc = cls("boom")
    assert isinstance(exc, QcloneError)
    assert cls.http_status == status
    assert http_status(exc) == status
    assert error_body(exc) == {"error": {"type": cls.__name__, "message": "boom"}}
    assert error_body(exc, "r1") == {"error": {"type": cls.__name__, "message": "boom", "request_id": "r1"}}


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [(UnavailableError("vault at http://10.0.0.7:8472 refused: /srv/qclone/vault"), 503, "UnavailableError"),
     (OverflowError("int too large to convert"), 500, "InternalError"),
     (ValueError("invalid literal for int() with base 10: '\u00b2'"), 500, "InternalError"),
     (KeyError("token_hash"), 500, "InternalError")],
)
def test_server_errors_say_nothing_but_a_generic_message_and_the_request_id(exc, status, kind):
    assert http_status(exc) == status
    body = error_body(exc, "abc123")
    assert body == {"error": {"type": kind, "message": GENERIC_MESSAGES[status], "request_id": "abc123"}}
    assert str(exc) not in str(body) and type(exc).__name__ not in str(body).replace("UnavailableError", "")


@pytest.mark.parametrize("cls", [InvalidArgumentError, TooLargeError, UnsupportedError])
def test_argument_errors_are_422(cls):
    assert http_status(cls("x")) == 422


def test_other_errors():
    assert http_status(QcloneError("x")) == 400
    assert http_status(RuntimeError("x")) == 500
