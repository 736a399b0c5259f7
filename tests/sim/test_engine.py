"""Every engine behind the one interface, against the dense engine (an independent computation)."""

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError, TooLargeError, UnsupportedError
from qclone.protocol import Circuit, Layout, protocol_circuit
from qclone.sim import CORE, DENSE, ENGINES, HEISENBERG, STABILIZER, Engine, SimState, get_engine
from qclone.sim.engine import MAX_HEISENBERG_SET
from qclone.sim.exact import random_density_matrix, random_state

GATES1 = ["H", "S", "S_DAG", "X", "Y", "Z", "SQRT_X", "SQRT_X_DAG"]
GATES2 = ["CX", "CZ", "SWAP"]


def random_clifford(rng, m, gates):
    c = Circuit((("q", m),))
    for _ in range(gates):
        if rng.random() < 0.5:
            c = c.append(str(rng.choice(GATES1)), [int(rng.integers(m))])
        else:
            a, b = rng.choice(m, 2, replace=False)
            c = c.append(str(rng.choice(GATES2)), [int(a), int(b)])
    return c


def test_every_engine_implements_the_interface_and_is_listed_by_name():
    assert set(ENGINES) == {"dense", "core", "heisenberg", "stabilizer"}
    for name, engine in ENGINES.items():
        assert isinstance(engine, Engine) and engine.name == name and get_engine(name) is engine
        assert engine.summary
    with pytest.raises(InvalidArgumentError, match="unknown engine 'exact'; choose one of dense, core"):
        get_engine("exact")


@pytest.mark.parametrize("engine", [CORE, HEISENBERG])
def test_non_stabilizer_inputs_agree_with_the_dense_engine(engine):
    rng = np.random.default_rng(7)
    for trial in range(6):
        m = 6
        inputs = [int(q) for q in rng.choice(m, 2, replace=False)]
        psi = random_state(2, rng)
        first, second = random_clifford(rng, m, 15), random_clifford(rng, m, 15)
        ref = DENSE.prepare(m, psi, inputs)
        st = engine.prepare(m, psi, inputs)
        assert isinstance(st, SimState)
        for eng, s in ((DENSE, ref), (engine, st)):
            eng.apply(s, first)
        twin = engine.copy(st)
        for eng, s in ((DENSE, ref), (engine, st)):
            eng.apply(s, second)
        for qs in ([0], [1, 3], [5, 0, 2], list(range(4))):
            assert np.allclose(st.reduced_density_matrix(qs), ref.reduced_density_matrix(qs), atol=1e-9), (trial, qs)
        assert st.mutual_information([0, 1], [2, 3]) == pytest.approx(ref.mutual_information([0, 1], [2, 3]), abs=1e-9)
        # the copy did not see the second circuit
        dense_twin = DENSE.prepare(m, psi, inputs)
        DENSE.apply(dense_twin, first)
        assert np.allclose(twin.reduced_density_matrix([0, 1]), dense_twin.reduced_density_matrix([0, 1]), atol=1e-9)


@pytest.mark.parametrize("engine", [CORE, HEISENBERG])
def test_mixed_inputs_agree_with_a_purification_on_the_dense_engine(engine):
    rng = np.random.default_rng(2)
    rho = random_density_matrix(1, rng)
    circ = random_clifford(rng, 4, 20)
    st = engine.prepare(4, rho, [1])
    engine.apply(st, circ)
    # the purification's reference is qubit 4, which no gate touches
    w, v = np.linalg.eigh(rho)
    purified = sum(np.sqrt(max(w[i], 0)) * np.kron(v[:, i], np.eye(2)[i]) for i in range(2))
    ref = DENSE.prepare(5, purified, [1, 4])
    DENSE.apply(ref, circ)
    for qs in ([0, 1], [2, 3, 1]):
        assert np.allclose(st.reduced_density_matrix(qs), ref.reduced_density_matrix(qs), atol=1e-9)


def test_stabilizer_engine_takes_stabilizer_inputs_only():
    lay = Layout(3)
    circ = protocol_circuit(lay, decrypt=2)
    plus_i = np.array([1, 1j]) / np.sqrt(2)
    st, ref = STABILIZER.prepare(lay.num_qubits, plus_i, [lay.A()]), DENSE.prepare(lay.num_qubits, plus_i, [lay.A()])
    STABILIZER.apply(st, circ)
    DENSE.apply(ref, circ)
    for qs in ([lay.S(2)], [lay.A(), lay.N(2)], [lay.S(1), lay.S(3), lay.N(1)]):
        assert np.allclose(st.reduced_density_matrix(qs), ref.reduced_density_matrix(qs), atol=1e-9)
    assert STABILIZER.copy(st).entropy([lay.S(1)]) == pytest.approx(1.0)
    with pytest.raises(UnsupportedError, match="stabilizer state"):
        STABILIZER.prepare(3, np.array([0.6, 0.8]), [0])
    with pytest.raises(TooLargeError):
        STABILIZER.prepare(5000, np.array([1, 0]), [0])


def test_heisenberg_engine_at_a_size_no_dense_or_tableau_engine_holds():
    lay = Layout(200_000)
    psi = np.array([0.6, 0.8j])
    st = HEISENBERG.prepare(lay.num_qubits, psi, [lay.A()])
    HEISENBERG.apply(st, protocol_circuit(lay, decrypt=123_457))
    assert np.allclose(st.reduced_density_matrix([lay.S(123_457)]), np.outer(psi, psi.conj()), atol=1e-12)
    assert np.allclose(st.reduced_density_matrix([lay.S(5)]), np.eye(2) / 2, atol=1e-12)
    with pytest.raises(TooLargeError, match=str(MAX_HEISENBERG_SET)):
        st.reduced_density_matrix(list(range(MAX_HEISENBERG_SET + 1)))


def test_core_entropy_of_a_large_set_of_a_pure_state_comes_from_its_complement():
    lay = Layout(20, references=1)
    st = CORE.prepare(lay.num_qubits, np.array([1, 0, 0, 1]) / np.sqrt(2), [lay.A(), lay.R()])
    CORE.apply(st, protocol_circuit(Layout(20), decrypt=4))
    rest = [q for q in range(lay.num_qubits) if q not in (lay.S(4), lay.R())]
    assert st.mutual_information([lay.R()], rest) == pytest.approx(0.0, abs=1e-9)
    assert st.mutual_information([lay.R()], [lay.S(4)]) == pytest.approx(2.0, abs=1e-9)
    st.apply_pauli_channel(lay.S(1), 0.1, 0, 0)  # no longer known to be pure: large sets are refused
    with pytest.raises(TooLargeError):
        st.entropy(rest)


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(InvalidArgumentError):
        HEISENBERG.prepare(3, np.array([1, 1]), [0])
    with pytest.raises(InvalidArgumentError):
        HEISENBERG.prepare(3, np.array([1, 0]), [3])
    with pytest.raises(InvalidArgumentError):
        HEISENBERG.prepare(0, np.array([1.0]), [])
    with pytest.raises(UnsupportedError):
        DENSE.prepare(3, np.eye(2) / 2, [0])
    st = HEISENBERG.prepare(2, np.array([1, 0]), [0])
    with pytest.raises(InvalidArgumentError):
        HEISENBERG.apply(st, protocol_circuit(Layout(2)))
