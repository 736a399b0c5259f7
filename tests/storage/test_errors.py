"""Storage errors carry their HTTP status; argument errors map to 422."""

import pytest

from qclone.errors import InvalidArgumentError, QcloneError, TooLargeError, UnsupportedError
from qclone.storage.errors import (
    ConflictError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    error_body,
    http_status,
)


@pytest.mark.parametrize(
    ("cls", "status"),
    [(NotFoundError, 404), (ConflictError, 409), (UnauthorizedError, 401), (UnavailableError, 503)],
)
def test_storage_errors(cls, status):
    exc = cls("boom")
    assert isinstance(exc, QcloneError)
    assert cls.http_status == status
    assert http_status(exc) == status
    assert error_body(exc) == {"error": {"type": cls.__name__, "message": "boom"}}


@pytest.mark.parametrize("cls", [InvalidArgumentError, TooLargeError, UnsupportedError])
def test_argument_errors_are_422(cls):
    assert http_status(cls("x")) == 422


def test_other_errors():
    assert http_status(QcloneError("x")) == 400
    assert http_status(RuntimeError("x")) == 500
