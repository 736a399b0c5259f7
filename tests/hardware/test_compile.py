import pytest

from qclone.errors import InvalidArgumentError
from qclone.hardware.check import check_compiled
from qclone.hardware.compile import compile_protocol, logical_circuit, qiskit_baseline


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_compiled_device_circuits_leave_the_textbook_state(fez, torino, n):
    for backend in (fez, torino):
        comp = compile_protocol(backend, n, decrypt=min(2, n), input="bell")
        assert set(comp.circuit.count_ops()) <= {"cz", "rz", "sx", "x", "barrier"}
        assert check_compiled(comp)


def test_never_worse_than_qiskit_level_3(fez, torino):
    for backend in (fez, torino):
        for n in (1, 2, 3, 5, 8):
            ours = compile_protocol(backend, n, input="bell").stats
            for seed in (0, 1):
                q = qiskit_baseline(backend, n, input="bell", seed=seed)
                assert ours.two_qubit_gates <= q.two_qubit_gates
                assert ours.two_qubit_depth <= q.two_qubit_depth
                assert ours.depth <= q.depth


def test_at_least_30_percent_fewer_two_qubit_gates_at_n_20(fez):
    ours = compile_protocol(fez, 20, input="bell").stats
    q = qiskit_baseline(fez, 20, input="bell", seed=0)
    assert ours.two_qubit_gates <= 0.7 * q.two_qubit_gates


def test_logical_circuit_is_the_textbook_one():
    qc = logical_circuit(3, 2, input="bell")
    assert [r.name for r in qc.qregs] == ["A", "S", "N", "R"]
    assert qc.num_nonlocal_gates() == 1 + 7 * 3 + 1


def test_bad_input(fez):
    with pytest.raises(InvalidArgumentError):
        compile_protocol(fez, 2, input="+z")
