"""Parsing and validating the states a tenant stores.

A state arrives as ``(kind, data)`` with kind ``bloch`` (k = 1: ``[x, y, z]``,
|r| <= 1), ``statevector`` (2^k complex amplitudes), ``density`` (a 2^k x 2^k
complex matrix) or ``qasm`` (an OpenQASM 2 or 3 program preparing the state
from |0…0⟩). :func:`parse_state` checks it (finite, normalised within 1e-6,
Hermitian PSD trace 1, k <= :data:`MAX_QUBITS`, the program parses and has no
measurement, reset or classical operation) and returns an :class:`InputState`.

Qubit order: Qiskit's. Qubit ``i`` of the register (stored as ``A<i>``) is bit ``i`` of a
vector or matrix index, so qubit 0 is the least significant bit, as in
:class:`qiskit.quantum_info.Statevector`; in a QASM program it is ``q[i]`` (in declaration
order). The engines keep their own order (the first qubit the most significant bit):
:attr:`InputState.engine_state` is the state in that order.

Examples:
    >>> st = parse_state("bloch", [0, 0, 1])
    >>> st.qubits, st.kind, st.vector
    (1, 'bloch', array([1.+0.j, 0.+0.j]))
    >>> qasm = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; x q[0];'
    >>> parse_state("qasm", qasm).vector.real      # q[0] = |1>, q[1] = |0>: Qiskit's |01>, index 1
    array([0., 1., 0., 0.])
    >>> bool(np.array_equal(parse_state("statevector", [0, 1, 0, 0]).vector, parse_state("qasm", qasm).vector))
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol.render import QasmBudget
from qclone.sim.exact import reverse_qubits
from qclone.storage.wire import decode_array, encode_array

__all__ = ["KINDS", "MAX_BATCH", "MAX_BATCH_AMPLITUDES", "MAX_BATCH_QASM", "MAX_NAME", "MAX_QASM_CHARS",
           "MAX_QASM_OPERATIONS", "MAX_QUBITS", "NORM_TOLERANCE", "QASM_BUDGET",
           "InputState", "check_name", "circuit_state", "load_state_file", "parse_state", "prepared_state"]

#: The kinds of state a tenant can store.
KINDS: tuple[str, ...] = ("bloch", "statevector", "density", "qasm")
#: Largest register a tenant may store.
MAX_QUBITS = 8
#: Tolerance on the norm, trace, hermiticity and positivity of an input.
NORM_TOLERANCE = 1e-6
#: Longest object name (characters).
MAX_NAME = 255
#: Longest OpenQASM program accepted.
MAX_QASM_CHARS = 100_000
#: Most operations an OpenQASM program may expand to (each use of a defined gate counts its body);
#: a generic 8-qubit state preparation (Qiskit's, in u and cx) takes about 500.
MAX_QASM_OPERATIONS = 4_000
#: Most seconds the simulation of a preparation program may take.
SIMULATION_SECONDS = 0.5
#: Most tokens of an OpenQASM 3 program (its loader takes ~25 µs per token: ~0.4 s at most; a
#: generic 8-qubit preparation has about 6,700).
MAX_QASM3_TOKENS = 15_000
#: Most objects one batch put stores (``POST /v1/objects:batch``); a node's batch call takes as many.
MAX_BATCH = 1000
#: Most amplitudes (the entries of every state's array: 2^k of a state vector, 4^k of a density
#: matrix) the states of one batch hold together.
MAX_BATCH_AMPLITUDES = 2**18
#: Most OpenQASM states in one batch (each may take up to ``SIMULATION_SECONDS`` to simulate).
MAX_BATCH_QASM = 16
#: The budget of an OpenQASM program (see :class:`qclone.protocol.render.QasmBudget`).
QASM_BUDGET = QasmBudget(chars=MAX_QASM_CHARS, operations=MAX_QASM_OPERATIONS, qubits=MAX_QUBITS, bits=64, nesting=16,
                         qasm3_tokens=MAX_QASM3_TOKENS)

#: Operations a preparation program must not contain.
_FORBIDDEN_OPS = {"measure", "reset", "if_else", "while_loop", "for_loop", "switch_case", "break_loop",
                  "continue_loop", "box", "store", "initialize"}
_PAULI = {
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


@dataclass(frozen=True, eq=False)
class InputState:
    """A validated k-qubit state (arrays are read-only), in Qiskit's qubit order (qubit 0 is the
    least significant bit of an index).

    Attributes:
        qubits: k, 1 <= k <= :data:`MAX_QUBITS`.
        vector: the normalised state vector (2^k,) for a pure input (statevector, qasm, or a Bloch
            vector of length 1), else ``None``.
        density: the density matrix (2^k, 2^k), always set (Hermitian, PSD, trace 1).
        kind: the kind it was given as.
    """

    qubits: int
    vector: np.ndarray | None
    density: np.ndarray
    kind: str

    @property
    def pure(self) -> bool:
        return self.vector is not None

    @property
    def engine_state(self) -> np.ndarray:
        """The vector if pure, else the density matrix, in the engines' order (qubit 0 the most
        significant bit): what :meth:`qclone.sim.core.CoreState.from_input` takes for the inputs
        ``A0 … A(k-1)``."""
        return reverse_qubits(self.vector if self.vector is not None else self.density)

    def to_wire(self) -> dict:
        """``{"kind": "statevector" | "density", "data": ...}`` (Qiskit's order, as
        :func:`parse_state` reads it): parses back to the same state."""
        if self.vector is not None:
            return {"kind": "statevector", "data": encode_array(self.vector)}
        return {"kind": "density", "data": encode_array(self.density)}


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=complex)
    a.setflags(write=False)
    return a


def _from_vector(vec: np.ndarray, kind: str) -> InputState:
    k = vec.size.bit_length() - 1
    return InputState(k, _frozen(vec), _frozen(np.outer(vec, vec.conj())), kind)


def _qubits_of(dim: int, what: str) -> int:
    if dim < 2 or dim & (dim - 1):
        raise InvalidArgumentError(f"{what} must have a power-of-two dimension >= 2 (2^k for k qubits), got {dim}")
    k = dim.bit_length() - 1
    if k > MAX_QUBITS:
        raise TooLargeError(f"a stored state has at most {MAX_QUBITS} qubits, got {k}")
    return k


def _parse_bloch(data: Any) -> InputState:
    r = decode_array(data, name="bloch vector")
    if r.shape != (3,):
        raise InvalidArgumentError(f"a Bloch vector is [x, y, z], got shape {r.shape}")
    if np.any(r.imag):
        raise InvalidArgumentError("a Bloch vector must be real")
    r = r.real
    length = float(np.linalg.norm(r))
    if length > 1 + NORM_TOLERANCE:
        raise InvalidArgumentError(f"a Bloch vector must have length <= 1, got {length:.9g}")
    if length >= 1 - 1e-12:  # pure: the vector cos(θ/2)|0> + e^{iφ} sin(θ/2)|1>
        r = r / length
        x, y, z = r
        theta, phi = np.arccos(np.clip(z, -1, 1)), np.arctan2(y, x)
        vec = np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)])
        return InputState(1, _frozen(vec), _frozen(np.outer(vec, vec.conj())), "bloch")
    rho = 0.5 * (np.eye(2) + sum(c * _PAULI[p] for c, p in zip(r, "XYZ")))
    return InputState(1, None, _frozen(rho), "bloch")


def _check_length(data: Any, what: str) -> None:
    """Refuse an outer list longer than 2^MAX_QUBITS before converting it (cheap)."""
    for part in (data.get("real"), data.get("imag")) if isinstance(data, dict) else (data,):
        if isinstance(part, list) and len(part) > 2 ** MAX_QUBITS:
            raise TooLargeError(f"a stored state has at most {MAX_QUBITS} qubits: {what} has {len(part)} rows or entries")


def _parse_statevector(data: Any, kind: str = "statevector") -> InputState:
    _check_length(data, "the state vector")
    vec = decode_array(data, name="state vector")
    if vec.ndim != 1:
        raise InvalidArgumentError(f"a state vector is a flat list of 2^k amplitudes, got shape {vec.shape}")
    _qubits_of(vec.size, "a state vector")
    norm = float(np.linalg.norm(vec))
    if abs(norm - 1) > NORM_TOLERANCE:
        raise InvalidArgumentError(f"a state vector must be normalised (norm 1 within {NORM_TOLERANCE:g}), got norm {norm:.9g}")
    return _from_vector(vec / norm, kind)


def _parse_density(data: Any) -> InputState:
    _check_length(data, "the density matrix")
    rho = decode_array(data, name="density matrix")
    if rho.ndim != 2 or rho.shape[0] != rho.shape[1]:
        raise InvalidArgumentError(f"a density matrix is a square 2^k x 2^k matrix, got shape {rho.shape}")
    k = _qubits_of(rho.shape[0], "a density matrix")
    if not np.allclose(rho, rho.conj().T, rtol=0, atol=NORM_TOLERANCE):
        raise InvalidArgumentError("a density matrix must be Hermitian")
    trace = complex(np.trace(rho))
    if abs(trace - 1) > NORM_TOLERANCE:
        raise InvalidArgumentError(f"a density matrix must have trace 1 (within {NORM_TOLERANCE:g}), got {trace.real:.9g}")
    rho = (rho + rho.conj().T) / 2
    w, v = np.linalg.eigh(rho)
    if w.min() < -NORM_TOLERANCE:
        raise InvalidArgumentError(f"a density matrix must be positive semidefinite, smallest eigenvalue {w.min():.6g}")
    w = np.clip(w, 0, None)
    rho = (v * (w / w.sum())) @ v.conj().T
    return InputState(k, None, _frozen((rho + rho.conj().T) / 2), "density")


def _parse_qasm(data: Any) -> InputState:
    if not isinstance(data, str):
        raise InvalidArgumentError("a qasm state is the text of an OpenQASM 2 or 3 program")
    from qclone.protocol.render import load_qasm

    # the budget refuses a program before Qiskit sees it: no include but the standard header,
    # at most MAX_QUBITS qubits, MAX_QASM_OPERATIONS operations after expanding every definition
    qc = load_qasm(data, QASM_BUDGET)
    if qc.num_qubits < 1:
        raise InvalidArgumentError("the OpenQASM program declares no qubits")
    return _from_vector(circuit_state(qc, what="the OpenQASM program"), "qasm")


def circuit_state(qc: Any, *, what: str = "the circuit") -> np.ndarray:
    """The normalised state a preparation circuit (a :class:`qiskit.QuantumCircuit`) makes from
    |0…0⟩, in Qiskit's order, after checking it is one: 1..:data:`MAX_QUBITS` qubits, no unbound
    parameter, gates only (no measurement, reset, initialize, classical condition or control flow).

    Raises:
        InvalidArgumentError: not a preparation circuit (the message names the offending operation).
        TooLargeError: too many qubits, or it takes more than :data:`SIMULATION_SECONDS` to simulate.

    Examples:
        >>> from qiskit import QuantumCircuit
        >>> qc = QuantumCircuit(2, 2)
        >>> _ = qc.x(0)
        >>> circuit_state(qc).real       # qubit 0 is |1>: Qiskit's |01>, index 1
        array([0., 1., 0., 0.])
        >>> _ = qc.measure(0, 0)
        >>> circuit_state(qc)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qclone.errors.InvalidArgumentError: a preparation circuit may only contain gates; the circuit has 'measure' ...
    """
    from qiskit import QuantumCircuit

    if not isinstance(qc, QuantumCircuit):
        raise InvalidArgumentError(f"{what} is not a qiskit QuantumCircuit (got {type(qc).__name__})")
    if qc.num_qubits < 1:
        raise InvalidArgumentError(f"{what} has no qubits")
    if qc.num_qubits > MAX_QUBITS:
        raise TooLargeError(f"a stored state has at most {MAX_QUBITS} qubits, {what} has {qc.num_qubits}")
    if qc.parameters:
        names = ", ".join(sorted(p.name for p in qc.parameters))  # the client's own identifiers
        raise InvalidArgumentError(f"{what} has unbound parameters ({names})")
    for ins in qc.data:
        name = ins.operation.name
        if name in _FORBIDDEN_OPS or ins.clbits or getattr(ins.operation, "condition", None):
            raise InvalidArgumentError(
                f"a preparation circuit may only contain gates; {what} has {name!r} "
                "(measurement, reset and classical operations are not allowed)"
            )
    vec = prepared_state(qc)
    if not np.all(np.isfinite(vec)):
        raise InvalidArgumentError(f"{what} produces a non-finite state")
    return vec / np.linalg.norm(vec)


def _apply(t: np.ndarray, u: np.ndarray, qargs: list[int]) -> np.ndarray:
    """Apply Qiskit's (little-endian) matrix ``u`` to the axes ``qargs`` of ``t`` (axis i: qubit i)."""
    m = len(qargs)
    axes = qargs[::-1]  # u's row index has qargs[0] as its least significant bit
    t = np.tensordot(u.reshape((2,) * (2 * m)), t, axes=(list(range(m, 2 * m)), axes))
    return np.moveaxis(t, list(range(m)), axes)


def prepared_state(qc: Any, *, seconds: float = SIMULATION_SECONDS) -> np.ndarray:
    """The state ``qc`` prepares from |0…0⟩, in Qiskit's order (q[0] the least significant bit),
    as :class:`qiskit.quantum_info.Statevector` would give it.

    Every gate definition's matrix is computed once per (name, parameters), so nested
    definitions cost their size, not 2^depth; beyond ``seconds`` the program is refused.

    Raises:
        InvalidArgumentError: an operation that is not a gate. TooLargeError: over time.
    """
    import time

    from qiskit.circuit import Gate

    deadline = time.monotonic() + seconds
    memo: dict[tuple, np.ndarray] = {}

    def matrix(op: Any) -> np.ndarray:
        if getattr(op, "_standard_gate", None) is not None or op.definition is None:
            if not isinstance(op, Gate):
                raise InvalidArgumentError(f"a preparation program may only contain gates; found {op.name!r}")
            return np.asarray(op.to_matrix(), dtype=complex)
        key = (type(op).__name__, op.name, op.num_qubits, tuple(float(p) for p in op.params))
        hit = memo.get(key)
        if hit is None:
            m = op.num_qubits
            t = np.eye(2 ** m, dtype=complex).reshape((2,) * (2 * m))  # axes: out qubits (MSB first), in
            t = run(op.definition, t)
            order = list(range(m))[::-1] + list(range(2 * m))[:m - 1:-1]
            hit = memo[key] = t.transpose(order).reshape(2 ** m, 2 ** m)  # back to Qiskit's order
        return hit

    def run(circuit: Any, t: np.ndarray) -> np.ndarray:
        index = {q: i for i, q in enumerate(circuit.qubits)}
        for ins in circuit.data:
            if time.monotonic() > deadline:
                raise TooLargeError(f"the OpenQASM program takes more than {seconds:g} s to simulate")
            if ins.operation.name == "barrier":
                continue
            if ins.clbits:
                raise InvalidArgumentError(f"a preparation program may only contain gates; found {ins.operation.name!r}")
            t = _apply(t, matrix(ins.operation), [index[q] for q in ins.qubits])
        phase = float(getattr(circuit, "global_phase", 0.0) or 0.0)
        return t * np.exp(1j * phase) if phase else t

    k = qc.num_qubits
    psi = np.zeros((2,) * k, dtype=complex)
    psi[(0,) * k] = 1
    return reverse_qubits(run(qc, psi).reshape(-1))  # the tensor's axis i is q[i]: q[0] most significant


#: What a valid name is, in words (the messages of :func:`check_name`).
NAME_RULE = ("a name is 1-{longest} characters, any but '/', control and format characters, "
             "without leading or trailing space")
#: Bidirectional formatting characters: they make a name display as another one.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_name(name: Any, *, what: str = "an object name", longest: int = MAX_NAME) -> str:
    r"""A name as given, or :class:`InvalidArgumentError`: 1..``longest`` characters, in Unicode
    normal form NFC, no ``/`` (a name is one segment of the gateway's URLs), no leading or
    trailing space, no control, format (zero-width, bidirectional override) or surrogate
    character. Never rewritten: a name that is not NFC is refused.

    Examples:
        >>> check_name("bell-pair α")
        'bell-pair α'
        >>> check_name("bad/name")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qclone.errors.InvalidArgumentError: an object name may not contain '/' (at 3): a name is 1-255 characters, ...
        >>> check_name("evil\u202etxt.exe")
        Traceback (most recent call last):
        ...
        qclone.errors.InvalidArgumentError: an object name may not contain control, format or bidirectional characters (U+202E at 4)
    """
    import unicodedata

    if not isinstance(name, str) or not name or len(name) > longest:
        raise InvalidArgumentError(f"{what} is 1-{longest} characters")
    slash = name.find("/")
    if slash >= 0:
        raise InvalidArgumentError(f"{what} may not contain '/' (at {slash}): {NAME_RULE.format(longest=longest)}")
    for i, ch in enumerate(name):
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise InvalidArgumentError(f"{what} may not contain control, format or bidirectional characters "
                                       f"(U+{ord(ch):04X} at {i})")
    if name != name.strip():
        raise InvalidArgumentError(f"{what} may not start or end with white space")
    if not unicodedata.is_normalized("NFC", name):
        raise InvalidArgumentError(f"{what} must be in Unicode normal form NFC (it is refused, never rewritten)")
    return name


_PARSERS = {"bloch": _parse_bloch, "statevector": _parse_statevector, "density": _parse_density, "qasm": _parse_qasm}


def parse_state(kind: object, data: Any) -> InputState:
    """Validate a state given as ``(kind, data)`` (see the module doc).

    ``data`` is the JSON value (or a numpy array; a string for ``qasm``).

    Raises:
        InvalidArgumentError: unknown kind or a malformed, unnormalised or unphysical state.
        TooLargeError: more than :data:`MAX_QUBITS` qubits.

    Examples:
        >>> parse_state("density", [[0.5, 0], [0, 0.5]]).pure
        False
        >>> parse_state("statevector", [1, 1])
        Traceback (most recent call last):
        ...
        qclone.errors.InvalidArgumentError: a state vector must be normalised (norm 1 within 1e-06), got norm 1.41421356
    """
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise InvalidArgumentError(f"unknown state kind {kind!r}; expected one of {', '.join(KINDS)}")
    return parser(data)


def load_state_file(path: str | Path, kind: str | None = None) -> InputState:
    """Read a state from a file and :func:`parse_state` it.

    Files: ``.npy`` (a numpy array; no pickles), ``.json`` (the data, or ``{"kind", "data"}``),
    anything else is read as text (OpenQASM). With ``kind=None`` the kind is taken from a
    ``{"kind", "data"}`` JSON file, ``qasm`` for ``.qasm`` / text files, and from the array's
    shape otherwise (shape (3,) real: bloch, 1-D: statevector, 2-D: density).

    Raises:
        InvalidArgumentError: the file cannot be read or holds no valid state.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            data: Any = np.load(p, allow_pickle=False)
        elif suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
        else:
            data = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InvalidArgumentError(f"cannot read a state from {str(p)!r}: {e}") from None
    if isinstance(data, dict) and "kind" in data and "data" in data:
        if kind is not None and kind != data["kind"]:
            raise InvalidArgumentError(f"{str(p)!r} holds a {data['kind']!r} state, not {kind!r}")
        kind, data = data["kind"], data["data"]
    if kind is None:
        if isinstance(data, str):
            kind = "qasm"
        else:
            arr = decode_array(data, name=f"state in {p.name}")
            if arr.shape == (3,) and not np.any(arr.imag):
                kind = "bloch"
            else:
                kind = "statevector" if arr.ndim == 1 else "density"
    if kind == "qasm" and not isinstance(data, str):
        raise InvalidArgumentError(f"{str(p)!r} does not hold OpenQASM text")
    return parse_state(kind, data)
