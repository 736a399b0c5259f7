"""Complex arrays round-trip through JSON; malformed input is an InvalidArgumentError."""

import json
import math

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError
from qclone.storage.wire import decode_array, encode_array


def test_round_trip_through_json():
    rng = np.random.default_rng(1)
    arr = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    back = decode_array(json.loads(json.dumps(encode_array(arr))))
    np.testing.assert_array_equal(back, arr)


def test_plain_real_list_and_missing_imag():
    np.testing.assert_array_equal(decode_array([[1, 0], [0, 0]]), np.diag([1, 0]).astype(complex))
    np.testing.assert_array_equal(decode_array({"real": [0.6, 0.8]}), [0.6, 0.8])
    assert encode_array([0.5, 0.5], real_if_close=True) == [0.5, 0.5]
    assert encode_array([0.5, 0.5j], real_if_close=True) == {"real": [0.5, 0.0], "imag": [0.0, 0.5]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([[1, 0], [0]], "rectangular"),
        (["a", 1], "rectangular"),
        ([True, False], "rectangular"),
        ("1,2", "list of numbers"),
        (None, "list of numbers"),
        ([1.0, math.nan], "NaN"),
        ({"real": [1, math.inf]}, "NaN or infinity"),
        ({"real": [1, 0], "imag": [0]}, "shape"),
        ({"imag": [0]}, "missing key 'real'"),
        ({"real": [1], "phase": [0]}, "unexpected keys"),
    ],
)
def test_malformed(data, message):
    with pytest.raises(InvalidArgumentError, match=message):
        decode_array(data)


def test_numpy_and_python_complex_input():
    arr = np.array([0.6, 0.8j])
    np.testing.assert_array_equal(decode_array(arr), arr)
    np.testing.assert_array_equal(decode_array([0.6, 0.8j]), arr)
    with pytest.raises(InvalidArgumentError, match="real numbers"):
        decode_array({"real": [0.6, 0.8j]})
