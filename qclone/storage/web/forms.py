"""The store form of the dashboard: its fields turned into the storage input (with its budgets).

The form gives text; this module only splits it into numbers and hands them to
:func:`qclone.storage.inputs.parse_state`, the parser (and budgets) every other way in uses.

Examples:
    >>> state_from_form("bloch", "0.6, 0, 0.8", None).qubits
    1
    >>> state_from_form("statevector", "0.6, 0.8i", None).qubits
    1
"""

from __future__ import annotations

from typing import Any

from qclone.errors import InvalidArgumentError
from qclone.storage.inputs import MAX_QASM_CHARS, MAX_QUBITS, InputState, parse_state

__all__ = ["FORM_KINDS", "MAX_FIELD_CHARS", "state_from_form"]

#: The kinds of state the store form offers (value, label).
FORM_KINDS = (("bloch", "Bloch vector (x, y, z)"), ("statevector", "amplitudes"), ("qasm", "OpenQASM 2 or 3"))
#: Longest text of the amplitudes or Bloch field.
MAX_FIELD_CHARS = 20_000


def _numbers(text: str, what: str, *, complex_ok: bool) -> list[complex]:
    if len(text) > MAX_FIELD_CHARS:
        raise InvalidArgumentError(f"the {what} field has more than {MAX_FIELD_CHARS} characters")
    items = [t.strip() for t in text.replace(";", ",").strip().strip("[]()").split(",") if t.strip()]
    if len(items) > 2 ** MAX_QUBITS:
        raise InvalidArgumentError(f"the {what} field has {len(items)} numbers; at most {2 ** MAX_QUBITS}")
    out = []
    for i, item in enumerate(items, 1):
        word = item.replace(" ", "").replace("i", "j")
        try:
            value = complex(word) if complex_ok else complex(float(word))
        except ValueError:
            raise InvalidArgumentError(f"the {what} field: item {i} is not a {'complex ' if complex_ok else ''}number") from None
        out.append(value)
    return out


def state_from_form(kind: str, text: str | None, upload: str | None) -> InputState:
    """The :class:`~qclone.storage.inputs.InputState` of the store form.

    Args:
        kind: ``bloch``, ``statevector`` (amplitudes, e.g. ``0.6, 0.8i``; Qiskit's order) or ``qasm``.
        text: the text field (numbers, or OpenQASM text).
        upload: the content of an uploaded OpenQASM file (for ``qasm``; wins over ``text``).
    """
    text = text or ""
    if kind == "bloch":
        return parse_state("bloch", [v.real for v in _numbers(text, "Bloch vector", complex_ok=False)])
    if kind == "statevector":
        amps = _numbers(text, "amplitudes", complex_ok=True)
        data: Any = {"real": [a.real for a in amps], "imag": [a.imag for a in amps]}
        return parse_state("statevector", data)
    if kind == "qasm":
        source = upload if upload else text
        if len(source) > MAX_QASM_CHARS:
            raise InvalidArgumentError(f"the OpenQASM program has more than {MAX_QASM_CHARS} characters")
        return parse_state("qasm", source)
    raise InvalidArgumentError(f"unknown kind of state; choose one of {', '.join(k for k, _ in FORM_KINDS)}")
