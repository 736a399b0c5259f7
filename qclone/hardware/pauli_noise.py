"""The device's Aer noise model, Pauli-twirled: what makes matrix-product-state runs of the whole chip cheap.

``AerSimulator.from_backend`` models a device with, after every gate, a
depolarizing error composed with thermal relaxation (T1, T2, the gate's
duration) on each of its qubits, relaxation during every delay, and readout
errors. Thermal relaxation is not a Pauli channel, so Aer's
matrix-product-state method has to treat every one of them as a general
Kraus channel (probabilities from the state, one per shot): about 1 s per
shot at n = 10 and 15 to 40 s at n = 63 on this project's 2-core machine
(``bench/hardware_mps_cost.py``).

The **Pauli twirl** of a channel E keeps only the diagonal of its Pauli
transfer matrix: E_T(ρ) = Σ_P p_P P ρ P with p_P = Σ_k |Tr(P K_k)|² / d²
(K_k its Kraus operators, d = 2^q). It has the same process fidelity and
the same Pauli-diagonal, and it is the channel that Pauli twirling
(randomized compiling) makes of the device's error. :func:`twirled_noise_model` twirls every gate error of
the device's own Aer model (same qubit, same edge, same calibration), and
:func:`twirl_delays` replaces every delay by the twirl of that qubit's thermal
relaxation for that time (T2 capped at 2·T1, as Aer does). Readout errors
are classical and stay as they are.

With Pauli noise on a Clifford circuit (the protocol, cardinal inputs and the
tomography bases are all Clifford) every trajectory is a stabilizer state of
the chain, whose bond dimension stays small, and Aer applies each error as a
sampled Pauli gate: about 0.005 s per shot at n = 10 and 0.05 to 0.1 s at
n = 63, with the largest bond dimension 8 at every n measured.

Examples:
    Amplitude damping γ twirls to p_X = p_Y = γ/4, p_Z = (1 − √(1−γ))²/4:

    >>> from qiskit_aer.noise import amplitude_damping_error
    >>> tw = twirl_error(amplitude_damping_error(0.2))
    >>> sorted((lab, round(p, 6)) for lab, p in pauli_probabilities(tw).items())
    [('I', 0.897214), ('X', 0.05), ('Y', 0.05), ('Z', 0.002786)]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Delay
from qiskit.providers import BackendV2
from qiskit.quantum_info import Kraus, Pauli
from qiskit.transpiler import Target

from qclone.errors import UnsupportedError

#: Pauli-twirled probabilities below this are dropped (they would never be sampled).
MIN_PROBABILITY = 1e-15


_RESET = (np.array([[1, 0], [0, 0]], dtype=complex), np.array([[0, 1], [0, 0]], dtype=complex))


def _labels(nq: int) -> list[str]:
    return ["".join(t) for t in itertools.product("IXYZ", repeat=nq)]


def _commute(a: str, b: str) -> bool:
    return sum(x != "I" and y != "I" and x != y for x, y in zip(a, b)) % 2 == 0


def _from_diagonal(diag: dict[str, float]) -> dict[str, float]:
    """Pauli probabilities from the PTM diagonal λ_P: p_Q = Σ_P ±λ_P / d² (+ iff P, Q commute)."""
    d2 = len(diag)
    out = {}
    for q in diag:
        p = sum(lam if _commute(p_, q) else -lam for p_, lam in diag.items()) / d2
        if p > MIN_PROBABILITY:
            out[q] = p
    total = sum(out.values())
    return {lab: p / total for lab, p in out.items()}


def pauli_probabilities_kraus(error) -> dict[str, float]:  # noqa: ANN001 - qiskit_aer QuantumError
    """p_P = Σ_k |Tr(P K_k)|² / d² from the Kraus form Qiskit computes (exact, slow: the reference)."""
    kraus = Kraus(error.to_quantumchannel()).data
    d = 2**error.num_qubits
    out = {}
    for label in _labels(error.num_qubits):
        p = Pauli(label).to_matrix()
        prob = float(sum(abs(np.vdot(p, k)) ** 2 for k in kraus)) / d**2  # vdot: Tr(P† K)
        if prob > MIN_PROBABILITY:
            out[label] = prob
    total = sum(out.values())
    return {lab: p / total for lab, p in out.items()}


def _kraus_of(op) -> tuple[np.ndarray, ...]:  # noqa: ANN001 - qiskit Instruction
    if op.name == "reset":
        return _RESET
    if op.name == "kraus":
        return tuple(np.asarray(k, dtype=complex) for k in op.params)
    key = (op.name, tuple(str(x) for x in op.params))
    if key not in _GATE_CACHE:
        from qiskit.quantum_info import Operator

        _GATE_CACHE[key] = (Operator(op).data,)
    return _GATE_CACHE[key]


_GATE_CACHE: dict[tuple, tuple[np.ndarray, ...]] = {}


def _embed(k: np.ndarray, qubits: list[int], nq: int) -> np.ndarray:
    """``k`` acting on ``qubits`` of an ``nq``-qubit system (qiskit order: qubit 0 least significant)."""
    if qubits == list(range(nq)):
        return k
    if nq == 2 and qubits == [1, 0]:
        swap = np.eye(4, dtype=complex)[[0, 2, 1, 3]]
        return swap @ k @ swap
    if nq == 2 and len(qubits) == 1:
        eye = np.eye(2, dtype=complex)
        return np.kron(eye, k) if qubits[0] == 0 else np.kron(k, eye)
    raise NotImplementedError  # only one- and two-qubit errors have the fast path


def pauli_probabilities(error) -> dict[str, float]:  # noqa: ANN001 - qiskit_aer QuantumError
    """The Pauli twirl of an Aer ``QuantumError``: probability of every Pauli (qiskit label order).

    One- and two-qubit errors are evaluated directly: the superoperator of the error's mixture of circuits,
    its PTM diagonal λ_P = Tr(P E(P)) / d, then the Walsh–Hadamard transform; anything else goes
    through Qiskit's Kraus form, :func:`pauli_probabilities_kraus` (same result, slower).
    """
    nq = error.num_qubits
    if nq > 2:
        return pauli_probabilities_kraus(error)
    d = 2**nq
    total = np.zeros((d * d, d * d), dtype=complex)  # superoperator, vec(K ρ K†) = (K̄ ⊗ K) vec(ρ)
    try:
        for circuit, prob in zip(error.circuits, error.probabilities):
            sup = np.eye(d * d, dtype=complex)
            for ins in circuit.data:
                qubits = [circuit.find_bit(q).index for q in ins.qubits]
                ks = [_embed(k, qubits, nq) for k in _kraus_of(ins.operation)]
                sup = sum(np.kron(k.conj(), k) for k in ks) @ sup
            total += prob * sup
    except (NotImplementedError, TypeError, ValueError):  # pragma: no cover - an instruction without a matrix
        return pauli_probabilities_kraus(error)
    diag = {}
    for lab in _labels(nq):
        v = Pauli(lab).to_matrix().reshape(-1, order="F")
        diag[lab] = float(np.real(np.vdot(v, total @ v))) / d
    return _from_diagonal(diag)


def twirl_error(error):  # noqa: ANN001, ANN201 - QuantumError in, QuantumError out
    """The Pauli twirl of an Aer ``QuantumError`` as a ``pauli_error``."""
    from qiskit_aer.noise import pauli_error

    return pauli_error(list(pauli_probabilities(error).items()))


def twirled_noise_model(backend: BackendV2):  # noqa: ANN201 - qiskit_aer NoiseModel
    """Aer's noise model of ``backend`` (``NoiseModel.from_backend``) with every gate error twirled.

    Delays are not in it (Aer adds their relaxation in a pass of its own); run the
    circuits through :func:`twirl_delays` first.
    """
    from qiskit_aer.noise import NoiseModel

    device = NoiseModel.from_backend(backend)
    out = NoiseModel(basis_gates=device.basis_gates)
    for name, errors in device._local_quantum_errors.items():  # noqa: SLF001 - no public iterator exists
        for qargs, error in errors.items():
            out.add_quantum_error(twirl_error(error), name, list(qargs))
    for name, error in device._default_quantum_errors.items():  # noqa: SLF001 - Aer exposes the errors only here
        out.add_all_qubit_quantum_error(twirl_error(error), name)  # pragma: no cover - devices give local errors
    for qargs, readout in device._local_readout_errors.items():  # noqa: SLF001 - Aer exposes the errors only here
        out.add_readout_error(readout, list(qargs))
    return out


def _seconds(op: Delay, dt: float | None) -> float:
    if op.unit == "dt":
        if dt is None:
            raise UnsupportedError("a delay in dt units needs the device's dt, which this target does not give")
        return float(op.duration) * dt
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}.get(op.unit)
    if scale is None:
        raise UnsupportedError(f"a delay in {op.unit!r} units cannot be turned into relaxation")
    return float(op.duration) * scale


def delay_seconds(op: Delay, dt: float | None) -> float:
    """Seconds of a ``delay`` instruction (units ``dt``, ``s``, ``ms``, ``us``, ``ns``, ``ps``)."""
    return _seconds(op, dt)


@lru_cache(maxsize=65536)
def _relaxation(t1: float, t2: float, seconds: float):  # noqa: ANN202 - QuantumError
    from qiskit_aer.noise import thermal_relaxation_error

    return twirl_error(thermal_relaxation_error(t1, min(t2, 2 * t1), seconds))


def twirl_delays(circuits: Sequence[QuantumCircuit], target: Target) -> list[QuantumCircuit]:
    """Every delay replaced by the twirled thermal relaxation of its qubit for that time.

    A delay before a qubit's first operation is dropped: the qubit is in |0⟩, which thermal relaxation
    (to the ground state, as Aer models it) leaves unchanged, while its twirl would flip it with
    probability (1 − e^(−t/T1))/2.

    ``target`` describes the circuits' qubits (T1, T2, dt): for renumbered circuits, the
    restricted target of :class:`~qclone.hardware.backends.RestrictedBackend`.
    """
    props = target.qubit_properties
    out = []
    for qc in circuits:
        new = qc.copy_empty_like()
        started: set[int] = set()
        for ins in qc.data:
            if ins.operation.name != "delay":
                new.append(ins)
                if ins.operation.name != "barrier":
                    started.update(qc.find_bit(q).index for q in ins.qubits)
                continue
            q = qc.find_bit(ins.qubits[0]).index
            if q not in started:
                continue  # still in |0⟩, which relaxation leaves alone (its twirl would flip it)
            p = props[q] if props else None
            seconds = _seconds(ins.operation, target.dt)
            if p is None or p.t1 is None or p.t2 is None or seconds <= 0:
                continue
            new.append(_relaxation(float(p.t1), float(p.t2), seconds).to_instruction(), ins.qubits)
        out.append(new)
    return out
