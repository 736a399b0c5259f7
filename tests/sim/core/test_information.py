"""Leakage structure from F2 linear algebra, checked against dense mutual information and docs/protocol.md."""

import itertools

import numpy as np
import pytest

from qclone.protocol import Layout, bell_state, protocol_circuit
from qclone.sim.core import CoreState
from qclone.sim.exact import StateVector


def test_bits_equal_dense_mutual_information_on_every_subset():
    """n = 3 and n = 2: every subset of the storage qubits and A (dense I(R : set) vs 2·pairs + dephased)."""
    for n in (2, 3):
        lay = Layout(n, references=1)
        dense = StateVector.from_input(bell_state(0), lay.num_qubits, input_qubits=[lay.A(), lay.R()])
        dense.apply_circuit(protocol_circuit(lay))
        core = CoreState.from_input(lay.num_qubits - 1, np.array([1, 0]), [lay.A()])
        core.apply(protocol_circuit(Layout(n)))
        qubits = list(range(2 * n + 1))
        for size in range(1, len(qubits) + 1):
            for subset in itertools.combinations(qubits, size):
                info = core.information(subset)
                mi = dense.mutual_information([lay.R()], list(subset))
                assert info.bits == pytest.approx(mi, abs=1e-9), subset


@pytest.mark.parametrize("n", [3, 5, 8])
def test_classification_matches_protocol_md_for_characteristic_sets(n):
    lay = Layout(n)
    st = CoreState.from_input(lay.num_qubits, np.array([1, 0]), [lay.A()])
    st.apply(protocol_circuit(lay))
    keys = list(lay.keys)
    assert st.information([lay.S(1)]).kind == "none"
    assert st.information(keys).kind == "none"
    assert st.information([lay.A()]).kind == "none"
    assert st.information([lay.S(2), *keys]).kind == "authorized"
    a_key = st.information([lay.A(), *keys])
    assert a_key.kind == ("authorized" if n % 2 == 0 else "partial")
    # odd n: all signals together, no key (c = 0, s = n odd, t = n): exactly Y leaks
    signals = st.information(list(lay.signals))
    if n % 2:
        assert signals.kind == "partial" and signals.leaked == ("Y",) and signals.bits == 1
    else:
        assert signals.kind == "none"


def test_register_information_adds_up_over_register_qubits():
    lay = Layout(5, qubits=3)
    st = CoreState.from_input(lay.num_qubits, np.eye(8)[0], lay.inputs)
    st.apply(protocol_circuit(lay))
    assert st.information(list(lay.clone(2)) + list(lay.keys)).bits == 6
    assert st.information(list(lay.clone(2)) + list(lay.keys)).kind == "authorized"
    partial = st.information(list(lay.signals))  # n odd: Y of every register qubit
    assert partial.bits == 3 and set(partial.basis) == {"Y__", "_Y_", "__Y"}
    assert st.information([lay.S(1), lay.N(1), *lay.key(2)]).bits == 0
