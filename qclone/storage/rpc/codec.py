"""The per-method codec table of the RPC layer: how arguments and results that are not plain
JSON travel, and how long the gateway waits for each call.

Everything else travels as JSON as it is. A substrate ``state`` (an
:class:`~qclone.storage.inputs.InputState`) travels in the wire format and is
validated again on arrival; a ``peek`` result (a numpy array) as a complex array.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qclone.errors import InvalidArgumentError
from qclone.storage.wire import decode_array, encode_array

__all__ = ["CODECS", "DEFAULT_TIMEOUT", "PROBE_TIMEOUT", "Codec", "codec_of", "decode_batch", "decode_state", "encode_batch",
           "encode_state"]

#: Seconds the gateway waits for a node's answer to a small call (records, keys).
DEFAULT_TIMEOUT = 3.0
#: Seconds for the substrate's quantum work (encrypt, age, decrypt, peek, sample up to k = 8).
HEAVY_TIMEOUT = 30.0
#: Seconds a health probe waits.
PROBE_TIMEOUT = 1.0

Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def encode_state(state: Any) -> dict:
    """An :class:`~qclone.storage.inputs.InputState` as a wire-format state."""
    return state.to_wire()


def decode_state(value: Any) -> Any:
    """The inverse of :func:`encode_state`, validated by :func:`~qclone.storage.inputs.parse_state`."""
    from qclone.storage.inputs import parse_state

    if not isinstance(value, dict) or "kind" not in value or "data" not in value:
        raise InvalidArgumentError("state must be an object with 'kind' and 'data'")
    return parse_state(value["kind"], value["data"])


def encode_batch(objects: Any) -> list:
    """A substrate batch (``[{"object_id", "state", "holders"}]``) with each state in the wire format."""
    return [{**item, "state": encode_state(item["state"])} for item in objects]


def decode_batch(value: Any) -> Any:
    """The inverse of :func:`encode_batch`, each state validated (the substrate checks the rest,
    the number of objects first)."""
    from qclone.storage.inputs import MAX_BATCH

    if not isinstance(value, list) or len(value) > MAX_BATCH:
        raise InvalidArgumentError(f"objects must be a list of at most {MAX_BATCH} objects")
    if not all(isinstance(item, dict) for item in value):
        raise InvalidArgumentError("each object is {\"object_id\", \"state\", \"holders\"}")
    return [{**item, "state": decode_state(item.get("state"))} for item in value]


def _decode_peek(value: Any) -> Any:
    return decode_array(value, name="peek")


@dataclass(frozen=True)
class Codec:
    """``args``: argument name -> (encode on the client, decode on the server);
    ``result``: (encode on the server, decode on the client); ``timeout`` in seconds."""

    args: dict[str, tuple[Convert, Convert]] = field(default_factory=dict)
    result: tuple[Convert, Convert] = (_same, _same)
    timeout: float = DEFAULT_TIMEOUT


_HEAVY = Codec(timeout=HEAVY_TIMEOUT)

#: role -> method -> codec (methods not named use plain JSON and the default timeout).
CODECS: dict[str, dict[str, Codec]] = {
    "substrate": {
        "create": Codec(args={"state": (encode_state, decode_state)}, timeout=HEAVY_TIMEOUT),
        "create_many": Codec(args={"objects": (encode_batch, decode_batch)}, timeout=HEAVY_TIMEOUT),
        "discard_many": _HEAVY,
        "peek": Codec(result=(encode_array, _decode_peek), timeout=HEAVY_TIMEOUT),
        "age": _HEAVY,
        "decrypt": _HEAVY,
        "recover": _HEAVY,
        "apply": _HEAVY,
        "sample": _HEAVY,
    },
    "vault": {"deposit_many": _HEAVY, "destroy_many": _HEAVY},
    "provider": {"records": _HEAVY, "store_many": _HEAVY, "discard_many": _HEAVY},  # every record a provider holds (a sync after a revive)
}

_PLAIN = Codec()


def codec_of(role: str, method: str) -> Codec:
    return CODECS.get(role, {}).get(method, _PLAIN)
