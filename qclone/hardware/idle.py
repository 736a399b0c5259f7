"""Idle time on the device: scheduling with the device's real durations, idle windows, dynamical decoupling.

Every device circuit is scheduled with the durations the backend's ``Target``
states for each gate on each qubit (CZ 68–84 ns, √X and X 24–32 ns, readout
1.6–2.3 µs on the Heron models; RZ is virtual and takes no time):

* **ALAP** (as late as possible, the default): every gate is placed as late as
  its successors allow, so a qubit that has not been used yet stays in |0⟩
  (which relaxation does not change) instead of waiting in a superposition,
  and the idle windows that remain are those the gate order forces;
* **ASAP** (as soon as possible), for comparison: gates as early as their
  predecessors allow, so qubits wait *after* their work instead.

:func:`schedule` pads every gap with an explicit ``delay`` (Qiskit's
``PadDelay``), so a simulator's thermal relaxation (Aer) or the twirled stim
model (:mod:`qclone.hardware.predict`) acts on qubits that wait, as on a device.
:func:`idle_windows` lists those waits per qubit, without the waits before a
qubit's first operation (it is still in |0⟩, where relaxation does nothing) and
after its last one (nothing it does then reaches the output).

**Dynamical decoupling** (``dd="XX"``): Qiskit's
``PadDynamicalDecoupling`` fills every idle window long enough to hold the
sequence with a pair of X pulses, spaced evenly, skipping qubits still in |0⟩. On
a real device this refocuses quasi-static and low-frequency dephasing and
coherent crosstalk (ZZ couplings to neighbours). The offline device models
cannot show that gain: their idle noise is Markovian thermal relaxation (T1,
T2 as calibrated), which a pulse sequence does not refocus, so there DD only
adds the pulses' own gate errors. qclone therefore offers DD for real devices
(``qclone hardware run --dd``) and reports, for the models, what can be
claimed: the schedule, gate counts, depths and idle time, never a DD gain.

Examples:
    >>> from qiskit import QuantumCircuit
    >>> from qclone.hardware.devices import get_backend
    >>> be = get_backend("fake_fez")
    >>> qc = QuantumCircuit(156); _ = qc.sx(0); _ = qc.cz(0, 1); _ = qc.sx(1); _ = qc.sx(1); _ = qc.cz(0, 1)
    >>> w = idle_windows(schedule(qc, be.target), be.target)
    >>> [round(t * 1e9) for t in w[0]]   # qubit 0 waits for the two √X on qubit 1 (ns)
    [48]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qiskit import QuantumCircuit
from qiskit.transpiler import Target

from qclone.errors import InvalidArgumentError

#: Scheduling policies.
SCHEDULES = ("alap", "asap")
#: Dynamical-decoupling sequences offered: X–X pulse pairs (Heron has no native Y, so XY4 would need
#: virtual frame changes the padding pass cannot time).
DD_SEQUENCES = ("XX",)


def check_schedule_policy(policy: str) -> str:
    if policy not in SCHEDULES:
        raise InvalidArgumentError(f"unknown schedule {policy!r}; choose one of {', '.join(SCHEDULES)}")
    return policy


def check_dd(dd: str | None) -> str | None:
    if dd is None or dd in DD_SEQUENCES:
        return dd
    raise InvalidArgumentError(f"unknown dynamical-decoupling sequence {dd!r}; choose one of {', '.join(DD_SEQUENCES)}")


def _dd_gates(dd: str) -> list:
    from qiskit.circuit.library import XGate

    return [XGate(), XGate()]


def schedule_pass_list(target: Target, *, policy: str = "alap", dd: str | None = None) -> list:
    """The passes :func:`schedule` runs (scheduling analysis, then delays or a DD sequence in the gaps)."""
    from qiskit.transpiler.passes import ALAPScheduleAnalysis, ASAPScheduleAnalysis, PadDelay, PadDynamicalDecoupling

    policy = check_schedule_policy(policy)
    dd = check_dd(dd)
    analysis = ALAPScheduleAnalysis(target=target) if policy == "alap" else ASAPScheduleAnalysis(target=target)
    passes = [analysis]
    if dd is not None:
        passes.append(PadDynamicalDecoupling(target=target, dd_sequence=_dd_gates(dd), skip_reset_qubits=True,
                                             pulse_alignment=int(getattr(target, "pulse_alignment", 1) or 1)))
        passes.append(PadDelay(target=target))  # the gaps too short for the sequence (and the leading waits)
    else:
        passes.append(PadDelay(target=target))
    return passes


def schedule(circuits: QuantumCircuit | Sequence[QuantumCircuit], target: Target, *, policy: str = "alap",
             dd: str | None = None):  # noqa: ANN201 - one circuit in, one out; a list in, a list out
    """Schedule native-gate circuits with ``target``'s durations and pad every gap (see the module doc).

    With ``dd``, the idle windows long enough for the sequence hold its (native) pulses instead.
    """
    from qiskit.transpiler import PassManager

    single = isinstance(circuits, QuantumCircuit)
    batch = [circuits] if single else list(circuits)
    out = PassManager(schedule_pass_list(target, policy=policy, dd=dd)).run(batch)
    out = out if isinstance(out, list) else [out]
    return out[0] if single else out


def _seconds(op, dt: float | None) -> float:  # noqa: ANN001 - a qiskit Delay
    from qclone.hardware.pauli_noise import delay_seconds

    return delay_seconds(op, dt)


def idle_windows(circuit: QuantumCircuit, target: Target) -> dict[int, list[float]]:
    """Seconds of every wait (``delay``) of every qubit of a scheduled circuit, between its first and its last
    operation (waits before the first operation and after the last one are left out, see the module doc)."""
    ops: dict[int, list[tuple[str, float]]] = {}
    for ins in circuit.data:
        name = ins.operation.name
        if name == "barrier":
            continue
        for q in ins.qubits:
            i = circuit.find_bit(q).index
            t = _seconds(ins.operation, target.dt) if name == "delay" else 0.0
            ops.setdefault(i, []).append((name, t))
    out: dict[int, list[float]] = {}
    for q, seq in ops.items():
        work = [k for k, (name, _) in enumerate(seq) if name != "delay"]
        if not work:
            continue
        out[q] = [t for name, t in seq[work[0] : work[-1] + 1] if name == "delay" and t > 0]
    return out


@dataclass(frozen=True)
class IdleSummary:
    """How long the qubits of a scheduled circuit wait.

    Attributes:
        duration: seconds of the whole circuit.
        idle_qubit_seconds: summed waits (between first and last operation) over all qubits.
        longest_window: the longest single wait.
        windows: how many waits there are.
        dd_pulses: DD pulses in the circuit (X/Y gates inside the waits, if DD was asked for).
    """

    duration: float
    idle_qubit_seconds: float
    longest_window: float
    windows: int
    dd_pulses: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return {"duration": self.duration, "idle_qubit_seconds": self.idle_qubit_seconds,
                "longest_window": self.longest_window, "windows": self.windows, "dd_pulses": self.dd_pulses}


def idle_summary(circuit: QuantumCircuit, target: Target, *, dd_pulses: int = 0, duration: float | None = None) -> IdleSummary:
    """:class:`IdleSummary` of a scheduled circuit (``duration``: give it for a circuit with control flow)."""
    w = idle_windows(circuit, target)
    flat = [t for ts in w.values() for t in ts]
    return IdleSummary(
        duration=float(circuit.estimate_duration(target, unit="s")) if duration is None else float(duration),
        idle_qubit_seconds=float(sum(flat)),
        longest_window=float(max(flat, default=0.0)),
        windows=len(flat),
        dd_pulses=dd_pulses,
    )
