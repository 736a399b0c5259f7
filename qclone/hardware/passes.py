"""The heavy-hex schedule as a Qiskit pass manager, to drop into your own transpilation.

:func:`schedule_pass_manager` returns a ``StagedPassManager`` for one device
and n. Its **layout** stage (:class:`ProtocolLayout`) places the circuit's
registers on the path of :mod:`qclone.hardware.layout` (R, A, then every pair
(S_k, N_k), the decrypted pair last); its **routing** stage
(:class:`ProtocolRouting`) recognises the protocol between the circuit's
barriers and puts the nearest-neighbour schedule of
:mod:`qclone.hardware.schedule` in its place (the SWAPs of the decryption move
qubits: gates after the protocol follow them, and the pass records the
permutation as ``final_layout``, as Qiskit's routing passes do). The native-gate
stages are those of Qiskit's preset pass manager at optimization level 3 with
that layout fixed, exactly as :func:`~qclone.hardware.compile.compile_protocol`
runs them, so both give the same circuit.

The circuit it accepts is the protocol as qclone exports it
(:func:`~qclone.protocol.protocol_to_qiskit` on ``Layout(n)`` or
``Layout(n, references=1)``, or :func:`~qclone.hardware.compile.logical_circuit`),
composed into your own circuit:

* qubits in registers ``A`` (1 qubit), ``S`` (n), ``N`` (n) and optionally ``R`` (1), nothing else;
* anything before the protocol acts on A and R only (the schedule needs every pair in |00⟩);
* the protocol's stages between barriers that span A, S and N: Bell pairs | U_enc | U_dec(j)
  (Bell pairs and U_enc may share a stage), either encryption variant (``linear`` or ``log``);
* anything after the last of those barriers (measurements, say) is kept.

A circuit that is not that is refused with a ``TranspilerError`` saying what differs.

Examples:
    >>> from qclone.hardware.devices import get_backend
    >>> from qclone.hardware.compile import logical_circuit
    >>> pm = schedule_pass_manager(get_backend("fake_fez"), clones=2, decrypt=2)
    >>> isa = pm.run(logical_circuit(2, 2, input="bell"))
    >>> sorted(isa.count_ops())
    ['barrier', 'cz', 'rz', 'sx', 'x']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qiskit import QuantumCircuit
from qiskit.circuit import Barrier, Qubit
from qiskit.converters import circuit_to_dag
from qiskit.dagcircuit import DAGCircuit, DAGOpNode
from qiskit.providers import BackendV2
from qiskit.transpiler import Layout as TranspilerLayout
from qiskit.transpiler import PassManager, StagedPassManager, TranspilerError
from qiskit.transpiler.basepasses import AnalysisPass, TransformationPass
from qiskit.transpiler.passes import ApplyLayout, EnlargeWithAncilla, FullAncillaAllocation

from qclone.hardware.compile import preset_pass_manager, schedule_metadata
from qclone.hardware.layout import DeviceLayout, device_layout
from qclone.hardware.schedule import Schedule, protocol_schedule
from qclone.protocol import DEPTHS, Layout, protocol_to_qiskit, to_qiskit

#: Registers the accepted circuits have (``R`` optional).
PROTOCOL_REGISTERS = ("A", "S", "N", "R")


def protocol_labels(registers: Mapping[str, Sequence[Qubit]], clones: int) -> dict[str, Qubit]:
    """Label (``R``, ``A``, ``S1``, ``N1``, ...) → qubit, from the registers by name (checked)."""
    n = clones
    want = {"A": 1, "S": n, "N": n}
    for name, size in want.items():
        if name not in registers or len(registers[name]) != size:
            raise TranspilerError(
                f"the protocol for n = {n} needs registers A (1 qubit), S ({n}) and N ({n}); "
                f"the circuit has {', '.join(f'{k} ({len(v)})' for k, v in registers.items()) or 'none'}"
            )
    extra = set(registers) - set(PROTOCOL_REGISTERS)
    if extra or ("R" in registers and len(registers["R"]) != 1):
        raise TranspilerError(f"only registers A, S, N and a one-qubit R can be placed; the circuit also has {sorted(extra) or 'R > 1'}")
    out = {"A": registers["A"][0]}
    if "R" in registers:
        out["R"] = registers["R"][0]
    for k in range(1, n + 1):
        out[f"S{k}"] = registers["S"][k - 1]
        out[f"N{k}"] = registers["N"][k - 1]
    return out


class ProtocolLayout(AnalysisPass):
    """Layout stage: every protocol qubit on its place of the device path (sets ``layout``)."""

    def __init__(self, layout: DeviceLayout) -> None:
        super().__init__()
        self.device = layout

    def run(self, dag: DAGCircuit) -> None:
        registers = {name: list(reg) for name, reg in dag.qregs.items()}
        covered = {q for reg in registers.values() for q in reg}
        if covered != set(dag.qubits):
            raise TranspilerError("every qubit of the circuit must be in one of the registers A, S, N, R")
        labels = protocol_labels(registers, self.device.clones)
        physical = self.device.physical
        self.property_set["layout"] = TranspilerLayout({q: physical[label] for label, q in labels.items()})


def _stage_circuits(clones: int, decrypt: int, depth: str) -> list[QuantumCircuit]:
    """Bell pairs, U_enc and U_dec of the textbook protocol, each on qubits A, S1..Sn, N1..Nn."""
    lay = Layout(clones)
    full = protocol_to_qiskit(lay, decrypt=decrypt, depth=depth)  # type: ignore[arg-type]  # depth is one of DEPTHS
    stages: list[QuantumCircuit] = [QuantumCircuit(lay.num_qubits)]
    for ins in full.data:
        if ins.operation.name == "barrier":
            stages.append(QuantumCircuit(lay.num_qubits))
            continue
        stages[-1].append(ins.operation, [full.find_bit(q).index for q in ins.qubits])
    return stages


class ProtocolRouting(TransformationPass):
    """Routing stage: the protocol between the barriers becomes the nearest-neighbour schedule.

    Runs on the laid-out circuit (physical qubits). Sets ``final_layout`` to where the
    schedule's SWAPs leave every qubit; gates after the protocol are moved with them. The
    circuit's metadata gains the schedule's (:func:`~qclone.hardware.compile.schedule_metadata`:
    n, decrypt, device, where every label starts and ends).
    """

    def __init__(self, layout: DeviceLayout) -> None:
        super().__init__()
        self.device = layout
        self.schedule: Schedule = protocol_schedule(layout.clones, pair_order=layout.pair_order)
        n, j = layout.clones, layout.decrypt
        self.references = {depth: _stage_circuits(n, j, depth) for depth in DEPTHS}
        # slot in the textbook layout (A = 0, S_k = k, N_k = n + k) of every protocol label
        self.logical = {"A": 0} | {f"S{k}": k for k in range(1, n + 1)} | {f"N{k}": n + k for k in range(1, n + 1)}

    def _segments(self, dag: DAGCircuit, protocol: set[int]) -> list[tuple[DAGOpNode, int, bool]]:
        """Every operation in topological order with its segment and whether it is a dividing barrier.

        Barriers that span A, S and N divide the circuit into segments 0, 1, ... (barrier b sits
        between segments b - 1 and b, and counts as segment b). An operation on A, S or N is in the
        segment between the barriers around it; one on other qubits only (R) is in the segment of
        the last operation on its qubits (-1 if none), which keeps its order on those qubits.
        """
        out: list[tuple[DAGOpNode, int, bool]] = []
        count = 0
        last: dict[int, int] = {}
        for node in dag.topological_op_nodes():
            qs = [dag.find_bit(q).index for q in node.qargs]
            dividing = node.op.name == "barrier" and protocol <= set(qs)
            if dividing:
                count += 1
                seg = count
            elif any(q in protocol for q in qs):
                seg = count
            else:
                seg = max((last.get(q, -1) for q in qs), default=-1)
            for q in qs:
                last[q] = seg
            out.append((node, seg, dividing))
        return out

    def _as_textbook(self, dag: DAGCircuit, nodes: list[DAGOpNode], where: Mapping[int, str]) -> QuantumCircuit | None:
        """The segment on the textbook qubits, or ``None`` if it touches a qubit the protocol does not."""
        qc = QuantumCircuit(len(self.logical))
        for node in nodes:
            labels = [where.get(dag.find_bit(q).index) for q in node.qargs]
            if node.cargs or any(lab not in self.logical for lab in labels):
                return None
            qc.append(node.op, [self.logical[lab] for lab in labels])  # type: ignore[index]  # checked above
        return qc

    def _find(self, dag: DAGCircuit, segments: list[list[DAGOpNode]], where: Mapping[int, str]) -> tuple[int, int] | None:
        """(first, end) segment indices of the protocol, end exclusive."""
        as_dag = [None if (c := self._as_textbook(dag, seg, where)) is None else circuit_to_dag(c) for seg in segments]
        for bell, enc, dec in self.references.values():
            merged = bell.copy()
            merged.compose(enc, inplace=True)
            forms = [[circuit_to_dag(merged), circuit_to_dag(dec)], [circuit_to_dag(bell), circuit_to_dag(enc), circuit_to_dag(dec)]]
            for i in range(len(segments)):
                for form in forms:
                    if i + len(form) <= len(segments) and all(as_dag[i + t] == form[t] for t in range(len(form))):
                        return i, i + len(form)
        return None

    def run(self, dag: DAGCircuit) -> DAGCircuit:
        lay, sched = self.device, self.schedule
        where = {phys: label for label, phys in lay.physical.items()}
        protocol = {lay.physical[label] for label in self.logical}
        nodes = self._segments(dag, protocol)
        on_protocol = {id(node) for node, _, _ in nodes if any(dag.find_bit(q).index in protocol for q in node.qargs)}
        segments: list[list[DAGOpNode]] = [[] for _ in range(1 + sum(d for _, _, d in nodes))]
        for node, seg, dividing in nodes:
            if not dividing and id(node) in on_protocol:
                segments[seg].append(node)
        found = self._find(dag, segments, where)
        if found is None:
            raise TranspilerError(
                f"no encrypted-cloning protocol (n = {sched.clones}, decrypted clone {sched.decrypt}) between barriers "
                "spanning A, S and N: export it with qclone.protocol.protocol_to_qiskit or qclone.hardware.logical_circuit"
            )
        first, end = found
        # before: everything up to the protocol (operations on R alone that fall inside it commute with it);
        # after: from the barrier that closes it (that barrier and the one opening it are the schedule's own)
        before = [node for node, seg, dividing in nodes
                  if (seg < first if dividing or id(node) in on_protocol else seg < end)]  # fmt: skip
        after = [node for node, seg, dividing in nodes if seg > end or (seg == end and not dividing)]
        touched = {where.get(dag.find_bit(q).index) for node in before for q in node.qargs if node.op.name != "barrier"}
        if touched - {"A", "R"}:
            raise TranspilerError(f"gates before the protocol act on {sorted(str(t) for t in touched - {'A', 'R'})}: "
                                  "the schedule needs every pair (S_k, N_k) in |00>")  # fmt: skip
        moved = {lay.path[slot]: lay.path[sched.final_slots[label]] for label, slot in sched.initial_slots.items()}
        qubits = dag.qubits
        out = dag.copy_empty_like()
        for node in before:
            out.apply_operation_back(node.op, node.qargs, node.cargs, check=False)
        wires = [qubits[p] for p in lay.path]
        out.apply_operation_back(Barrier(len(wires)), tuple(wires), (), check=False)
        out.compose(circuit_to_dag(to_qiskit(sched.encryption)), qubits=wires, inplace=True)
        out.apply_operation_back(Barrier(len(wires)), tuple(wires), (), check=False)
        out.compose(circuit_to_dag(to_qiskit(sched.decryption)), qubits=wires, inplace=True)
        out.apply_operation_back(Barrier(len(wires)), tuple(wires), (), check=False)
        for node in after:
            qargs = tuple(qubits[moved.get(dag.find_bit(q).index, dag.find_bit(q).index)] for q in node.qargs)
            out.apply_operation_back(node.op, qargs, node.cargs, check=False)
        self.property_set["final_layout"] = TranspilerLayout({qubits[p]: moved.get(p, p) for p in range(len(qubits))})
        placed = schedule_metadata(sched, lay, None)
        del placed["input"]  # what the user prepared is the user's to say
        out.metadata = {**(dag.metadata or {}), **placed}
        return out


def schedule_pass_manager(backend: BackendV2, clones: int, decrypt: int = 1, *, seed: int | None = 0) -> StagedPassManager:
    """A ``StagedPassManager`` that compiles qclone's protocol circuit with the heavy-hex schedule.

    Args:
        backend: the device (its coupling map, native gates and errors choose the path).
        clones: n of the circuits it will run on.
        decrypt: the decrypted clone of those circuits.
        seed: ``seed_transpiler`` of the native-gate stages.

    Layout and routing are :class:`ProtocolLayout` and :class:`ProtocolRouting`; ``init`` is
    empty (it would rewrite the protocol before it is recognised) and its passes run as
    ``pre_translation`` instead, on the scheduled circuit, as in
    :func:`~qclone.hardware.compile.compile_protocol`.
    """
    lay = device_layout(backend, clones, decrypt)
    preset = preset_pass_manager(backend, seed=seed)
    coupling = backend.coupling_map
    return StagedPassManager(
        layout=PassManager([ProtocolLayout(lay), FullAncillaAllocation(coupling), EnlargeWithAncilla(), ApplyLayout()]),
        routing=PassManager([ProtocolRouting(lay)]),
        pre_translation=preset.init,
        translation=preset.translation,
        optimization=preset.optimization,
        scheduling=preset.scheduling,
    )
