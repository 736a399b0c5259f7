"""Qiskit's qubit order at the storage service's surface: what goes in (state vectors, density
matrices, OpenQASM) and what comes out (density matrices, per-qubit Bloch vectors, samples and
peeks), checked against ``qiskit.quantum_info``; and objects stored while the inputs were read
with the first qubit as the most significant bit keep their meaning."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.quantum_info import DensityMatrix, Statevector, random_density_matrix

from qclone.storage.inputs import parse_state

from .conftest import Stack
from .reference import qiskit_bloch

FIXTURE = Path(__file__).parent / "fixtures" / "datadir-msb.tar.gz"


def test_a_label_goes_in_and_comes_out_in_qiskits_order(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    sv = Statevector.from_label("01")  # qubit 0 is |1>, qubit 1 is |0>
    qc = QuantumCircuit(2)
    qc.x(0)
    for name, state in (("sv", parse_state("statevector", sv.data)), ("qasm", parse_state("qasm", qasm3.dumps(qc))),
                        ("rho", parse_state("density", DensityMatrix(sv).data))):
        svc.put(alice, name, state, keep_reference=True)
        out = svc.get(alice, name, basis="Z", shots=20, seed=1, ack=True)
        np.testing.assert_allclose(out["bloch"], [[0, 0, -1], [0, 0, 1]], atol=1e-9)
        np.testing.assert_allclose(out["density_matrix"], DensityMatrix(sv).data, atol=1e-9)
        assert set(out["samples"]) == {"01"}  # the rightmost character is qubit 0
        assert out["fidelity"] == pytest.approx(1, abs=1e-9)


def test_an_asymmetric_mixed_state_round_trips(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    rho = random_density_matrix(8, seed=11)
    svc.put(alice, "r3", parse_state("density", rho.data), keep_reference=True)
    out = svc.get(alice, "r3", ack=True)
    np.testing.assert_allclose(out["density_matrix"], rho.data, atol=1e-9)
    np.testing.assert_allclose(out["bloch"], qiskit_bloch(rho), atol=1e-9)
    assert out["fidelity"] == pytest.approx(1, abs=1e-9)


def test_x_basis_samples_are_qiskit_bitstrings(stack: Stack) -> None:
    """|+> on qubit 0, |-> on qubit 2, |0> on qubit 1: in the X basis always '100'."""
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.x(2)
    qc.h(2)
    stack.service.put(stack.alice, "x3", parse_state("statevector", Statevector(qc).data))
    out = stack.service.get(stack.alice, "x3", basis="X", shots=200, seed=5, ack=True)
    assert {s[0] for s in out["samples"]} == {"1"} and {s[2] for s in out["samples"]} == {"0"}
    assert {s[1] for s in out["samples"]} == {"0", "1"}  # qubit 1 is |0>: uniform in X


def test_peek_labels_index_the_qubits_of_its_density_matrix(stack: Stack) -> None:
    """For n = 1 a clone holds the state (with force): labels[i] is bit i of the peeked matrix."""
    sv = Statevector.from_label("0r")  # qubit 0 |+i> (Y = 1), qubit 1 |0> (Y = 0)
    placed = stack.service.put(stack.alice, "p", parse_state("statevector", sv.data), clones=1, force=True)
    holder = placed["placement"][0]["provider"]
    seen = stack.service.peek(stack.alice, "p", holder)
    assert seen["labels"] == ["S0_1", "S1_1"]
    # one clone alone: every register qubit's X and Z are hidden, Y survives (the lone-clone leak)
    assert [abs(b[1]) for b in seen["bloch"]] == pytest.approx([1, 0], abs=1e-9)
    np.testing.assert_allclose(qiskit_bloch(DensityMatrix(seen["density_matrix"])), seen["bloch"], atol=1e-9)


def test_objects_stored_before_the_change_keep_their_meaning(tmp_path: Path) -> None:
    """``fixtures/datadir-msb.tar.gz`` was written when the inputs read the first qubit as the most
    significant bit (``fixtures/make_datadir_msb.py``): its joint states and its pending output
    give the states that were meant then, now in Qiskit's order."""
    from qclone.storage.server import ServeOptions, build_service

    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    svc = build_service(ServeOptions(data_dir=tmp_path, settable_clock=True).checked())
    try:
        tenant = svc.authenticate((tmp_path / "token").read_text().strip())
        plus = Statevector.from_label("+")
        one = Statevector.from_label("1")
        zero = Statevector.from_label("0")
        # what each object meant (qubit A0 first in the tensor product) as Qiskit objects: tensor() puts
        # its argument on the low qubits, so A1.tensor(A0) has A0 as qubit 0
        meant = {
            "sv": DensityMatrix(one.tensor(zero)),  # A0 = |0>, A1 = |1>
            "rho": DensityMatrix(np.diag([0.2, 0.8])).tensor(DensityMatrix(plus)),  # A0 = |+>, A1 = 0.2|0><0| + 0.8|1><1|
            "pending": DensityMatrix(zero.tensor(plus).tensor(one)),  # A0 = |1>, A1 = |+>, A2 = |0>
        }
        for name, rho in meant.items():
            out = svc.get(tenant, name, basis="Z", shots=50, seed=2, ack=True)
            np.testing.assert_allclose(out["density_matrix"], rho.data, atol=1e-9)
            np.testing.assert_allclose(out["bloch"], qiskit_bloch(rho), atol=1e-9)
            assert out["fidelity"] == pytest.approx(1, abs=1e-9)
            counts = rho.probabilities_dict()
            assert set(out["samples"]) <= {s for s, p in counts.items() if p > 1e-12}
    finally:
        svc.db.dispose()


def test_the_node_codec_converts_once() -> None:
    """A state sent to a substrate node (the multi-process deployment) travels in the wire format
    and is parsed again there: the round trip is the identity, with no second reordering."""
    import json

    from qclone.storage.rpc.codec import decode_state, encode_state

    for state in (parse_state("statevector", Statevector.from_label("01+").data),
                  parse_state("density", random_density_matrix(8, seed=3).data)):
        back = decode_state(json.loads(json.dumps(encode_state(state))))
        np.testing.assert_allclose(back.density, state.density, atol=1e-12)
        np.testing.assert_allclose(back.engine_state, state.engine_state, atol=1e-12)
        assert back.pure == state.pure
