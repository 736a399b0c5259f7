"""The scheduled stim model: the device circuit's own schedule, its device's errors, exact, in seconds.

:func:`predict` takes the native-gate device circuit of the protocol (today's
heavy-hex schedule, or any circuit variant of :data:`VARIANT_NAMES`), schedules
it with the device's durations (:mod:`qclone.hardware.idle`: ALAP or ASAP,
optionally with dynamical decoupling) and turns it into a stim circuit with:

* after every gate, the **Pauli twirl of that gate's error in the device's Aer
  model** on that qubit or edge (``NoiseModel.from_backend``: depolarizing
  error and thermal relaxation over the gate's duration; the same twirl as
  :mod:`qclone.hardware.pauli_noise`);
* in every idle window, the **twirled T1/T2 relaxation of that qubit for that
  window** (p_X = p_Y = (1 − e^(−t/T1))/4, p_Z = (1 − e^(−t/T2))/2 − p_X, T2
  capped at 2·T1); a qubit that has not been used yet waits in |0⟩, which
  relaxation leaves alone, so those waits carry no error;
* the decrypted clone read out as tomography reads it: the readout error of its
  qubit (flip probabilities averaged over 0 and 1, which is what the six
  cardinal inputs see on average), the basis change before the readout (one √X
  in two of the three bases), and the preparation of the input on A (one √X
  or X in five of the six inputs) — each as the exact mixture it is.

R starts in |Φ+⟩ with A and is never touched, so the decrypted clone's Pauli
channel is read off the two observables X_R X_S and Z_R Z_S **exactly**:
every Pauli channel is written as independent Pauli mechanisms (exact: solve
log λ_Q = Σ_P [P anticommutes with Q] log(1 − 2 q_P) for the mechanisms' q_P
from the channel's Pauli eigenvalues λ_Q) and stim's detector error model
combines them (:func:`qclone.sim.stabilizer.exact_pauli_channel`). There is
no sampling, hence no sampling interval: the model's number is the model's
exact value; its error is the model's, measured against Aer in
``bench/hardware_figure.py`` and the tests.

What it leaves out, each on purpose: the non-Pauli (coherent, non-unital) part
of thermal relaxation (the twirl drops it; Aer with the twirled model agrees
with Aer's own model within 0.01 where both run, ``docs/hardware.md``); the
frame of a one-qubit gate error inside a run of one-qubit gates whose partial
product is not a Clifford (the error is moved to the end of the run's
shortest Clifford prefix, :class:`ModelStats` counts how often); and anything a
device does that its calibration does not state (crosstalk, leakage, drift,
non-Markovian noise — the part DD addresses on hardware, which is why
``dd=`` here only adds the pulses' errors and the windows they leave).

Examples:
    >>> from qclone.hardware.devices import get_backend
    >>> p = predict(get_backend("fake_fez"), 2)
    >>> 0.9 < p.average_fidelity < 0.97, p.stats.approximated_frames
    (True, 0)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import stim
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.providers import BackendV2

from qclone.errors import InvalidArgumentError, UnsupportedError, is_int
from qclone.hardware.idle import IdleSummary, check_dd, check_schedule_policy, idle_summary, schedule
from qclone.hardware.pauli_noise import delay_seconds, pauli_probabilities
from qclone.sim.noise import twirled_relaxation
from qclone.sim.stabilizer import average_fidelity, exact_pauli_channel

#: The classical limit of the average fidelity (measure and re-prepare).
CLASSICAL_LIMIT = 2 / 3
#: Pauli mechanisms below this probability are dropped (they would change no printed digit).
MIN_MECHANISM = 1e-14
#: Today's circuit (the other variants come from ``qclone.hardware.variants``).
TODAY = "today"
#: The classical register of the decrypted clone's final readout (added by :func:`predict`).
FINAL_REGISTER = "clone_readout"


# --- Pauli channels as independent mechanisms ------------------------------------------------------------

def _labels(nq: int) -> list[str]:
    import itertools

    return ["".join(t) for t in itertools.product("IXYZ", repeat=nq)]


def _anticommute(a: str, b: str) -> bool:
    return sum(x != "I" and y != "I" and x != y for x, y in zip(a, b)) % 2 == 1


_SOLVERS: dict[int, tuple[list[str], np.ndarray]] = {}


def _solver(nq: int) -> tuple[list[str], np.ndarray]:
    if nq not in _SOLVERS:
        labels = _labels(nq)[1:]
        a = np.array([[1.0 if _anticommute(p, q) else 0.0 for p in labels] for q in labels])
        _SOLVERS[nq] = (labels, np.linalg.inv(a))
    return _SOLVERS[nq]


def independent_mechanisms(probs: dict[str, float]) -> tuple[tuple[str, float], ...]:
    """A Pauli channel (probability of each Pauli label) as independent Pauli mechanisms (label, q): applying each
    label with its own probability q, independently, is the same channel.

    Exact: the channel's Pauli eigenvalues are λ_Q = Σ_P p_P (−1)^[P, Q anticommute], the mechanisms' are
    Π_P (1 − 2 q_P)^[P, Q anticommute], and the logarithms make that a linear system.

    Raises:
        UnsupportedError: the channel is not such a product (some q_P would be negative).

    Examples:
        >>> {lab: round(q, 12) for lab, q in independent_mechanisms({"I": 0.9, "X": 0.1})}
        {'X': 0.1}
    """
    nq = len(next(iter(probs)))
    if nq not in (1, 2):
        raise UnsupportedError("only one- and two-qubit Pauli channels are decomposed")
    labels, inv = _solver(nq)
    p = {lab: float(v) for lab, v in probs.items()}
    lam = np.array([sum(v * (-1.0 if _anticommute(lab, q) else 1.0) for lab, v in p.items()) for q in labels])
    # an eigenvalue of 0 (a gate whose calibrated error is total) is the limit q -> 1/2 of a mechanism
    x = inv @ np.log(np.maximum(lam, 1e-300))
    q = np.minimum((1 - np.exp(x)) / 2, 0.5)
    if np.any(q < -1e-10):
        raise UnsupportedError("this Pauli channel is no product of independent Pauli mechanisms")
    return tuple((lab, float(v)) for lab, v in zip(labels, q) if v > MIN_MECHANISM)


def mixture(probs: dict[str, float], weight: float) -> dict[str, float]:
    """The channel applied with probability ``weight`` (identity otherwise)."""
    out = {lab: weight * v for lab, v in probs.items() if lab.strip("I")}
    out["I" * len(next(iter(probs)))] = 1 - sum(out.values())
    return out


def _error_text(mechs: Iterable[tuple[str, float]], qargs: Sequence[int]) -> str:
    """stim ``E`` lines for mechanisms on ``qargs`` (a Qiskit label's last character acts on ``qargs[0]``)."""
    lines = []
    for lab, q in mechs:
        targets = " ".join(f"{ch}{qargs[len(lab) - 1 - i]}" for i, ch in enumerate(lab) if ch != "I")
        lines.append(f"E({q!r}) {targets}")
    return "\n".join(lines)


# --- the device's errors --------------------------------------------------------------------------------

@dataclass
class DeviceNoise:
    """The device model's errors, twirled, for a set of physical qubits (grown on demand by :meth:`cover`).

    Attributes:
        gates: (gate name, physical qargs) → independent Pauli mechanisms of that gate's twirled error.
        readout: physical qubit → readout flip probability averaged over 0 and 1.
        coherence: physical qubit → (T1, T2) with T2 capped at 2·T1 (absent: no relaxation).
        scale: every error probability, 1/T1 and 1/T2 multiplied by this (1: the device as calibrated).
    """

    backend: BackendV2
    scale: float = 1.0
    gates: dict[tuple[str, tuple[int, ...]], tuple[tuple[str, float], ...]] = field(default_factory=dict)
    probabilities: dict[tuple[str, tuple[int, ...]], dict[str, float]] = field(default_factory=dict)
    readout: dict[int, float] = field(default_factory=dict)
    coherence: dict[int, tuple[float, float]] = field(default_factory=dict)
    covered: set[int] = field(default_factory=set)
    covered_edges: set[tuple[int, int]] = field(default_factory=set)

    def cover(self, qubits: Iterable[int]) -> DeviceNoise:
        """Make sure every gate on ``qubits`` and on every coupling edge among them has its error (an edge
        between two qubits covered by earlier calls too)."""
        from qiskit_aer.noise import NoiseModel

        from qclone.hardware.backends import RestrictedBackend, physical_qubit_properties

        want = set(int(q) for q in qubits)
        edges = [(int(a), int(b)) for a, b in self.backend.coupling_map.get_edges()]
        loose = {q for e in edges if e[0] in want and e[1] in want and e not in self.covered_edges for q in e}
        missing = (want - self.covered) | loose
        if not missing:
            return self
        if self.scale != 1.0:
            raise InvalidArgumentError("a scaled copy covers the qubits it was made for")
        chosen = tuple(sorted(missing))
        sub = RestrictedBackend(self.backend, chosen)
        model = NoiseModel.from_backend(sub)
        for name, errors in model._local_quantum_errors.items():  # noqa: SLF001 - Aer has no public iterator
            for qargs, error in errors.items():
                key = (name, tuple(chosen[i] for i in qargs))
                if key in self.probabilities:
                    continue
                probs = pauli_probabilities(error)
                self.probabilities[key] = probs
                self.gates[key] = independent_mechanisms(probs)
        for qargs, readout in model._local_readout_errors.items():  # noqa: SLF001 - Aer exposes them only here
            m = np.asarray(readout.probabilities)
            self.readout.setdefault(chosen[qargs[0]], float(m[0, 1] + m[1, 0]) / 2)
        props = self.backend.target.qubit_properties
        for q in chosen:
            p = physical_qubit_properties(props[q]) if props else None
            if p is not None and p.t1 is not None and p.t2 is not None and q not in self.coherence:
                self.coherence[q] = (float(p.t1), float(p.t2))
        self.covered |= set(chosen)
        self.covered_edges |= {e for e in edges if e[0] in missing and e[1] in missing}
        return self

    def scaled(self, scale: float) -> DeviceNoise:
        """A copy with every error probability and 1/T1, 1/T2 multiplied by ``scale`` (covering the same qubits)."""
        if self.scale != 1.0:
            raise InvalidArgumentError("scale the device's own noise, not a scaled copy")
        out = DeviceNoise(self.backend, scale=scale, covered=set(self.covered), covered_edges=set(self.covered_edges))
        for key, probs in self.probabilities.items():
            out.probabilities[key] = _scaled(probs, scale)
            out.gates[key] = independent_mechanisms(out.probabilities[key])
        out.readout = {q: min(0.5, scale * e) for q, e in self.readout.items()}
        if scale > 0:
            out.coherence = {q: (t1 / scale, t2 / scale) for q, (t1, t2) in self.coherence.items()}
        return out

    def gate(self, name: str, qargs: tuple[int, ...]) -> tuple[tuple[str, float], ...]:
        return self.gates.get((name, qargs), ())

    def relaxation(self, qubit: int, seconds: float) -> tuple[tuple[str, float], ...]:
        """Independent mechanisms of the twirled relaxation of ``qubit`` over ``seconds``."""
        tt = self.coherence.get(qubit)
        if tt is None or seconds <= 0:
            return ()
        px, py, pz = twirled_relaxation(seconds, tt[0], tt[1])
        return _relaxation_mechanisms(round(px, 15), round(py, 15), round(pz, 15))


def _scaled(probs: dict[str, float], scale: float) -> dict[str, float]:
    ident = "I" * len(next(iter(probs)))
    out = {lab: v * scale for lab, v in probs.items() if lab != ident}
    if sum(out.values()) >= 1:
        raise InvalidArgumentError(f"error scale {scale} makes a gate error probability exceed 1")
    out[ident] = 1 - sum(out.values())
    return out


_RELAX_CACHE: dict[tuple[float, float, float], tuple[tuple[str, float], ...]] = {}


def _relaxation_mechanisms(px: float, py: float, pz: float) -> tuple[tuple[str, float], ...]:
    key = (px, py, pz)
    if key not in _RELAX_CACHE:
        _RELAX_CACHE[key] = independent_mechanisms({"I": 1 - px - py - pz, "X": px, "Y": py, "Z": pz})
    return _RELAX_CACHE[key]


_NOISE_CACHE: dict[int, DeviceNoise] = {}


def device_noise(backend: BackendV2, qubits: Iterable[int] = (), *, scale: float = 1.0) -> DeviceNoise:
    """The (cached) :class:`DeviceNoise` of ``backend``, covering ``qubits``; with ``scale`` ≠ 1 a scaled copy
    (every error probability and 1/T1, 1/T2 times ``scale``)."""
    if id(backend) not in _NOISE_CACHE:
        _NOISE_CACHE[id(backend)] = DeviceNoise(backend)
    base = _NOISE_CACHE[id(backend)].cover(qubits)
    return base if scale == 1.0 else base.scaled(float(scale))


# --- the circuit, translated ------------------------------------------------------------------------------

_SX = np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_I = np.eye(2, dtype=complex)


def _matrix(name: str, params: Sequence[float]) -> np.ndarray:
    if name == "rz":
        t = float(params[0])
        return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])
    if name == "sx":
        return _SX
    if name == "x":
        return _X
    if name == "y":
        return _Y
    if name == "id":
        return _I
    raise UnsupportedError(f"the stim model has no one-qubit gate {name!r}")


_CLIFFORD_CACHE: dict[tuple, str | None] = {}


def _clifford_text(u: np.ndarray) -> str | None:
    """stim gates (on qubit 0, as a format string ``{q}``) for a 2×2 unitary if it is a Clifford, else None."""
    k = int(np.argmax(np.abs(u.reshape(-1)) > 1e-6))
    v = u / (u.reshape(-1)[k] / abs(u.reshape(-1)[k]))
    key = tuple(np.round(v.reshape(-1), 6))
    if key not in _CLIFFORD_CACHE:
        try:
            tab = stim.Tableau.from_unitary_matrix(v, endian="little")
        except ValueError:
            _CLIFFORD_CACHE[key] = None
        else:
            lines = [f"{ins.name} {{q}}" for ins in tab.to_circuit("elimination") if ins.name != "I"
                     for _ in ins.targets_copy()]
            _CLIFFORD_CACHE[key] = "\n".join(lines)
    return _CLIFFORD_CACHE[key]


@dataclass
class ModelStats:
    """What went into the stim model of one circuit.

    Attributes:
        two_qubit_gates: of the native-gate circuit (no DD pulses).
        depth: of the native-gate circuit.
        two_qubit_depth: of the native-gate circuit.
        idle: idle windows of the scheduled circuit (:class:`~qclone.hardware.idle.IdleSummary`).
        mechanisms: independent Pauli error mechanisms in the stim circuit.
        approximated_frames: one-qubit errors moved to the end of a non-Clifford partial product (see the module doc).
    """

    two_qubit_gates: int
    depth: int
    two_qubit_depth: int
    idle: IdleSummary
    mechanisms: int = 0
    approximated_frames: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["idle"] = self.idle.to_dict()
        return d


def scheduled_stim_circuit(circuit: QuantumCircuit, noise: DeviceNoise, *, reference: int, input_qubit: int, clone: int,
                           readout: bool = True) -> tuple[stim.Circuit, int, int]:
    """The stim fidelity circuit of a scheduled native-gate circuit (see the module doc).

    Everything before the circuit's first barrier is the (noiseless) preparation of |Φ+⟩ on
    (``reference``, ``input_qubit``); ``clone`` holds the decrypted clone at the end. Returns the circuit,
    the number of error mechanisms and of approximated frames.
    """
    target = noise.backend.target
    lines: list[str] = []
    pending_u: dict[int, np.ndarray] = {}
    pending_err: dict[int, list[tuple[tuple[str, float], ...]]] = {}
    started: set[int] = set()
    records: list[int] = []  # classical bit of every mid-circuit measurement, in record order
    prepared = False
    count = 0
    approximated = 0

    def emit(mechs: tuple[tuple[str, float], ...], qargs: Sequence[int]) -> None:
        nonlocal count
        if mechs:
            lines.append(_error_text(mechs, qargs))
            count += len(mechs)

    def flush(q: int, *, force: bool) -> bool:
        nonlocal approximated
        u = pending_u.get(q)
        if u is not None:
            text = _clifford_text(u)
            if text is None:
                if not force:
                    return False
                raise UnsupportedError("the one-qubit gates between two-qubit gates are not a Clifford; "
                                       "the stim model needs a Clifford circuit")
            if text:
                lines.append(text.format(q=q))
            del pending_u[q]
        errs = pending_err.pop(q, [])
        if len(errs) > 1:
            approximated += len(errs) - 1
        for m in errs:
            emit(m, (q,))
        return True

    for ins in circuit.data:
        op = ins.operation
        name = op.name
        qs = tuple(circuit.find_bit(q).index for q in ins.qubits)
        if name == "barrier":
            if not prepared:
                prepared = True
                for q in (reference, input_qubit):
                    flush(q, force=True)
                started.add(input_qubit)
                sx = noise.probabilities.get(("sx", (input_qubit,)))
                if sx is not None:  # the input's preparation: one √X or X in five of the six cardinal inputs
                    emit(independent_mechanisms(mixture(sx, 5 / 6)), (input_qubit,))
            continue
        if name == "measure":
            q = qs[0]
            if ins.clbits and circuit.find_bit(ins.clbits[0]).registers[0][0].name == FINAL_REGISTER:
                continue  # the clone's readout is modelled at the end (tomography)
            flush(q, force=True)  # a mid-circuit measurement (dynamic variants): its readout flips the record
            flip = 0.0 if not prepared else noise.readout.get(q, 0.0)
            lines.append(f"M({flip!r}) {q}" if flip > 0 else f"M {q}")
            records.append(circuit.find_bit(ins.clbits[0]).index)
            count += flip > 0
            continue
        if name == "if_else":
            bit, value = op.condition
            k = circuit.find_bit(bit).index
            if k not in records:
                raise UnsupportedError("a feed-forward on a bit not measured before")
            rec = len(records) - max(i for i, c in enumerate(records) if c == k)
            blocks = [b for b in op.blocks if b is not None]
            if len(blocks) > 1 and len(blocks[1].data):
                raise UnsupportedError("the stim model converts if-blocks without else only")
            body = blocks[0]
            for sub in body.data:
                angle = float(sub.operation.params[0]) if sub.operation.name == "rz" else None
                if sub.operation.name not in ("rz", "z") or (angle is not None and not np.isclose(abs(angle), np.pi)):
                    raise UnsupportedError("the stim model converts Z corrections from if-blocks only")
                target_q = qs[body.find_bit(sub.qubits[0]).index]
                flush(target_q, force=True)
                if not bool(value):
                    lines.append(f"Z {target_q}")
                lines.append(f"CZ rec[-{rec}] {target_q}")
            continue
        if name in ("reset",) or getattr(op, "condition", None) is not None or op.num_qubits > 2:
            raise UnsupportedError(f"the stim model has no instruction {name!r}")
        quiet = not prepared or reference in qs
        if name == "delay":
            q = qs[0]
            if quiet or q not in started:
                continue  # a qubit in |0⟩ (or the noiseless reference) does not relax
            mechs = noise.relaxation(q, delay_seconds(op, target.dt))
            if not mechs:
                continue
            if q in pending_u:
                pending_err.setdefault(q, []).append(mechs)
                flush(q, force=False)
            else:
                flush(q, force=False)
                emit(mechs, (q,))
            continue
        if op.num_qubits == 1:
            q = qs[0]
            pending_u[q] = _matrix(name, op.params) @ pending_u.get(q, _I)
            if not quiet:
                started.add(q)
                mechs = noise.gate(name, qs)
                if mechs:
                    pending_err.setdefault(q, []).append(mechs)
            flush(q, force=False)
            continue
        if name not in ("cz", "cx", "ecr"):
            raise UnsupportedError(f"the stim model has no two-qubit gate {name!r}")
        if name == "ecr":
            raise UnsupportedError("ECR devices (Eagle) are not modelled; the Heron devices use CZ")
        for q in qs:
            u = pending_u.get(q)
            if name == "cz" and u is not None and abs(u[0, 1]) < 1e-9 and abs(u[1, 0]) < 1e-9 and not flush(q, force=False):
                # a diagonal, non-Clifford rotation commutes with CZ: it stays pending past the gate (the
                # transpiler's resynthesis splits Clifford phases that way); its errors are put before the CZ
                errs = pending_err.pop(q, [])
                approximated += len(errs)
                for m in errs:
                    emit(m, (q,))
                continue
            flush(q, force=True)
        lines.append(f"{name.upper()} {qs[0]} {qs[1]}")
        if not quiet:
            started.update(qs)
            emit(noise.gate(name, qs), qs)
    for q in list(pending_u) + list(pending_err):
        flush(q, force=True)
    tail = []
    if readout:
        sx = noise.probabilities.get(("sx", (clone,)))
        if sx is not None:  # the basis change: one √X in two of the three bases
            mechs = independent_mechanisms(mixture(sx, 2 / 3))
            tail.append(_error_text(mechs, (clone,)))
            count += len(mechs)
        flip = noise.readout.get(clone, 0.0)
        if flip > 0:  # a flip of probability e in every basis shrinks every Bloch component by 1 − 2e
            tail.append(f"DEPOLARIZE1({1.5 * flip!r}) {clone}")
            count += 1
    text = "\n".join((*lines, *tail, f"MPP X{reference}*X{clone} Z{reference}*Z{clone}",
                      "OBSERVABLE_INCLUDE(0) rec[-2]", "OBSERVABLE_INCLUDE(1) rec[-1]"))
    return stim.Circuit(text), count, approximated


# --- predictions ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceCircuit:
    """A native-gate device circuit of the protocol and where its reference, input and decrypted clone are."""

    circuit: QuantumCircuit
    reference: int
    input_qubit: int
    clone: int
    variant: str


def _today(backend: BackendV2, clones: int, decrypt: int) -> DeviceCircuit:
    from qclone.hardware.compile import compile_protocol

    comp = compile_protocol(backend, clones, decrypt, input="bell", seed=0)
    return DeviceCircuit(comp.circuit, comp.reference_qubit, comp.layout.A, comp.clone_qubit, TODAY)


def variant_names() -> tuple[str, ...]:
    """``today`` and the circuit variants of :mod:`qclone.hardware.variants` (when that module exists)."""
    try:
        from qclone.hardware import variants
    except ImportError:
        return (TODAY,)
    names = tuple(getattr(variants, "VARIANTS", ()))
    return (TODAY, *(v for v in names if v != TODAY))


def device_circuit(backend: BackendV2, clones: int, decrypt: int = 1, *, variant: str = TODAY) -> DeviceCircuit:
    """The native-gate circuit of ``variant`` with input ``bell``, lowered to the device if needed."""
    if variant not in variant_names():
        raise InvalidArgumentError(f"unknown variant {variant!r}; choose one of {', '.join(variant_names())}")
    if variant == TODAY:
        return _today(backend, clones, decrypt)
    from qclone.hardware import variants
    from qclone.hardware.tomography import lower

    qc = variants.variant_circuit(variant, backend, clones, decrypt, input="bell")
    meta = dict(qc.metadata or {})
    init, final = meta.get("initial_physical", {}), meta.get("final_physical", {})
    native = set(backend.target.operation_names) | {"barrier", "delay", "if_else"}
    if any(ins.operation.name not in native for ins in qc.data):
        qc = lower([qc], backend)[0]
    clone = int(meta.get("clone_qubit", final.get(f"S{decrypt}", -1)))
    return DeviceCircuit(qc, int(init["R"]), int(init["A"]), clone, variant)


@dataclass(frozen=True)
class Prediction:
    """The model's average fidelity of the decrypted clone for one device, n and technique (exact)."""

    backend: str
    clones: int
    decrypt: int
    variant: str
    schedule: str
    dd: str | None
    average_fidelity: float
    pauli_channel: dict[str, float]
    stats: ModelStats
    seconds: float
    scale: float = 1.0

    @property
    def above_classical(self) -> bool:
        return self.average_fidelity > CLASSICAL_LIMIT

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stats"] = self.stats.to_dict()
        return d


def predict(
    backend: BackendV2,
    clones: int,
    decrypt: int = 1,
    *,
    variant: str = TODAY,
    policy: str = "alap",
    dd: str | None = None,
    scale: float = 1.0,
    name: str | None = None,
    circuit: DeviceCircuit | None = None,
) -> Prediction:
    """Exact average fidelity of the decrypted clone under the scheduled stim model (see the module doc).

    Args:
        backend: the device (its Target's durations, errors, T1/T2, readout).
        clones: n.
        decrypt: which clone is decrypted.
        variant: ``today`` or a circuit variant (:func:`variant_names`).
        policy: ``alap`` or ``asap`` (:mod:`qclone.hardware.idle`).
        dd: ``None``, ``XX`` or ``XY4``: idle windows filled with those pulses (their gate errors counted,
            no refocusing gain claimed).
        scale: multiply every error probability and 1/T1, 1/T2 by this (1: the device as calibrated).
        circuit: an already built device circuit (else built from ``variant``).
    """
    if not is_int(clones) or clones < 1:
        raise InvalidArgumentError(f"clones must be a positive integer, got {clones!r}")
    check_schedule_policy(policy)
    dd = check_dd(dd)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
        raise InvalidArgumentError(f"the error scale must be a finite number >= 0, got {scale!r}")
    start = time.perf_counter()
    dc = circuit if circuit is not None else device_circuit(backend, clones, decrypt, variant=variant)
    from qclone.hardware.compile import GateStats

    gate_stats = GateStats.of(dc.circuit)
    measured = dc.circuit.copy()
    creg = ClassicalRegister(1, FINAL_REGISTER)
    measured.add_register(creg)
    measured.measure(dc.clone, creg[0])
    if _has_control_flow(measured):
        if policy != "alap" or dd is not None:
            raise InvalidArgumentError("a dynamic circuit is scheduled ALAP only, without DD (its feed-forward waits are fixed)")
        from qclone.hardware.dynamic import dynamic_duration, schedule_dynamic

        scheduled = schedule_dynamic([measured], backend)[0]
        duration: float | None = dynamic_duration(measured, backend)
    else:
        scheduled = schedule(measured, backend.target, policy=policy, dd=dd)
        duration = None
    pulses = _dd_pulses(measured, scheduled) if dd else 0
    active = {measured.find_bit(q).index for ins in scheduled.data if ins.operation.name not in ("barrier", "delay")
              for q in ins.qubits}
    noise = device_noise(backend, active, scale=scale)
    circ, mechanisms, approximated = scheduled_stim_circuit(scheduled, noise, reference=dc.reference,
                                                            input_qubit=dc.input_qubit, clone=dc.clone)
    channel = exact_pauli_channel(circ)
    stats = ModelStats(gate_stats.two_qubit_gates, gate_stats.depth, gate_stats.two_qubit_depth,
                       idle_summary(scheduled, backend.target, dd_pulses=pulses, duration=duration), mechanisms, approximated)
    return Prediction(
        backend=str(name or getattr(backend, "name", "device")), clones=clones, decrypt=decrypt, variant=dc.variant,
        schedule=policy, dd=dd, average_fidelity=average_fidelity(channel["p_I"]), pauli_channel=channel, stats=stats,
        seconds=time.perf_counter() - start, scale=float(scale),
    )


def _has_control_flow(qc: QuantumCircuit) -> bool:
    return any(ins.operation.name in ("if_else", "while_loop", "for_loop", "switch_case") for ins in qc.data)


def _dd_pulses(before: QuantumCircuit, after: QuantumCircuit) -> int:
    def pulses(qc: QuantumCircuit) -> int:
        return sum(1 for ins in qc.data if ins.operation.name in ("x", "y"))

    return pulses(after) - pulses(before)


@dataclass(frozen=True)
class LargestClones:
    """The largest n whose predicted average fidelity exceeds 2/3, and the predictions the search made."""

    backend: str
    variant: str
    schedule: str
    dd: str | None
    clones: int
    fidelity: float | None
    next_fidelity: float | None
    limit: int
    points: dict[int, float]
    seconds: float
    scale: float = 1.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["points"] = {str(k): v for k, v in sorted(self.points.items())}
        return d


def largest_clones(
    backend: BackendV2,
    *,
    variant: str = TODAY,
    policy: str = "alap",
    dd: str | None = None,
    scale: float = 1.0,
    limit: int | None = None,
    name: str | None = None,
    threshold: float = CLASSICAL_LIMIT,
    on_point: Callable[[int, float], None] | None = None,
) -> LargestClones:
    """Largest n with predicted average fidelity above ``threshold`` (2/3), searched by doubling then bisection.

    The fidelity falls with n; the search doubles n until it drops below the threshold, bisects, and then
    checks the two n after the answer too (a non-monotone step would show there). ``limit``: largest n tried
    (default: the most clones the device's path holds). Returns 0 if even n = 1 is not above the threshold.
    """
    from qclone.hardware.layout import max_clones

    start = time.perf_counter()
    if limit is None and variant != TODAY:
        from qclone.hardware.variants import variant_max_clones

        limit = variant_max_clones(variant, backend)
    top = max_clones(backend) if limit is None else int(limit)
    if top < 1:
        raise InvalidArgumentError(f"the largest n searched must be >= 1, got {limit!r}")
    points: dict[int, float] = {}

    def f(n: int) -> float:
        if n not in points:
            points[n] = predict(backend, n, 1, variant=variant, policy=policy, dd=dd, scale=scale, name=name).average_fidelity
            if on_point is not None:
                on_point(n, points[n])
        return points[n]

    if f(1) <= threshold:
        best = 0
    else:
        lo, hi = 1, None  # f(lo) > threshold; f(hi) <= threshold
        n = 2
        while n <= top:
            if f(n) > threshold:
                lo, n = n, n * 2
            else:
                hi = n
                break
        if hi is None:
            if lo < top and f(top) > threshold:
                lo = top
            else:
                hi = top if lo < top else None
        while hi is not None and hi - lo > 1:
            mid = (lo + hi) // 2
            if f(mid) > threshold:
                lo = mid
            else:
                hi = mid
        best = lo
        for extra in (best + 1, best + 2):  # a second look past the answer
            if extra <= top and f(extra) > threshold:
                best = extra
    fid = points.get(best)
    nxt = f(best + 1) if best + 1 <= top else None
    return LargestClones(str(name or getattr(backend, "name", "device")), variant, policy, dd, best, fid, nxt, top, points,
                         time.perf_counter() - start, float(scale))


# --- beyond the chip: a line of qubits with one device's median calibration ----------------------------------

def median_calibration(backend: BackendV2) -> dict[str, float]:
    """Medians over the device of the numbers the model uses: CZ, √X and readout errors and durations, T1, T2
    (T2 capped at 2·T1 per qubit first)."""
    from qclone.hardware.backends import physical_qubit_properties

    t = backend.target

    def med(name: str, attr: str) -> float:
        vals = [getattr(ip, attr) for q, ip in t[name].items() if q is not None and ip is not None and getattr(ip, attr) is not None]
        return float(np.median(vals))

    props = [physical_qubit_properties(p) for p in (t.qubit_properties or [])]
    t1 = [p.t1 for p in props if p is not None and p.t1 is not None]
    t2 = [p.t2 for p in props if p is not None and p.t2 is not None]
    return {"cz_error": med("cz", "error"), "cz_time": med("cz", "duration"), "sx_error": med("sx", "error"),
            "sx_time": med("sx", "duration"), "readout_error": med("measure", "error"), "measure_time": med("measure", "duration"),
            "t1": float(np.median(t1)), "t2": float(np.median(t2)), "dt": float(t.dt or 0.0)}


class LineBackend(BackendV2):
    """``num_qubits`` qubits on a line (each coupled to the next by CZ), every qubit and edge with the same calibration
    (e.g. :func:`median_calibration` of a Heron): a device as long as the protocol needs, for n beyond the chip."""

    def __init__(self, num_qubits: int, calibration: dict[str, float]) -> None:
        from qiskit.circuit import Delay, Measure, Parameter
        from qiskit.circuit.library import CZGate, RZGate, SXGate, XGate
        from qiskit.providers import QubitProperties
        from qiskit.transpiler import InstructionProperties, Target

        super().__init__(name=f"line[{num_qubits}]", backend_version="median")
        c = calibration
        m = int(num_qubits)
        target = Target(num_qubits=m, dt=c["dt"] or None,
                        qubit_properties=[QubitProperties(t1=c["t1"], t2=c["t2"]) for _ in range(m)])
        one = {(q,): InstructionProperties(duration=c["sx_time"], error=c["sx_error"]) for q in range(m)}
        target.add_instruction(SXGate(), one)
        target.add_instruction(XGate(), dict(one))
        target.add_instruction(RZGate(Parameter("θ")), {(q,): InstructionProperties(duration=0.0, error=0.0) for q in range(m)})
        edges = {}
        for q in range(m - 1):
            edges[(q, q + 1)] = InstructionProperties(duration=c["cz_time"], error=c["cz_error"])
            edges[(q + 1, q)] = InstructionProperties(duration=c["cz_time"], error=c["cz_error"])
        target.add_instruction(CZGate(), edges)
        target.add_instruction(Measure(), {(q,): InstructionProperties(duration=c["measure_time"], error=c["readout_error"])
                                           for q in range(m)})
        target.add_instruction(Delay(Parameter("t")), {(q,): None for q in range(m)})
        self._target = target
        self.calibration = dict(calibration)

    @property
    def target(self):  # noqa: ANN201 - qiskit Target
        return self._target

    @property
    def max_circuits(self) -> None:
        return None

    @classmethod
    def _default_options(cls):  # noqa: ANN206 - qiskit Options
        from qiskit.providers import Options

        return Options(shots=1024)

    def run(self, run_input, **options):  # noqa: ANN001, ANN201 - only its calibration is used
        raise NotImplementedError("a line backend only describes a device for the stim model")


def line_noise(backend: LineBackend) -> DeviceNoise:
    """:class:`DeviceNoise` of a :class:`LineBackend`: the twirled Aer errors of one qubit and one edge, on all."""
    small = LineBackend(2, backend.calibration)
    ref = DeviceNoise(small).cover([0, 1])
    m = backend.target.num_qubits
    out = DeviceNoise(backend, covered=set(range(m)),
                      covered_edges={(int(a), int(b)) for a, b in backend.coupling_map.get_edges()})
    for (name, qargs), probs in ref.probabilities.items():
        if len(qargs) == 1:
            for q in range(m):
                out.probabilities[(name, (q,))] = probs
                out.gates[(name, (q,))] = ref.gates[(name, qargs)]
        else:
            for q in range(m - 1):
                edge = (q, q + 1) if qargs == (0, 1) else (q + 1, q)
                out.probabilities[(name, edge)] = probs
                out.gates[(name, edge)] = ref.gates[(name, qargs)]
    out.readout = {q: ref.readout[0] for q in range(m)}
    out.coherence = {q: ref.coherence[0] for q in range(m)} if 0 in ref.coherence else {}
    return out


def line_device_circuit(backend: LineBackend, clones: int) -> DeviceCircuit:
    """Today's heavy-hex schedule on the first 2n + 2 qubits of the line, lowered with the same pass manager as
    :func:`~qclone.hardware.compile.compile_protocol` (level 3, layout fixed, no routing)."""
    from qclone.hardware.compile import device_circuit as place
    from qclone.hardware.compile import preset_pass_manager
    from qclone.hardware.layout import DeviceLayout
    from qclone.hardware.schedule import protocol_schedule

    n = int(clones)
    m = 2 * n + 2
    if backend.target.num_qubits < m:
        raise InvalidArgumentError(f"{n} clones need {m} qubits on the line")
    sched = protocol_schedule(n, 1)
    lay = DeviceLayout(device=backend.name, clones=n, decrypt=1, path=tuple(range(m)), pair_order=sched.pair_order)
    qc = place(sched, lay, backend.target.num_qubits, input="bell")
    isa = preset_pass_manager(backend, seed=0, fixed_layout=True).run(qc)
    final = {label: lay.path[slot] for label, slot in sched.final_slots.items()}
    return DeviceCircuit(isa, final["R"], lay.A, final["S1"], TODAY)


@dataclass(frozen=True)
class ScaleSolve:
    """Largest factor on every error probability and 1/T1, 1/T2 that keeps n clones above 2/3."""

    clones: int
    scale: float
    fidelity: float
    cz_error: float
    sx_error: float
    readout_error: float
    t1: float
    t2: float
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def solve_scale(backend: LineBackend, clones: int, *, tolerance: float = 0.01, threshold: float = CLASSICAL_LIMIT,
                coherence: bool = True) -> ScaleSolve:
    """Bisection (in log scale, to ``tolerance`` relative) for the error scale at which the model's average fidelity at
    n = ``clones`` on the line crosses ``threshold``. The circuit and its schedule do not depend on the scale, so
    they are built once; each step rebuilds only the stim model. ``coherence=False``: qubits never relax (T1, T2
    infinite), only gate and readout errors are scaled — the gate errors a perfect memory would need."""
    start = time.perf_counter()
    dc = line_device_circuit(backend, clones)
    measured = dc.circuit.copy()
    creg = ClassicalRegister(1, FINAL_REGISTER)
    measured.add_register(creg)
    measured.measure(dc.clone, creg[0])
    scheduled = schedule(measured, backend.target)
    base = line_noise(backend)

    def fid(s: float) -> float:
        noise = base.scaled(s)
        if not coherence:
            noise.coherence = {}
        circ, _, _ = scheduled_stim_circuit(scheduled, noise, reference=dc.reference, input_qubit=dc.input_qubit,
                                            clone=dc.clone)
        return average_fidelity(exact_pauli_channel(circ)["p_I"])

    lo, hi = 0.0, 1.0
    while fid(hi) > threshold:  # make sure the bracket holds the crossing
        lo, hi = hi, hi * 4
    lo = lo if lo > 0 else hi / 4
    while fid(lo) <= threshold:
        hi, lo = lo, lo / 4
    while hi / lo > 1 + tolerance:
        mid = math.sqrt(lo * hi)
        if fid(mid) > threshold:
            lo = mid
        else:
            hi = mid
    c = backend.calibration
    inf = float("inf")
    return ScaleSolve(int(clones), lo, fid(lo), lo * c["cz_error"], lo * c["sx_error"], lo * c["readout_error"],
                      c["t1"] / lo if coherence else inf, c["t2"] / lo if coherence else inf, time.perf_counter() - start)
