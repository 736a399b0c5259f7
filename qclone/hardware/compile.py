"""Device circuits: the heavy-hex schedule placed on a backend and lowered to its native gates.

:func:`compile_protocol` places the schedule of :mod:`qclone.hardware.schedule`
on the layout of :mod:`qclone.hardware.layout` and runs Qiskit's preset pass
manager at optimization level 3 with that layout fixed and routing switched
off (``routing_method="none"``: Qiskit checks every two-qubit gate is a
coupling edge and would fail otherwise). It only translates to native gates
(CZ, √X, RZ on Heron) and merges gates inside each stage.

:func:`qiskit_baseline` is the comparison: the textbook circuit of
:mod:`qclone.protocol` (the same stages, with the same barriers) given to the
same pass manager with Qiskit choosing layout and routing.

Inputs (the ``input`` argument of both):

* ``"bell"``: the reference R and A start in |Φ+⟩ (for Bell fidelity and
  concurrence of (R, decrypted clone));
* a cardinal state ``"0" "1" "+" "-" "+i" "-i"`` prepared on A;
* ``None``: nothing prepared (gate counts of the protocol alone).

Examples:
    >>> from qclone.hardware.devices import get_backend
    >>> comp = compile_protocol(get_backend("fake_fez"), clones=2, input="bell", seed=1)
    >>> comp.stats.two_qubit_gates <= qiskit_baseline(get_backend("fake_fez"), clones=2, input="bell", seed=1).two_qubit_gates
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, QuantumRegister
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager

from qclone.errors import InvalidArgumentError
from qclone.hardware.layout import DeviceLayout, device_layout
from qclone.hardware.schedule import Schedule, protocol_schedule
from qclone.protocol import Circuit, Layout, protocol_to_qiskit, to_qiskit

#: Cardinal input states: name → (gates on A from |0⟩, state vector).
CARDINAL_STATES: dict[str, tuple[tuple[str, ...], tuple[complex, complex]]] = {
    "0": ((), (1, 0)),
    "1": (("x",), (0, 1)),
    "+": (("h",), (2**-0.5, 2**-0.5)),
    "-": (("x", "h"), (2**-0.5, -(2**-0.5))),
    "+i": (("h", "s"), (2**-0.5, 1j * 2**-0.5)),
    "-i": (("h", "sdg"), (2**-0.5, -1j * 2**-0.5)),
}
INPUTS: tuple[str, ...] = ("bell", *CARDINAL_STATES)


def check_input(value: str | None) -> str | None:
    if value is None or value in INPUTS:
        return value
    raise InvalidArgumentError(f"unknown input {value!r}; choose one of {', '.join(INPUTS)}")


def cardinal_vector(name: str) -> np.ndarray:
    return np.array(CARDINAL_STATES[name][1], dtype=complex)


@dataclass(frozen=True)
class GateStats:
    """Two-qubit gate count and depths of a circuit in native gates (barriers do not count)."""

    two_qubit_gates: int
    depth: int
    two_qubit_depth: int

    @classmethod
    def of(cls, qc: QuantumCircuit) -> GateStats:
        def two_q(ins) -> bool:  # noqa: ANN001 - qiskit's CircuitInstruction
            return ins.operation.num_qubits == 2 and ins.operation.name != "barrier"

        return cls(
            two_qubit_gates=sum(1 for ins in qc.data if two_q(ins)),
            depth=qc.depth(lambda ins: ins.operation.name != "barrier"),
            two_qubit_depth=qc.depth(two_q),
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _prepare_input(qc: QuantumCircuit, input: str | None, r: int, a: int) -> None:
    if input is None:
        return
    if input == "bell":
        qc.h(r)
        qc.cx(r, a)
        return
    for gate in CARDINAL_STATES[input][0]:
        getattr(qc, gate)(a)


def _append(qc: QuantumCircuit, circuit: Circuit, wires: list[int]) -> None:
    """Append a qclone circuit, its qubit i going to ``wires[i]``."""
    qc.compose(to_qiskit(circuit), qubits=wires, inplace=True)


def schedule_metadata(schedule: Schedule, layout: DeviceLayout, input: str | None) -> dict:
    """``circuit.metadata`` of a device circuit: what :func:`~qclone.protocol.protocol_to_qiskit` records,
    plus where the protocol sits on the device and where its qubits end."""
    return {
        "n": schedule.clones,
        "k": 1,
        "references": 1,
        "decrypt": schedule.decrypt,
        "depth": "linear",
        "stages": ["bell_pairs+encryption", "decryption"],
        "schedule": "heavy_hex_path",
        "input": input,
        "device": layout.device,
        "initial_physical": dict(layout.physical),
        "final_physical": {label: layout.path[slot] for label, slot in schedule.final_slots.items()},
    }


def device_circuit(schedule: Schedule, layout: DeviceLayout, num_qubits: int, *, input: str | None = "bell") -> QuantumCircuit:
    """The schedule on physical qubits (``num_qubits`` wires), barriers between the stages.

    The input preparation, the encryption (Bell pairs and U_enc as one isometry, see
    :mod:`~qclone.hardware.schedule`) and the decryption are separated by barriers on the path;
    ``metadata`` is :func:`schedule_metadata`.
    """
    input = check_input(input)
    qc = QuantumCircuit(num_qubits, name=f"encrypted_cloning_n{schedule.clones}", metadata=schedule_metadata(schedule, layout, input))
    wires = list(layout.path)
    _prepare_input(qc, input, layout.R, layout.A)
    qc.barrier(wires)
    _append(qc, schedule.encryption, wires)
    qc.barrier(wires)
    _append(qc, schedule.decryption, wires)
    qc.barrier(wires)
    return qc


def preset_pass_manager(backend: BackendV2, *, seed: int | None, fixed_layout: bool = True):  # noqa: ANN201 - a StagedPassManager
    """Qiskit's preset pass manager at level 3: with every qubit fixed where it is and no routing
    (``fixed_layout``, what :func:`compile_protocol` lowers with), or choosing layout and routing."""
    if fixed_layout:
        return generate_preset_pass_manager(
            optimization_level=3,
            backend=backend,
            initial_layout=list(range(backend.num_qubits)),
            routing_method="none",
            seed_transpiler=seed,
        )
    return generate_preset_pass_manager(optimization_level=3, backend=backend, seed_transpiler=seed)


class FinalQubits:
    """Where a compiled protocol's qubits end, derived from its ``final_physical`` map, its
    ``schedule`` (which clone is decrypted) and its ``layout`` (the path it occupies)."""

    final_physical: Mapping[str, int]
    schedule: Any
    layout: Any

    @property
    def clone_qubit(self) -> int:
        """Physical qubit of the decrypted clone at the end."""
        return self.final_physical[f"S{self.schedule.decrypt}"]

    @property
    def reference_qubit(self) -> int:
        return self.final_physical["R"]

    @property
    def active_qubits(self) -> tuple[int, ...]:
        return tuple(sorted(self.layout.path))


@dataclass(frozen=True)
class CompiledProtocol(FinalQubits):
    """The protocol for one device and n, in native gates, ready to measure.

    Attributes:
        circuit: the ISA circuit (no measurements; every wire is the physical qubit of that index).
        layout: where R, A and the pairs start.
        schedule: the slot schedule it came from.
        final_physical: label → physical qubit holding that label's qubit at the end.
        stats: two-qubit gates and depths.
    """

    circuit: QuantumCircuit
    layout: DeviceLayout
    schedule: Schedule
    final_physical: Mapping[str, int]
    stats: GateStats



def compile_protocol(
    backend: BackendV2,
    clones: int,
    decrypt: int = 1,
    *,
    input: str | None = "bell",
    seed: int | None = 0,
    name: str | None = None,
) -> CompiledProtocol:
    """Place, schedule and lower the protocol for ``backend`` (see the module docstring)."""
    layout = device_layout(backend, clones, decrypt, name=name)
    schedule = protocol_schedule(clones, pair_order=layout.pair_order)
    qc = device_circuit(schedule, layout, backend.num_qubits, input=input)
    isa = preset_pass_manager(backend, seed=seed, fixed_layout=True).run(qc)
    moved = isa.layout.final_index_layout() if isa.layout is not None else list(range(backend.num_qubits))
    placed = isa.layout.initial_index_layout() if isa.layout is not None else list(range(backend.num_qubits))
    if list(placed) != list(range(backend.num_qubits)) or list(moved) != list(range(backend.num_qubits)):
        raise RuntimeError("the transpiler moved qubits although the layout was fixed")  # pragma: no cover - a Qiskit change
    final = {label: layout.path[slot] for label, slot in schedule.final_slots.items()}
    return CompiledProtocol(circuit=isa, layout=layout, schedule=schedule, final_physical=final, stats=GateStats.of(isa))


def logical_circuit(clones: int, decrypt: int = 1, *, input: str | None = "bell", depth: str = "linear") -> QuantumCircuit:
    """The textbook circuit with the reference R: the input prepared, a barrier, then
    :func:`~qclone.protocol.protocol_to_qiskit` (Bell pairs | U_enc | U_dec, its metadata), a barrier."""
    input = check_input(input)
    lay = Layout(clones, references=1)
    regs = [QuantumRegister(size, name) for name, size in lay.registers]
    protocol = protocol_to_qiskit(lay, decrypt=decrypt, depth=depth)  # type: ignore[arg-type]  # checked there
    qc = QuantumCircuit(*regs, name=f"encrypted_cloning_logical_n{clones}", metadata={**(protocol.metadata or {}), "input": input})
    _prepare_input(qc, input, lay.R(), lay.A())
    qc.barrier()
    qc.compose(protocol, inplace=True)
    qc.barrier()
    return qc


def merge_first_stages(qc: QuantumCircuit) -> QuantumCircuit:
    """``qc`` without its second barrier (between Bell pairs and U_enc): Qiskit may then merge the two
    stages, as the heavy-hex schedule does (it writes them as one isometry)."""
    barriers = [i for i, ins in enumerate(qc.data) if ins.operation.name == "barrier"]
    out = qc.copy_empty_like()
    for i, ins in enumerate(qc.data):
        if len(barriers) > 1 and i == barriers[1]:
            continue
        out.append(ins)
    return out


def qiskit_baseline(
    backend: BackendV2, clones: int, decrypt: int = 1, *, input: str | None = "bell", seed: int | None = 0
) -> GateStats:
    """Gate statistics of Qiskit's preset pass manager (level 3) on :func:`logical_circuit`, with Bell pairs
    and U_enc in one stage as in the schedule (:func:`merge_first_stages`)."""
    circuit = merge_first_stages(logical_circuit(clones, decrypt, input=input))
    return GateStats.of(preset_pass_manager(backend, seed=seed, fixed_layout=False).run(circuit))
