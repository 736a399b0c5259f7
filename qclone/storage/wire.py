"""JSON encoding of complex arrays.

A complex array travels as ``{"real": nested list, "imag": nested list}``; on
input a plain nested list of real numbers is accepted too. Malformed input
(ragged lists, non-numbers, NaN or infinity, mismatched shapes) raises
:class:`~qclone.errors.InvalidArgumentError` with one clear message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qclone.errors import InvalidArgumentError

__all__ = ["decode_array", "encode_array"]


def encode_array(array: Any, *, real_if_close: bool = False) -> dict | list:
    """Encode an array as ``{"real", "imag"}`` nested lists.

    Args:
        array: anything :func:`numpy.asarray` turns into a numeric array.
        real_if_close: return a plain nested list when the imaginary part is exactly zero.

    Examples:
        >>> encode_array([1, 1j])
        {'real': [1.0, 0.0], 'imag': [0.0, 1.0]}
        >>> encode_array([0.5, 0.5], real_if_close=True)
        [0.5, 0.5]
    """
    arr = np.asarray(array, dtype=complex)
    if real_if_close and not np.any(arr.imag):
        return arr.real.tolist()
    return {"real": arr.real.tolist(), "imag": arr.imag.tolist()}


def _numeric(value: Any, what: str, *, allow_complex: bool) -> np.ndarray:
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise InvalidArgumentError(f"{what} must be a (nested) list of numbers")
    kind = "real or complex" if allow_complex else "real"
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nesting
        raise InvalidArgumentError(f"{what} must be a rectangular (nested) list of {kind} numbers") from exc
    if arr.dtype.kind not in ("iufc" if allow_complex else "iuf"):
        raise InvalidArgumentError(f"{what} must be a rectangular (nested) list of {kind} numbers")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{what} contains NaN or infinity")
    return arr.astype(complex if arr.dtype.kind == "c" else float)


def decode_array(data: Any, *, name: str = "array") -> np.ndarray:
    """Decode ``{"real", "imag"}`` (``imag`` optional) or a plain nested list of numbers.

    The plain form is real in JSON; from Python it may also hold complex numbers or be a
    numpy array.

    Args:
        data: the JSON value.
        name: what the array is, for error messages.

    Returns:
        A complex numpy array.

    Raises:
        InvalidArgumentError: the value is not a finite, rectangular numeric array.

    Examples:
        >>> decode_array({"real": [1, 0], "imag": [0, 1]})
        array([1.+0.j, 0.+1.j])
        >>> decode_array([[1, 0], [0, 0]]).shape
        (2, 2)
    """
    if isinstance(data, dict):
        unknown = set(data) - {"real", "imag"}
        if unknown:
            raise InvalidArgumentError(
                f"{name}: unexpected keys {sorted(unknown)}; expected 'real' and 'imag'"
            )
        if "real" not in data:
            raise InvalidArgumentError(f"{name}: missing key 'real'")
        real = _numeric(data["real"], f"{name}.real", allow_complex=False)
        if data.get("imag") is None:
            return real.astype(complex)
        imag = _numeric(data["imag"], f"{name}.imag", allow_complex=False)
        if real.shape != imag.shape:
            raise InvalidArgumentError(
                f"{name}: real part has shape {real.shape} but imaginary part {imag.shape}"
            )
        return real + 1j * imag
    return _numeric(data, name, allow_complex=True).astype(complex)
