"""The exported QuantumCircuit: stage barriers that change nothing, metadata that rebuilds it."""

import io

import pytest
from qiskit import qpy
from qiskit.quantum_info import Operator
from qiskit.transpiler.passes import RemoveBarriers

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import STAGES, Layout, protocol_circuit, protocol_to_qiskit, to_qiskit, two_qubit_gate_count

CASES = [
    (Layout(1), 1, "linear"),
    (Layout(2), "A", "log"),
    (Layout(3, references=1), 2, "linear"),
    (Layout(4), 4, "log"),
    (Layout(2, qubits=2), 1, "linear"),
    (Layout(3), None, "log"),
]


@pytest.mark.parametrize("layout,decrypt,depth", CASES)
def test_barriers_do_not_change_the_unitary(layout, decrypt, depth):
    qc = protocol_to_qiskit(layout, decrypt=decrypt, depth=depth)
    bare = RemoveBarriers()(qc)
    assert "barrier" not in bare.count_ops()
    assert Operator(qc).equiv(Operator(bare))
    # and it is the protocol's own circuit, as the plain export gives it
    assert Operator(qc) == Operator(to_qiskit(protocol_circuit(layout, decrypt=decrypt, depth=depth)))
    assert [r.name for r in qc.qregs] == [name for name, size in layout.registers if size > 0]


@pytest.mark.parametrize("layout,decrypt,depth", CASES)
def test_stages_between_the_barriers(layout, decrypt, depth):
    qc = protocol_to_qiskit(layout, decrypt=decrypt, depth=depth)
    stages, current = [], []
    for ins in qc.data:
        if ins.operation.name == "barrier":
            assert len(ins.qubits) == qc.num_qubits  # a barrier over the whole circuit
            stages.append(current)
            current = []
        else:
            current.append(ins)
    stages.append(current)
    assert len(stages) == (2 if decrypt is None else 3)
    two_q = [sum(1 for ins in st if ins.operation.num_qubits == 2) for st in stages]
    n, k = layout.clones, layout.qubits
    assert two_q[0] == n * k  # one CNOT per Bell pair
    assert two_q[0] + two_q[1] == two_qubit_gate_count(layout)
    assert sum(two_q) == two_qubit_gate_count(layout, decrypt=decrypt)
    # the Bell-pair stage touches only S and N; the encryption never touches a key qubit N
    inputs = {qc.find_bit(q).index for q in qc.qregs[0]}
    keys = {qc.find_bit(q).index for q in qc.qregs[2]}
    assert not any(qc.find_bit(q).index in inputs for ins in stages[0] for q in ins.qubits)
    assert not any(qc.find_bit(q).index in keys for ins in stages[1] for q in ins.qubits)


@pytest.mark.parametrize("layout,decrypt,depth", CASES)
def test_metadata_round_trips(layout, decrypt, depth):
    qc = protocol_to_qiskit(layout, decrypt=decrypt, depth=depth)
    md = qc.metadata
    assert (md["n"], md["k"], md["references"], md["decrypt"], md["depth"]) == (
        layout.clones, layout.qubits, layout.references, decrypt, depth)
    assert md["stages"] == list(STAGES[: 2 if decrypt is None else 3])
    again = protocol_to_qiskit(Layout(md["n"], qubits=md["k"], references=md["references"]), decrypt=md["decrypt"],
                               depth=md["depth"])  # fmt: skip
    assert again == qc and again.metadata == md
    buf = io.BytesIO()
    qpy.dump(qc, buf)
    buf.seek(0)
    (loaded,) = qpy.load(buf)
    assert loaded.metadata == md and loaded.count_ops().get("barrier") == qc.count_ops().get("barrier")
    assert Operator(loaded) == Operator(qc)


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError):
        protocol_to_qiskit(Layout(2), decrypt=3)
    with pytest.raises(InvalidArgumentError):
        protocol_to_qiskit(Layout(2), depth="tree")
    with pytest.raises(UnsupportedError):
        protocol_to_qiskit(Layout(3), decrypt="A")  # A is decryptable for even n only
