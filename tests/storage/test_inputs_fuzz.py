"""Hostile inputs: every input format fuzzed (arbitrary, deeply nested and huge values), the
OpenQASM parser bombs, and the preparation simulator checked against Qiskit's Statevector."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Statevector

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.storage.inputs import (
    KINDS,
    MAX_QUBITS,
    InputState,
    check_name,
    parse_state,
    prepared_state,
)

REFUSED = (InvalidArgumentError, TooLargeError)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.sampled_from(["real", "imag", "kind", "data", "x"]),
                                                                inner, max_size=3),
    max_leaves=40,
)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-3, 3)
arrays = st.recursive(st.lists(numbers, max_size=9), lambda inner: st.lists(inner, max_size=5), max_leaves=80)


def _accepts_or_refuses(kind: str, data: object) -> None:
    """Either a valid state (the documented invariants hold) or a 422-class refusal, nothing else."""
    try:
        state = parse_state(kind, data)
    except REFUSED:
        return
    assert isinstance(state, InputState) and 1 <= state.qubits <= MAX_QUBITS
    rho = state.density
    assert rho.shape == (2 ** state.qubits,) * 2
    assert np.allclose(rho, rho.conj().T, atol=1e-9) and abs(np.trace(rho) - 1) < 1e-9
    assert np.linalg.eigvalsh(rho).min() > -1e-9


@FUZZ
@given(kind=st.sampled_from(KINDS), data=json_values)
def test_any_json_value_of_any_kind(kind, data):
    _accepts_or_refuses(kind, data)


@FUZZ
@given(kind=st.sampled_from(["bloch", "statevector", "density"]), data=arrays)
def test_nested_numeric_lists(kind, data):
    _accepts_or_refuses(kind, data)


@FUZZ
@given(kind=st.sampled_from(["bloch", "statevector", "density"]), real=arrays, imag=arrays)
def test_complex_arrays(kind, real, imag):
    _accepts_or_refuses(kind, {"real": real, "imag": imag})


@FUZZ
@given(kind=st.one_of(st.text(max_size=10), st.integers(), st.none(), st.lists(st.integers(), max_size=2)))
def test_unknown_kinds(kind):
    if kind in KINDS:
        return
    with pytest.raises(InvalidArgumentError, match="unknown state kind"):
        parse_state(kind, [1, 0])


_QASM_WORDS = ["OPENQASM 2.0;", "OPENQASM 3.0;", 'include "qelib1.inc";', 'include "stdgates.inc";', 'include "/etc/hosts";',
               "qreg q[2];", "qubit[3] r;", "creg c[1];", "gate g a { h a; }", "gate f a, b { g a; cx a, b; }",
               "h q[0];", "cx q[0], q[1];", "g q;", "f q[0], q[1];", "rx(pi/3) q[1];", "u(0.1, 0.2, 0.3) q[0];",
               "measure q[0] -> c[0];", "reset q;", "barrier q;", "for int i in [0:3] {", "}", "{", "(", ")", "[", "]",
               "if (c == 1)", "ctrl @", "inv @", "pow(2) @", "x r;", "h r[0:1];", "//", "/*", "*/", ";", "q", "1e308"]


@FUZZ
@given(words=st.lists(st.sampled_from(_QASM_WORDS), max_size=25))
def test_qasm_token_soup(words):
    _accepts_or_refuses("qasm", " ".join(words))


@FUZZ
@given(text=st.text(max_size=300))
def test_qasm_arbitrary_text(text):
    _accepts_or_refuses("qasm", text)
    _accepts_or_refuses("qasm", 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; ' + text)


# ---------------------------------------------------------------------- deep and huge
@pytest.mark.parametrize("kind", ["bloch", "statevector", "density"])
def test_deeply_nested_lists(kind):
    deep: list = [1.0]
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidArgumentError):
        parse_state(kind, deep)
    with pytest.raises(InvalidArgumentError):
        parse_state(kind, {"real": deep, "imag": deep})


@pytest.mark.parametrize("kind", ["statevector", "density"])
def test_huge_arrays_are_refused_before_conversion(kind):
    huge = [0.0] * (2 ** 22)
    start = time.process_time()
    with pytest.raises(TooLargeError, match=f"at most {MAX_QUBITS} qubits"):
        parse_state(kind, huge)
    with pytest.raises(TooLargeError):
        parse_state(kind, {"real": huge, "imag": [0.0]})
    assert time.process_time() - start < 1.0


def _nested_gates(depth: int) -> str:
    defs = "gate g0 a { h a; }\n" + "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, depth + 1))
    return f'OPENQASM 2.0; include "qelib1.inc";\n{defs}qreg q[1]; g{depth} q[0];'


@pytest.mark.parametrize("depth", [12, 24, 200])
def test_nested_gate_bomb_is_refused_fast(depth):
    start = time.process_time()
    with pytest.raises(TooLargeError, match="operations"):
        parse_state("qasm", _nested_gates(depth))
    assert time.process_time() - start < 1.0  # the attack took 16 s of CPU at depth 12


def test_nested_gates_within_budget_are_simulated_exactly():
    st_ = parse_state("qasm", _nested_gates(11))  # 2048 Hadamards: the identity
    np.testing.assert_allclose(st_.vector, [1, 0], atol=1e-9)


@pytest.mark.parametrize("text", [
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[100000000];',
    'OPENQASM 3.0; include "stdgates.inc"; qubit[99999999999999999999] q;',
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; creg c[100000000];',
    'OPENQASM 3.0; include "stdgates.inc"; qubit q; rx(' + "(" * 5000 + "1" + ")" * 5000 + ") q;",
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[8];' + " h q;" * 20_000,
])
def test_huge_registers_programs_and_nesting(text):
    start = time.process_time()
    with pytest.raises(TooLargeError):
        parse_state("qasm", text)
    assert time.process_time() - start < 1.0


def test_include_of_the_token_file_quotes_nothing(tmp_path):
    token = tmp_path / "token"
    token.write_text("Qtenant.secret-token\n")
    for prog in (f'OPENQASM 2.0; include "{token}"; qreg q[1];', f'OPENQASM 3.0; include "{token}"; qubit q;'):
        with pytest.raises(InvalidArgumentError) as info:
            parse_state("qasm", prog)
        assert "secret" not in str(info.value) and "Qtenant" not in str(info.value)


def test_json_round_trip_of_refusals_is_plain_text():
    """Refusal messages are JSON-safe text (they end up in the gateway's error body)."""
    with pytest.raises(REFUSED) as info:
        parse_state("statevector", {"real": [1e308, 1e308], "imag": [0, 0]})
    json.dumps(str(info.value))


# ---------------------------------------------------------------------- the simulator vs Qiskit
@settings(max_examples=40, deadline=None)
@given(qubits=st.integers(1, 5), depth=st.integers(0, 8), seed=st.integers(0, 2 ** 31 - 1))
def test_prepared_state_agrees_with_qiskit_statevector(qubits, depth, seed):
    qc = random_circuit(qubits, depth, max_operands=3, seed=seed)
    expected = Statevector(qc).data  # Qiskit's order, as the storage inputs take it
    np.testing.assert_allclose(prepared_state(qc), expected, atol=1e-9)


@pytest.mark.parametrize("version", [2, 3])
def test_custom_gates_with_parameters_agree_with_qiskit(version):
    qc = QuantumCircuit(3)
    sub = QuantumCircuit(2, name="sub")
    sub.ry(0.3, 0)
    sub.cx(0, 1)
    sub.rz(-0.7, 1)
    top = QuantumCircuit(3, name="top")
    top.append(sub.to_gate(), [2, 0])
    top.h(1)
    top.append(sub.to_gate(), [1, 2])
    qc.x(0)
    qc.append(top.to_gate(), [0, 1, 2])
    qc.append(top.to_gate().inverse(), [2, 1, 0])
    qc.append(sub.to_gate(), [0, 2])
    text = qasm2.dumps(qc) if version == 2 else qasm3.dumps(qc)
    expected = Statevector(qc).data
    np.testing.assert_allclose(parse_state("qasm", text).vector, expected, atol=1e-9)


# ---------------------------------------------------------------------- names
@FUZZ
@given(name=st.text(max_size=300) | st.from_regex(r"[\w\-. ]{0,20}[\u0000-\u001f\u200b-\u200f\u202a-\u202e\u2066-\u2069]",
                                                  fullmatch=True))
def test_names_are_accepted_as_given_or_refused(name):
    import unicodedata

    try:
        accepted = check_name(name)
    except InvalidArgumentError:
        return
    assert accepted is name  # never rewritten
    assert 1 <= len(name) <= 255 and unicodedata.is_normalized("NFC", name) and name == name.strip()
    assert not any(unicodedata.category(ch).startswith("C") for ch in name) and "/" not in name


@pytest.mark.parametrize("name", ["a\u202eb", "a\u2066b", "a\u200bb", "a\u0000b", "a\nb", "a\x7fb", "e\u0301", " a",
                                  "a ", "", "x" * 256, "\ud800", 42, None, "a/b", "/", "a/"])
def test_bad_names(name):
    with pytest.raises(InvalidArgumentError):
        check_name(name)


@pytest.mark.parametrize("name", ["a", "bell pair", "\u00e9t\u00e9", "\u03c8-\u2080", "x" * 255, "a.b-c_d", "\U0001f600"])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("version", [2, 3])
def test_a_generic_eight_qubit_preparation_fits_the_budget(version):
    """Qiskit's own preparation of a random 8-qubit state, in u and cx, is accepted and exact."""
    from qiskit import transpile
    from qiskit.quantum_info import random_statevector

    target = random_statevector(256, seed=5)
    qc = QuantumCircuit(8)
    qc.initialize(target.data, range(8))
    flat = transpile(qc.decompose(reps=3), basis_gates=["u", "cx"], optimization_level=0)
    gates = QuantumCircuit(8)
    for ins in flat.data:
        if ins.operation.name not in ("reset", "barrier"):
            gates.append(ins)
    text = qasm2.dumps(gates) if version == 2 else qasm3.dumps(gates)
    start = time.process_time()
    st_ = parse_state("qasm", text)
    assert time.process_time() - start < 1.0
    assert abs(np.vdot(st_.vector, target.data)) == pytest.approx(1, abs=1e-9)


def test_long_openqasm3_programs_are_refused_before_the_slow_loader():
    text = 'OPENQASM 3.0; include "stdgates.inc"; qubit q; rx(' + "+".join(["1"] * 20_000) + ") q;"
    start = time.process_time()
    with pytest.raises(TooLargeError, match="tokens"):
        parse_state("qasm", text)
    assert time.process_time() - start < 1.0
