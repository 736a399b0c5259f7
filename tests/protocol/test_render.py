"""Renderings, checked by other libraries: Qiskit's loaders and simulator, and stim's tableaux."""

import numpy as np
import pytest
import stim
from hypothesis import given
from hypothesis import strategies as st
from qiskit import qasm2, qasm3
from qiskit.quantum_info import Operator, Statevector, partial_trace

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import (
    Layout,
    encryption,
    from_qasm,
    protocol_circuit,
    render,
    to_qasm2,
    to_qasm3,
    to_qiskit,
    to_stim,
)
from qclone.protocol.render import QASM2_REGISTER_NAMES, QasmBudget, check_qasm
from qclone.sim.exact import (
    StateVector,
    circuit_unitary,
    equal_up_to_global_phase,
    random_state,
)


def to_qiskit_order(vec: np.ndarray, m: int) -> np.ndarray:
    """Our qubit 0 is the most significant bit; Qiskit's is the least."""
    return np.asarray(vec).reshape((2,) * m).transpose(list(range(m))[::-1]).ravel()


def test_qiskit_registers_are_named_a_s_n():
    qc = to_qiskit(protocol_circuit(Layout(3, references=1), decrypt=2))
    assert [(r.name, r.size) for r in qc.qregs] == [("A", 1), ("S", 3), ("N", 3), ("R", 1)]
    assert qc.num_nonlocal_gates() == 7 * 3 + 1


def test_qasm2_renames_registers_predictably():
    text = to_qasm2(protocol_circuit(Layout(2)))
    for name, new in QASM2_REGISTER_NAMES.items():
        if name != "R":
            assert f"qreg {new}[" in text
    loaded = qasm2.loads(text)
    assert [r.name for r in loaded.qregs] == ["reg_A", "reg_S", "reg_N"]
    assert "qubit[2] S;" in to_qasm3(protocol_circuit(Layout(2)))
    for text in (to_qasm2(protocol_circuit(Layout(2))), to_qasm3(protocol_circuit(Layout(2)))):
        assert [r.name for r in from_qasm(text).qregs] == ["A", "S", "N"]
    with pytest.raises(InvalidArgumentError):
        from_qasm("OPENQASM 2.0; qreg q[1]; frobnicate q[0];")


@given(n=st.integers(1, 5), data=st.data())
def test_exported_qasm_reimported_and_simulated_by_qiskit_agrees_with_exact_engine(n, data):
    lay = Layout(n)
    target = data.draw(st.sampled_from(list(range(1, n + 1)) + (["A"] if n % 2 == 0 else [])))
    depth = data.draw(st.sampled_from(["linear", "log"]))
    psi = random_state(1, np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))))
    circ = protocol_circuit(lay, decrypt=target, depth=depth)

    ours = StateVector.from_input(psi, lay.num_qubits)
    ours.apply_circuit(circ)
    expected = to_qiskit_order(ours.vector, lay.num_qubits)

    initial = Statevector(to_qiskit_order(StateVector.from_input(psi, lay.num_qubits).vector, lay.num_qubits))
    for loaded in (qasm2.loads(to_qasm2(circ)), qasm3.loads(to_qasm3(circ))):
        out = initial.evolve(loaded)
        assert abs(np.vdot(out.data, expected)) == pytest.approx(1, abs=1e-9)
        # and the decrypted state sits where the docs say it does
        keep = lay.output_qubit(target)
        reduced = partial_trace(out, [q for q in range(lay.num_qubits) if q != keep]).data
        assert np.real(np.vdot(psi, reduced @ psi)) == pytest.approx(1, abs=1e-9)


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("depth", ["linear", "log"])
def test_stim_rendering_has_the_same_unitary(n, depth):
    circ = protocol_circuit(Layout(n), decrypt=n, depth=depth)
    m = circ.num_qubits
    # stim computes the unitary from its own tableau (an independent library)
    stim_u = stim.Tableau.from_circuit(to_stim(circ)).to_unitary_matrix(endian="big")
    assert equal_up_to_global_phase(stim_u, circuit_unitary(circ, range(m)))
    qiskit_u = Operator(to_qiskit(circ)).data
    # Qiskit is little-endian: reverse the qubit order before comparing
    perm = to_qiskit_order(np.arange(2**m), m)
    assert equal_up_to_global_phase(qiskit_u[np.ix_(perm, perm)], stim_u)


def test_render_formats():
    circ = encryption(Layout(2))
    assert render(circ, "stim").startswith("CX 0 1 1 2")
    assert render(circ, "qasm3").startswith("OPENQASM 3")
    assert "A:" in render(circ, "text") or "A" in render(circ, "text")
    with pytest.raises(InvalidArgumentError):
        render(circ, "pdf")


def test_stim_text_for_a_large_circuit_is_bulk():
    c = to_stim(protocol_circuit(Layout(20000), decrypt=7))
    assert len(c) < 20
    assert c.num_qubits == 40001


# ---------------------------------------------------------------------- the loader's budget
def _nested_gates(depth: int, version: int = 2) -> str:
    """Each gate calls the previous one twice: 2^depth operations from a few hundred bytes."""
    head = 'OPENQASM 2.0; include "qelib1.inc";' if version == 2 else 'OPENQASM 3.0; include "stdgates.inc";'
    defs = "gate g0 a { h a; }\n" + "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, depth + 1))
    reg = "qreg q[1];" if version == 2 else "qubit[1] q;"
    return f"{head}\n{defs}{reg} g{depth} q[0];"


@pytest.mark.parametrize("version", [2, 3])
def test_include_names_the_standard_header_only_never_a_file(tmp_path, version):
    secret = tmp_path / "token"
    secret.write_text("Qsecret-token-value more\n")
    header = 'OPENQASM 2.0; include "{}"; qreg q[1];' if version == 2 else 'OPENQASM 3.0; include "{}"; qubit[1] q;'
    messages = set()
    for target in (str(secret), str(tmp_path / "missing"), "../../etc/passwd", "qelib1.inc/../x", secret.name):
        with pytest.raises(InvalidArgumentError) as info:
            from_qasm(header.format(target))
        assert "secret" not in str(info.value) and "Qsecret" not in str(info.value)
        messages.add(str(info.value).replace(target, "X"))
    assert len(messages) == 1  # an existing and a missing path answer alike
    wrong = "stdgates.inc" if version == 2 else "qelib1.inc"
    with pytest.raises(InvalidArgumentError, match="include"):
        from_qasm(header.format(wrong))


def test_loader_errors_give_a_position_never_the_loaders_text():
    with pytest.raises(InvalidArgumentError) as info:
        from_qasm('OPENQASM 2.0; include "qelib1.inc"; qreg q[1];\nfrobnicate q[0];')
    assert str(info.value) == "not a valid OpenQASM 2 program (near line 2, column 1)"


@pytest.mark.parametrize("version", [2, 3])
def test_nested_gate_definitions_cost_two_to_the_depth(version):
    assert check_qasm(_nested_gates(10, version), QasmBudget(operations=1024)) == version
    with pytest.raises(TooLargeError, match="more than 1023 operations"):
        check_qasm(_nested_gates(10, version), QasmBudget(operations=1023))
    with pytest.raises(TooLargeError):
        from_qasm(_nested_gates(24, version))  # 16.7 M > the default 10 M


@pytest.mark.parametrize(
    ("text", "budget", "words"),
    [
        ('OPENQASM 2.0; include "qelib1.inc"; qreg q[99999999999999999999];', QasmBudget(), "qubits"),
        ('OPENQASM 2.0; include "qelib1.inc"; qreg q[8]; creg c[2000];', QasmBudget(bits=1000), "classical bits"),
        ('OPENQASM 3.0; include "stdgates.inc"; qubit[3] q; bit[5] c;', QasmBudget(bits=4), "classical bits"),
        ('OPENQASM 2.0; include "qelib1.inc"; qreg q[5]; h q; h q;', QasmBudget(operations=9), "operations"),
        ('OPENQASM 3.0; include "stdgates.inc"; qubit q; for int i in [0:99] { x q; }', QasmBudget(operations=99),
         "operations"),
        ("OPENQASM 3.0; qubit q; rx(" + "(" * 100 + "1" + ")" * 100 + ") q;", QasmBudget(nesting=50), "nest"),
        ("OPENQASM 2.0; qreg q[1];" + " " * 100, QasmBudget(chars=100), "characters"),
    ],
)
def test_budgets_refuse_before_loading(text, budget, words):
    with pytest.raises(TooLargeError, match=words):
        check_qasm(text, budget)


def test_register_sizes_must_be_literals():
    with pytest.raises(InvalidArgumentError, match="integer literal"):
        check_qasm('OPENQASM 3.0; include "stdgates.inc"; const int n = 4; qubit[n] q;')


def test_the_protocols_own_circuits_pass_the_default_budget():
    circ = protocol_circuit(Layout(6, references=1), decrypt=3)
    for text in (to_qasm2(circ), to_qasm3(circ)):
        assert from_qasm(text).num_qubits == to_qiskit(circ).num_qubits
