"""The heavy-hex schedule as a Qiskit pass manager, on the user's own protocol circuit."""

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.quantum_info import Operator
from qiskit.transpiler import TranspilerError

from qclone.hardware.backends import AerRunner, renumber
from qclone.hardware.check import check_compiled
from qclone.hardware.compile import CompiledProtocol, GateStats, compile_protocol, logical_circuit
from qclone.hardware.passes import schedule_pass_manager
from qclone.protocol import Layout, protocol_to_qiskit


def _on_path(qc, path):
    return renumber(qc, sorted(path))


@pytest.mark.parametrize("n,j", [(1, 1), (2, 1), (2, 2), (3, 2)])
def test_pass_manager_gives_qclones_own_compilation(fez, torino, n, j):
    for backend in (fez, torino):
        isa = schedule_pass_manager(backend, n, j).run(logical_circuit(n, j, input="bell"))
        comp = compile_protocol(backend, n, j, input="bell")
        assert GateStats.of(isa) == comp.stats
        assert isa.metadata["final_physical"] == comp.circuit.metadata["final_physical"] == dict(comp.final_physical)
        assert isa.metadata["n"] == n and isa.metadata["decrypt"] == j and isa.metadata["input"] == "bell"  # the user's kept
        assert Operator(_on_path(isa, comp.layout.path)).equiv(Operator(_on_path(comp.circuit, comp.layout.path)))
        # a valid circuit for the device: native gates on coupled qubits only
        for ins in isa.data:
            if ins.operation.name != "barrier":
                qargs = tuple(isa.find_bit(q).index for q in ins.qubits)
                assert backend.target.instruction_supported(ins.operation.name, qargs), (ins.operation.name, qargs)
        # and it leaves the textbook state (exact engine, through the existing check)
        ours = CompiledProtocol(circuit=isa, layout=comp.layout, schedule=comp.schedule,
                                final_physical=comp.final_physical, stats=GateStats.of(isa))  # fmt: skip
        assert check_compiled(ours)
        # Qiskit's layout records where the user's qubits start and end
        virtual = {lab: i for i, lab in enumerate(["A", *[f"S{k}" for k in range(1, n + 1)], *[f"N{k}" for k in range(1, n + 1)], "R"])}
        start, end = isa.layout.initial_index_layout(), isa.layout.final_index_layout()
        assert start[virtual["A"]] == comp.layout.A and start[virtual["R"]] == comp.layout.R
        assert end[virtual[f"S{j}"]] == comp.clone_qubit and end[virtual["R"]] == comp.reference_qubit


@pytest.mark.parametrize("depth", ["linear", "log"])
def test_users_own_circuit_with_measurements(fez, depth):
    # the exported protocol (either encryption variant) inside a user's circuit: |1> on A, clone 2 measured
    n, j = 3, 2
    proto = protocol_to_qiskit(Layout(n), decrypt=j, depth=depth)
    qc = QuantumCircuit(*proto.qregs, ClassicalRegister(1, "m"))
    qc.x(0)
    qc.barrier()
    qc.compose(proto, inplace=True)
    qc.barrier()
    qc.measure(proto.qregs[1][j - 1], 0)
    isa = schedule_pass_manager(fez, n, j).run(qc)
    comp = compile_protocol(fez, n, j, input="1")
    (meas,) = [ins for ins in isa.data if ins.operation.name == "measure"]
    assert isa.find_bit(meas.qubits[0]).index == comp.clone_qubit  # the measurement followed the clone
    assert AerRunner().run([isa], shots=50, seed=1) == [{"1": 50}]  # the decrypted clone is the input
    assert GateStats.of(isa).two_qubit_gates == comp.stats.two_qubit_gates


def test_refuses_what_is_not_the_protocol(fez):
    pm = schedule_pass_manager(fez, 2, 1)
    with pytest.raises(TranspilerError, match="needs registers"):
        pm.run(logical_circuit(3, 1))
    with pytest.raises(TranspilerError, match="no encrypted-cloning protocol"):
        pm.run(logical_circuit(2, 2))  # another decrypted clone
    broken = logical_circuit(2, 1)
    del broken.data[-3]  # drop one gate of the decryption
    with pytest.raises(TranspilerError, match="no encrypted-cloning protocol"):
        pm.run(broken)
    early = logical_circuit(2, 1, input=None)
    pre = QuantumCircuit(*early.qregs)
    pre.x(early.qregs[1][0])  # S1 flipped before the protocol
    with pytest.raises(TranspilerError, match="every pair"):
        pm.run(pre.compose(early))


def test_reference_outside_the_barriers_keeps_its_order(torino):
    # R is Bell-paired with A, the barriers span A, S, N only, then R and the decrypted clone are measured:
    # noiselessly they always agree, wherever the transpiler puts R's gates in topological order
    n, j = 2, 1
    proto = protocol_to_qiskit(Layout(n), decrypt=j)
    a, s, nk = proto.qregs

    r = QuantumRegister(1, "R")
    qc = QuantumCircuit(a, s, nk, r, ClassicalRegister(2, "m"))
    qc.h(r[0])
    qc.cx(r[0], a[0])
    qc.barrier(*a, *s, *nk)
    qc.compose(proto, qubits=[*a, *s, *nk], inplace=True)
    qc.barrier(*a, *s, *nk)
    qc.measure([r[0], s[j - 1]], [0, 1])
    isa = schedule_pass_manager(torino, n, j).run(qc)
    comp = compile_protocol(torino, n, j, input="bell")
    measured = sorted(isa.find_bit(ins.qubits[0]).index for ins in isa.data if ins.operation.name == "measure")
    assert measured == sorted([comp.reference_qubit, comp.clone_qubit])
    counts = AerRunner().run([isa], shots=200, seed=4)[0]
    assert set(counts) <= {"00", "11"} and min(counts.get("00", 0), counts.get("11", 0)) > 50


@pytest.mark.parametrize("n,j", [(20, 7), (63, 63)])
def test_pass_manager_at_large_n(fez, n, j):
    # beyond operators: the same native circuit as qclone's compilation, up to the whole chip
    isa = schedule_pass_manager(fez, n, j).run(logical_circuit(n, j, input="bell"))
    comp = compile_protocol(fez, n, j, input="bell")
    assert isa == comp.circuit and GateStats.of(isa) == comp.stats
    assert isa.metadata["final_physical"][f"S{j}"] == comp.clone_qubit
