"""Noise models, named and composable, and their rendering into noisy stim circuits.

A :class:`NoiseModel` is a value: lists of channels applied *in turn* at four
kinds of location. Adding two models (``a + b``) concatenates the lists, so
composition is exact (two depolarizing channels one after the other, not an
approximation of them).

=============  =================================================================
location       channel
=============  =================================================================
``gate1``      after every one-qubit gate: depolarizing, probability p1 (stim
               ``DEPOLARIZE1``: one of X, Y, Z, each p1/3)
``gate2``      after every two-qubit gate: two-qubit depolarizing, probability
               p2 (one of the 15 non-identity Paulis, each p2/15)
``readout``    every measurement result flips with probability q
``idle``       once on every qubit (not the outside reference R) during the
               storage time between encryption and decryption: the Pauli
               channel (p_x, p_y, p_z)
=============  =================================================================

Named models (:func:`noise_model`; :data:`NOISE_MODELS`):

* ``depolarizing`` — ``p`` after every two-qubit gate and ``p/10`` after every
  one-qubit gate unless ``p1`` is given.
* ``readout`` — flip probability ``p``.
* ``memory`` — Pauli-twirled T1/T2 idle noise on every qubit for the storage
  time t: p_x = p_y = (1 − e^{−t/T1})/4, p_z = (1 − e^{−t/T2})/2 − p_x. Give
  ``time``, ``t1``, ``t2`` (seconds), or ``p``, the total error probability
  p_x + p_y + p_z per qubit, with ``t2_over_t1`` (default 1, which makes the
  channel depolarizing: p_x = p_y = p_z = p/3).
* ``heron`` — medians of the calibration of IBM's 156-qubit Heron r2 device as
  shipped offline in ``qiskit_ibm_runtime.fake_provider.FakeFez``
  (:data:`HERON_R2_MEDIANS`): depolarizing with p2 = 5/4 · (CZ error) and
  p1 = 3/2 · (SX error) (IBM reports average gate infidelity r; a depolarizing
  channel of probability p has r = p·d/(d+1)), readout flip = readout error,
  and, with ``storage_time`` > 0 (seconds, default 0), memory noise with the
  median T1 and T2.

Examples:
    >>> m = noise_model("depolarizing", p=1e-3) + noise_model("readout", p=0.01)
    >>> m.name, m.gate2, m.gate1, m.readout
    ('depolarizing+readout', (0.001,), (0.0001,), (0.01,))
    >>> [round(q, 12) for q in noise_model("memory", p=0.03).idle[0]]
    [0.01, 0.01, 0.01]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import stim

from qclone.errors import InvalidArgumentError, is_real
from qclone.protocol.circuit import Circuit
from qclone.protocol.render import format_rows, instruction_text

#: Medians over qubits (and over CZ edges) of FakeFez's calibration, qiskit-ibm-runtime 0.51
#: (backend version 1.2.8, properties of 2025-02-26). Recomputed from the fake backend by
#: tests/sim/test_noise.py::test_heron_medians_are_those_of_the_fake_backend.
HERON_R2_MEDIANS: dict[str, float | str] = {
    "backend": "FakeFez",
    "cz_error": 0.0039033828523107883,
    "sx_error": 0.00022868757107977525,
    "readout_error": 0.007568359375,
    "t1": 0.00014485526609546147,
    "t2": 8.795068681159162e-05,
}

NOISE_MODELS: tuple[str, ...] = ("depolarizing", "readout", "memory", "heron")


@dataclass(frozen=True)
class NoiseModel:
    """Channels applied in turn at each kind of location (see the module doc).

    Args:
        name: a label (``"depolarizing+readout"`` for a sum).
        gate1: depolarizing probabilities after every one-qubit gate.
        gate2: two-qubit depolarizing probabilities after every two-qubit gate.
        readout: flip probabilities of every measurement result.
        idle: (p_x, p_y, p_z) channels on every qubit during storage.
        params: the parameters the model was made from, for records.
    """

    name: str = "noiseless"
    gate1: tuple[float, ...] = ()
    gate2: tuple[float, ...] = ()
    readout: tuple[float, ...] = ()
    idle: tuple[tuple[float, float, float], ...] = ()
    params: tuple[tuple[str, float], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for label, probs, top in (("gate1", self.gate1, 3 / 4), ("gate2", self.gate2, 15 / 16), ("readout", self.readout, 1 / 2)):
            for p in probs:
                _check_probability(p, f"{label} probability", top)
        for ch in self.idle:
            if len(ch) != 3:
                raise InvalidArgumentError(f"an idle channel is (p_x, p_y, p_z), got {ch!r}")
            for p in ch:
                _check_probability(p, "idle probability", 1.0)
            if sum(ch) > 1 + 1e-12:
                raise InvalidArgumentError(f"idle probabilities sum to more than 1: {ch!r}")

    def __add__(self, other: NoiseModel) -> NoiseModel:
        if not isinstance(other, NoiseModel):
            return NotImplemented
        names = [n for n in (self.name, other.name) if n != "noiseless"]
        return NoiseModel(
            "+".join(names) or "noiseless",
            self.gate1 + other.gate1,
            self.gate2 + other.gate2,
            self.readout + other.readout,
            self.idle + other.idle,
            self.params + other.params,
        )

    @property
    def readout_flip(self) -> float:
        """The one flip probability equal to all readout flips in turn."""
        q = 0.0
        for p in self.readout:
            q = q * (1 - p) + p * (1 - q)
        return q

    @property
    def is_noiseless(self) -> bool:
        return not any(p > 0 for p in (*self.gate1, *self.gate2, *self.readout)) and not any(sum(c) > 0 for c in self.idle)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "gate1": list(self.gate1),
            "gate2": list(self.gate2),
            "readout": list(self.readout),
            "idle": [list(c) for c in self.idle],
            "params": dict(self.params),
        }


def _check_probability(p: object, what: str, top: float) -> float:
    if not is_real(p) or not math.isfinite(p) or not 0 <= p <= top:
        raise InvalidArgumentError(f"{what} must be a number in [0, {top:g}], got {p!r}")
    return float(p)


def twirled_relaxation(time: float, t1: float, t2: float) -> tuple[float, float, float]:
    """(p_x, p_y, p_z) of amplitude and phase damping for ``time``, Pauli-twirled.

    Raises:
        InvalidArgumentError: unless time >= 0, t1 > 0 and 0 < t2 <= 2·t1.

    Examples:
        >>> [round(p, 6) for p in twirled_relaxation(1e-6, 1e-4, 1e-4)]
        [0.002488, 0.002488, 0.002488]
    """
    for v, what in ((time, "storage time"), (t1, "T1"), (t2, "T2")):
        if not is_real(v) or not math.isfinite(v) or v < 0:
            raise InvalidArgumentError(f"{what} must be a finite number >= 0, got {v!r}")
    if t1 <= 0 or t2 <= 0 or t2 > 2 * t1 * (1 + 1e-12):
        raise InvalidArgumentError(f"need T1 > 0 and 0 < T2 <= 2·T1, got T1 = {t1!r}, T2 = {t2!r}")
    px = (1 - math.exp(-time / t1)) / 4
    pz = (1 - math.exp(-time / t2)) / 2 - px
    return (px, px, max(0.0, pz))


def _memory_from_p(p: float, ratio: float) -> tuple[float, float, float]:
    """The twirled relaxation channel with total probability p and T2 = ratio·T1 (bisection in t/T1)."""
    if not is_real(ratio) or not 0 < ratio <= 2:
        raise InvalidArgumentError(f"t2_over_t1 must be in (0, 2], got {ratio!r}")
    top = 0.25 + 0.5 - (0.25 if ratio == 2 else 0.0)
    _check_probability(p, "memory error probability p", 0.75)
    if p == 0:
        return (0.0, 0.0, 0.0)
    lo, hi = 0.0, 1.0
    while sum(twirled_relaxation(hi, 1.0, ratio)) < p:
        hi *= 2
        if hi > 1e6:
            raise InvalidArgumentError(f"memory error probability {p} is out of reach for T2/T1 = {ratio} (limit {top})")
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(twirled_relaxation(mid, 1.0, ratio)) < p else (lo, mid)
    return twirled_relaxation((lo + hi) / 2, 1.0, ratio)


def noise_model(name: str, **params: float) -> NoiseModel:
    """A named noise model (see the module doc for names and parameters).

    Raises:
        InvalidArgumentError: for an unknown name, a missing or unknown parameter,
            or a value out of range.

    Examples:
        >>> noise_model("heron").gate2
        (0.004879228565388485,)
        >>> noise_model("memory", time=1e-6, t1=1e-4, t2=5e-5).idle[0][2] > noise_model("memory", time=1e-6, t1=1e-4, t2=5e-5).idle[0][0]
        True
    """
    def take(allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, float]:
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise InvalidArgumentError(f"noise model {name!r} takes {', '.join(allowed) or 'no parameters'}; unknown: {', '.join(unknown)}")
        missing = [k for k in required if params.get(k) is None]
        if missing:
            raise InvalidArgumentError(f"noise model {name!r} needs {', '.join(missing)}")
        return {k: v for k, v in params.items() if v is not None}

    rec = tuple((k, float(v)) for k, v in sorted(params.items()) if v is not None)
    if name == "depolarizing":
        kw = take(("p", "p1"), ("p",))
        p = _check_probability(kw["p"], "two-qubit error probability p", 15 / 16)
        p1 = _check_probability(kw.get("p1", p / 10), "one-qubit error probability p1", 3 / 4)
        return NoiseModel("depolarizing", gate1=(p1,), gate2=(p,), params=rec)
    if name == "readout":
        kw = take(("p",), ("p",))
        return NoiseModel("readout", readout=(_check_probability(kw["p"], "readout flip probability p", 0.5),), params=rec)
    if name == "memory":
        kw = take(("p", "t2_over_t1", "time", "t1", "t2"))
        if "p" in kw:
            if {"time", "t1", "t2"} & set(kw):
                raise InvalidArgumentError("memory noise takes either p (and t2_over_t1) or time, t1 and t2, not both")
            channel = _memory_from_p(kw["p"], kw.get("t2_over_t1", 1.0))
        else:
            if "t2_over_t1" in kw or not {"time", "t1", "t2"} <= set(kw):
                raise InvalidArgumentError("memory noise needs p (optionally t2_over_t1), or time, t1 and t2")
            channel = twirled_relaxation(kw["time"], kw["t1"], kw["t2"])
        return NoiseModel("memory", idle=(channel,), params=rec)
    if name == "heron":
        kw = take(("storage_time",))
        h = HERON_R2_MEDIANS
        model = NoiseModel(
            "heron",
            gate1=(1.5 * float(h["sx_error"]),),
            gate2=(1.25 * float(h["cz_error"]),),
            readout=(float(h["readout_error"]),),
            params=rec,
        )
        t = kw.get("storage_time", 0.0)
        if t:
            model = NoiseModel(model.name, model.gate1, model.gate2, model.readout,
                               (twirled_relaxation(t, float(h["t1"]), float(h["t2"])),), rec)
        return model
    raise InvalidArgumentError(f"unknown noise model {name!r}; choose one of {', '.join(NOISE_MODELS)}")


def parse_noise(spec: str, p: float | None = None, **extra: float) -> NoiseModel:
    """``"depolarizing"``, ``"depolarizing+memory"``…: each named part made with error rate ``p``.

    ``heron`` takes no ``p`` (it is a preset); every other model needs one.

    Examples:
        >>> parse_noise("depolarizing+readout", 0.01).readout
        (0.01,)
    """
    parts = [s.strip() for s in spec.split("+") if s.strip()]
    if not parts:
        raise InvalidArgumentError(f"empty noise specification {spec!r}")
    if p is not None and all(name == "heron" for name in parts):
        raise InvalidArgumentError("the heron preset takes no error rate p (its rates are the device's medians)")
    total = NoiseModel()
    for name in parts:
        if name == "heron":
            total = total + noise_model("heron", **{k: v for k, v in extra.items() if k == "storage_time"})
        else:
            if p is None:
                raise InvalidArgumentError(f"noise model {name!r} needs an error rate p")
            total = total + noise_model(name, p=p)
    return total


def independent_pauli_errors(px: float, py: float, pz: float) -> tuple[float, float, float] | None:
    """(a, b, c) with X_ERROR(a), Y_ERROR(b), Z_ERROR(c) in turn equal to the channel, if such exist.

    Writing a Pauli channel as independent flips keeps stim's error analysis
    exact (a ``PAULI_CHANNEL_1`` is only approximated there).

    Examples:
        >>> [round(v, 12) for v in independent_pauli_errors(0.01, 0.01, 0.01)]
        [0.010102051443, 0.010102051443, 0.010102051443]
    """
    lx, ly, lz = 1 - 2 * (py + pz), 1 - 2 * (px + pz), 1 - 2 * (px + py)
    if min(lx, ly, lz) <= 0:
        return None
    fa, fb, fc = math.sqrt(ly * lz / lx), math.sqrt(lx * lz / ly), math.sqrt(lx * ly / lz)
    if max(fa, fb, fc) > 1:
        return None
    return ((1 - fa) / 2, (1 - fb) / 2, (1 - fc) / 2)


def _p(v: float) -> str:
    return repr(float(v))


def idle_text(qubits: np.ndarray, noise: NoiseModel) -> str:
    """stim lines applying every idle channel of ``noise`` to ``qubits``."""
    lines = []
    for ch in noise.idle:
        if not sum(ch):
            continue
        split = independent_pauli_errors(*ch)
        if split is None:
            lines.append(instruction_text(f"PAULI_CHANNEL_1({_p(ch[0])}, {_p(ch[1])}, {_p(ch[2])})", qubits))
        else:
            for gate, q in zip(("X_ERROR", "Y_ERROR", "Z_ERROR"), split):
                if q > 0:
                    lines.append(instruction_text(f"{gate}({_p(q)})", qubits))
    return "\n".join(lines)


def _gate_with_noise(name: str, targets: np.ndarray, arity: int, channels: list[str], distinct: bool) -> str:
    if not channels:
        return instruction_text(name, targets)
    if distinct:
        # gates on distinct qubits: noise after the layer is noise after every gate
        return "\n".join([instruction_text(name, targets)] + [instruction_text(c, targets) for c in channels])
    # a qubit repeats (a ladder, a fan-out): the noise of each gate comes before the next gate
    groups = targets.reshape(-1, arity)
    cols: list[str | np.ndarray] = []
    for head in [name, *channels]:
        cols.append(head)
        for k in range(arity):
            cols += [" ", groups[:, k]]
        cols.append("\n")
    return format_rows(*cols).rstrip("\n")


def noisy_stim_text(
    circuit: Circuit,
    noise: NoiseModel,
    *,
    storage_after: int | None = None,
    idle_qubits: np.ndarray | None = None,
) -> str:
    """stim text of ``circuit`` with the gate and idle noise of ``noise`` (see :func:`noisy_stim_circuit`)."""
    n_ins = len(circuit.instructions)
    if storage_after is not None and not 0 <= storage_after <= n_ins:
        raise InvalidArgumentError(f"storage_after must be in 0..{n_ins}, got {storage_after}")
    if idle_qubits is None:
        idle_qubits = _storage_qubits(circuit)
    ch1 = [f"DEPOLARIZE1({_p(p)})" for p in noise.gate1 if p > 0]
    ch2 = [f"DEPOLARIZE2({_p(p)})" for p in noise.gate2 if p > 0]
    parts: list[str] = []
    for k, ins in enumerate(circuit.instructions):
        if k == storage_after:
            parts.append(idle_text(idle_qubits, noise))
        distinct = bool(np.bincount(ins.targets).max(initial=0) <= 1) if ins.targets.size else True
        parts.append(_gate_with_noise(ins.name, ins.targets, ins.arity, ch2 if ins.arity == 2 else ch1, distinct))
    if storage_after == n_ins:
        parts.append(idle_text(idle_qubits, noise))
    return "\n".join(p for p in parts if p)


def _storage_qubits(circuit: Circuit) -> np.ndarray:
    """Every qubit except those of a register named R (the outside reference)."""
    out, start = [], 0
    for name, size in circuit.registers:
        if name != "R":
            out.append(np.arange(start, start + size, dtype=np.int64))
        start += size
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def noisy_stim_circuit(
    circuit: Circuit,
    noise: NoiseModel,
    *,
    storage_after: int | None = None,
    measure: Sequence[int] | np.ndarray = (),
) -> stim.Circuit:
    """``circuit`` as a stim circuit with ``noise`` (built as text, in bulk).

    Args:
        circuit: the gates (qubit i of the circuit is stim qubit i).
        noise: gate noise follows every gate (for gates that share a qubit
            inside one instruction, each gate's noise comes before the next gate).
        storage_after: apply the idle (memory) channels to every qubit except a
            register named R after this many instructions (``None``: never; a
            model with idle channels then has no effect there).
        measure: qubits to measure in the Z basis at the end, with the readout flips.

    Examples:
        >>> from qclone.protocol import Layout, protocol_circuit
        >>> c = noisy_stim_circuit(protocol_circuit(Layout(2)), noise_model("depolarizing", p=1e-3), measure=[1, 2])
        >>> c.num_measurements, "DEPOLARIZE2(0.001)" in str(c)
        (2, True)
    """
    text = noisy_stim_text(circuit, noise, storage_after=storage_after)
    meas = np.asarray(measure, dtype=np.int64)
    if meas.size:
        if meas.min() < 0 or meas.max() >= circuit.num_qubits:
            raise InvalidArgumentError(f"measured qubits must be in 0..{circuit.num_qubits - 1}")
        q = noise.readout_flip
        text += "\n" + instruction_text(f"M({_p(q)})" if q > 0 else "M", meas)
    return stim.Circuit(text)
