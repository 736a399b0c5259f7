"""Opaque cursors for keyset paging of the gateway's listings.

A listing (``GET /v1/objects``, ``GET /v1/audit-log``) is read in a stable order, a page
at a time; the page after is the rows whose sort key is strictly larger than the last one
shown. The cursor carries that key: ``base64url(JSON [kind, key...])``. It is validated,
not trusted: a cursor that does not decode, names another listing, or carries values of the
wrong type is an :class:`~qclone.errors.InvalidArgumentError` (a 422 naming only the
parameter, never echoing the cursor). A tampered but well-formed cursor is harmless: the
query is still confined to the caller's own rows, it only moves where the page starts.

Examples:
    >>> c = encode_cursor("objects", 1765100000.25, "bell")
    >>> decode_cursor(c, "objects", (float, str))
    [1765100000.25, 'bell']
    >>> decode_cursor("not a cursor", "objects", (float, str))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qclone.errors.InvalidArgumentError: cursor is not a cursor of this listing...
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from qclone.errors import InvalidArgumentError

#: The longest cursor accepted (characters); a real one is well under this.
MAX_CURSOR = 1024
#: The longest string a cursor may carry (an object name is at most 255 characters).
_MAX_TEXT = 255


def encode_cursor(kind: str, *key: float | int | str) -> str:
    """The cursor after a row whose sort key is ``key``, for the listing ``kind``."""
    raw = json.dumps([kind, *key], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: Any, kind: str, types: tuple[type, ...]) -> list[Any]:
    """The sort key carried by ``cursor`` (one value per entry of ``types``), or
    :class:`InvalidArgumentError` if it is not a cursor of the listing ``kind``."""
    bad = InvalidArgumentError("cursor is not a cursor of this listing (pass the next_cursor of a previous page)")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise bad from None
    if not isinstance(value, list) or len(value) != len(types) + 1 or value[0] != kind:
        raise bad
    out: list[Any] = []
    for raw, t in zip(value[1:], types, strict=True):
        v: Any = float(raw) if t is float and type(raw) is int else raw  # JSON writes 2.0 as 2.0, but be lenient
        if t is float:
            ok = type(v) is float and math.isfinite(v)
        elif t is int:
            ok = type(v) is int and 0 <= v < 2**63
        else:
            ok = type(v) is str and len(v) <= _MAX_TEXT
        if not ok:
            raise bad
        out.append(v)
    return out
