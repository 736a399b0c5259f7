"""CoreState against independent computations: the dense engine, stim's own simulator, the protocol facts of docs/protocol.md."""

import numpy as np
import pytest
import stim

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Circuit, Layout, decryption, protocol_circuit, to_stim
from qclone.protocol.build import clone_decryption
from qclone.sim.core import MAX_CORE_QUBITS, CoreState
from qclone.sim.exact import (
    GATE_MATRICES,
    DensityMatrix,
    fidelity,
    pauli_matrix,
    purification,
    random_density_matrix,
    random_state,
)

GATES1 = ["H", "S", "S_DAG", "X", "Y", "Z", "SQRT_X", "SQRT_X_DAG"]
GATES2 = ["CX", "CZ", "SWAP"]


def random_circuit(rng, m, gates):
    c = Circuit((("q", m),))
    for _ in range(gates):
        if m < 2 or rng.random() < 0.5:
            c = c.append(str(rng.choice(GATES1)), [int(rng.integers(m))])
        else:
            a, b = rng.choice(m, 2, replace=False)
            c = c.append(str(rng.choice(GATES2)), [int(a), int(b)])
    return c


def dense_input(rho_in, core, m):
    """ρ_in on qubits ``core`` (in order), |0⟩ elsewhere, as an m-qubit density matrix."""
    zero = np.zeros((2 ** (m - len(core)),) * 2)
    zero[0, 0] = 1
    full = np.kron(rho_in, zero)
    order = list(core) + [q for q in range(m) if q not in core]
    inv = [order.index(q) for q in range(m)]
    t = full.reshape((2,) * (2 * m)).transpose(inv + [x + m for x in inv])
    return t.reshape(2**m, 2**m)


def pauli_dense(m, text):
    ps = stim.PauliString(text)
    letters = str(ps)[1:].replace("_", "I") + "I" * (m - len(ps))
    return ps.sign.real * pauli_matrix(letters)


def run_against_dense(seed, m, k, mixed, steps=14):
    """Random gates, Pauli noise, expectations, measurements and reduced states, step by step."""
    rng = np.random.default_rng(seed)
    core = [int(q) for q in rng.choice(m, k, replace=False)]
    inp = random_density_matrix(k, rng) if mixed else random_state(k, rng)
    st = CoreState.from_input(m, inp, core)
    dm = DensityMatrix(dense_input(inp if mixed else np.outer(inp, inp.conj()), core, m))
    rho = dm.matrix
    for _ in range(steps):
        op = int(rng.integers(4))
        if op == 0:
            c = random_circuit(rng, m, int(rng.integers(1, 8)))
            st.apply(c)
            dm = DensityMatrix.__new__(DensityMatrix)
            dm.num_qubits, dm.tensor = m, rho.reshape((2,) * (2 * m))
            dm.apply_circuit(c)
            rho = dm.matrix
        elif op == 1:
            q = int(rng.integers(m))
            px, py, pz = rng.dirichlet([1, 1, 1, 1])[1:] * rng.random()
            st.apply_pauli_channel(q, px, py, pz)
            dm = DensityMatrix.__new__(DensityMatrix)
            dm.num_qubits, dm.tensor = m, rho.reshape((2,) * (2 * m))
            dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [q])
            rho = dm.matrix
        elif op == 2:
            qs = rng.choice(m, int(rng.integers(1, min(m, 3) + 1)), replace=False)
            text = ("-" if rng.random() < 0.3 else "") + "*".join(f"{'XYZ'[rng.integers(3)]}{q}" for q in qs)
            p = pauli_dense(m, text)
            assert st.expectation(text) == pytest.approx(np.trace(rho @ p).real, abs=1e-9)
            outcome = st.measure_pauli(text, rng)
            proj = (np.eye(2**m) + outcome * p) / 2
            prob = np.trace(proj @ rho).real
            assert prob > 1e-9, "sampled an impossible outcome"
            rho = proj @ rho @ proj / prob
        else:
            qs = [int(x) for x in rng.choice(m, int(rng.integers(1, min(m, 4) + 1)), replace=False)]
            assert np.allclose(st.reduced_density_matrix(qs), _dm(rho, m).reduced_density_matrix(qs), atol=1e-9)
    assert np.allclose(st.reduced_density_matrix(list(range(m))), rho, atol=1e-9)
    back = CoreState.from_bytes(st.to_bytes())
    assert np.allclose(back.reduced_density_matrix(list(range(m))), rho, atol=1e-9)
    return st


def _dm(rho, m):
    dm = DensityMatrix.__new__(DensityMatrix)
    dm.num_qubits, dm.tensor = m, rho.reshape((2,) * (2 * m))
    return dm


@pytest.mark.parametrize("seed", range(24))
def test_random_programs_agree_with_the_dense_engine(seed):
    """Gates, exact Pauli noise, Pauli measurements (probabilities and post-measurement states), RDMs."""
    st = run_against_dense(seed, m=3 + seed % 4, k=seed % 4, mixed=bool(seed % 2))
    assert st.num_terms >= 1


def test_noise_correlated_with_a_measurement_splits_terms_exactly():
    """Noise on a core qubit, then a core measurement that anticommutes with it: two exact terms."""
    rng = np.random.default_rng(0)
    psi = random_state(2, rng)
    st = CoreState.from_input(3, psi, [0, 1])
    st.apply(Circuit((("q", 3),)).append("H", [2]).append("CZ", [2, 1]))
    st.apply_pauli_channel(1, 0.2, 0.05, 0.1)
    dm = _dm(dense_input(np.outer(psi, psi.conj()), [0, 1], 3), 3)
    dm.apply_circuit(Circuit((("q", 3),)).append("H", [2]).append("CZ", [2, 1]))
    dm.apply_pauli_channel({"X": 0.2, "Y": 0.05, "Z": 0.1}, [1])
    rho = dm.matrix
    out = st.measure_pauli("Z0*Z1", rng)
    proj = (np.eye(8) + out * pauli_dense(3, "Z0*Z1")) / 2
    rho = proj @ rho @ proj / np.trace(proj @ rho).real
    assert st.num_terms == 2
    assert np.allclose(st.reduced_density_matrix([0, 1, 2]), rho, atol=1e-12)
    for text in ("X0*X1", "Y1*X2", "Z0"):
        assert st.expectation(text) == pytest.approx(np.trace(rho @ pauli_dense(3, text)).real, abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_register_entanglement_is_restored_on_every_clone(k):
    """Must-show 1 on the core engine: GHZ and random states of (register, R), every clone j, with n = 2 and 33."""
    rng = np.random.default_rng(k)
    ghz = np.zeros(2 ** (k + 1))
    ghz[0] = ghz[-1] = 1 / np.sqrt(2)
    inputs = {"ghz": np.kron(ghz, np.eye(2 ** (k - 1))[0]), "random": random_state(2 * k, rng)}
    for n in (2, 33):
        lay = Layout(n, qubits=k, references=k)
        refs = list(lay.reference_qubits)
        for name, psi in inputs.items():
            enc = CoreState.from_input(lay.num_qubits, psi, list(lay.inputs) + refs)
            enc.apply(protocol_circuit(lay))
            for j in sorted({1, 2, n // 2, n}):
                st = enc.copy()
                st.apply(decryption(lay, j))
                assert fidelity(st.reduced_density_matrix(list(lay.clone(j)) + refs), psi) == pytest.approx(1, abs=1e-9), (name, n, j)
            # before decryption one clone of the register is maximally mixed (n >= 2)
            assert np.allclose(enc.reduced_density_matrix(list(lay.clone(n))), np.eye(2**k) / 2**k, atol=1e-12)


def test_agrees_with_dense_engine_on_the_protocol_with_mixed_input_and_noise():
    n = 3
    lay = Layout(n)
    rng = np.random.default_rng(11)
    rho_in = random_density_matrix(1, rng)
    st = CoreState.from_input(lay.num_qubits, rho_in, [lay.A()])
    dm = DensityMatrix.from_input(rho_in, lay.num_qubits)
    circ = protocol_circuit(lay)
    st.apply(circ)
    dm.apply_circuit(circ)
    for q in range(lay.num_qubits):
        p = (0.01 * (q + 1), 0.005, 0.02)
        st.apply_pauli_channel(q, *p)
        dm.apply_pauli_channel({"X": p[0], "Y": p[1], "Z": p[2]}, [q])
    dec = clone_decryption(lay, 2)
    st.apply(dec)
    dm.apply_circuit(dec)
    for qs in ([lay.S(2)], [lay.A(), lay.N(2)], [lay.S(1), lay.N(1), lay.S(3)]):
        assert np.allclose(st.reduced_density_matrix(qs), dm.reduced_density_matrix(qs), atol=1e-12)


def test_single_errors_reach_the_decrypted_clone_as_protocol_md_says():
    """Odd n (docs/protocol.md): an error on S_j swaps X and Z; on N_j, X and Z become Y; on N_k (k != j) it passes through."""
    n, j = 301, 17
    lay = Layout(n)
    bloch_in = np.array([0.3, -0.5, 0.6])
    rho_in = 0.5 * (np.eye(2) + sum(c * GATE_MATRICES[a] for c, a in zip(bloch_in, "XYZ")))
    p = 0.25
    expected = {
        ("S", "X"): "Z", ("S", "Z"): "X", ("S", "Y"): "Y",
        ("N", "X"): "Y", ("N", "Z"): "Y", ("N", "Y"): None,
        ("Nk", "X"): "X", ("Nk", "Z"): "Z",
    }
    base = CoreState.from_input(lay.num_qubits, rho_in, [lay.A()])
    base.apply(protocol_circuit(lay))
    for (where, err), out_err in expected.items():
        st = base.copy()
        qubit = {"S": lay.S(j), "N": lay.N(j), "Nk": lay.N(j + 5)}[where]
        st.apply_pauli_channel(qubit, *(p if e == err else 0 for e in "XYZ"))
        st.apply(clone_decryption(lay, j))
        got = st.reduced_density_matrix([lay.S(j)])
        if out_err is None:
            want = rho_in
        else:
            e = GATE_MATRICES[out_err]
            want = (1 - p) * rho_in + p * e @ rho_in @ e
        assert np.allclose(got, want, atol=1e-12), (where, err)


def test_stabilizer_inputs_agree_with_stim_at_large_n():
    """An independent library: stim's TableauSimulator on the same circuit with a stabilizer input."""
    n = 400
    lay = Layout(n)
    circ = protocol_circuit(lay)
    rng = np.random.default_rng(2)
    sim = stim.TableauSimulator()
    sim.set_num_qubits(lay.num_qubits)
    sim.h(0)
    sim.s(0)  # |+i>
    sim.do_circuit(to_stim(circ))
    st = CoreState.from_input(lay.num_qubits, np.array([1, 1j]) / np.sqrt(2), [0])
    st.apply(circ)
    for _ in range(30):
        qs = rng.choice(lay.num_qubits, int(rng.integers(1, 6)), replace=False)
        ps = stim.PauliString(lay.num_qubits)
        for q in qs:
            ps[int(q)] = "XYZ"[rng.integers(3)]
        assert st.expectation(ps) == sim.peek_observable_expectation(ps)
        if rng.random() < 0.5:
            out = st.measure_pauli(ps, rng)
            sim.postselect_observable(ps, desired_value=out == -1)
    dec = clone_decryption(lay, 5)
    st.apply(dec)
    sim.do_circuit(to_stim(dec))
    for q in (lay.S(5), lay.A(), lay.N(5)):
        for letter in "XYZ":
            ps = stim.PauliString(lay.num_qubits)
            ps[q] = letter
            assert st.expectation(ps) == sim.peek_observable_expectation(ps)


def test_blocks_stay_per_register_qubit():
    lay = Layout(50, qubits=3)
    st = CoreState.from_input(lay.num_qubits, random_state(3, np.random.default_rng(1)), lay.inputs)
    st.apply(protocol_circuit(lay))
    assert st.block_sizes == (101, 101, 101)
    st.measure_pauli(f"X{lay.S(1)}*X{lay.S(1, i=1)}", np.random.default_rng(0))
    assert st.block_sizes == (202, 101)


def test_copy_is_independent_and_bytes_round_trip_with_noise_and_terms():
    lay = Layout(4)
    st = CoreState.from_input(lay.num_qubits, random_state(1, np.random.default_rng(3)), [0])
    st.apply(protocol_circuit(lay))
    st.apply_pauli_channel(lay.S(1), 0.1, 0.0, 0.2)
    twin = st.copy()
    twin.apply(clone_decryption(lay, 1))
    assert not np.allclose(twin.reduced_density_matrix([lay.S(1)]), st.reduced_density_matrix([lay.S(1)]))
    st.apply_pauli_channel(lay.A(), 0.3, 0.0, 0.0)
    st.measure_pauli(f"Z{lay.A()}*Z{lay.N(1)}*X{lay.S(2)}", np.random.default_rng(1))
    data = st.to_bytes()
    back = CoreState.from_bytes(data)
    qs = [lay.A(), lay.S(1), lay.N(1), lay.S(2)]
    assert np.allclose(back.reduced_density_matrix(qs), st.reduced_density_matrix(qs))
    assert back.to_bytes() == data


def test_from_bytes_rejects_damaged_or_foreign_data():
    lay = Layout(2)
    st = CoreState.from_input(lay.num_qubits, np.array([1, 0]), [0])
    st.apply(protocol_circuit(lay))
    st.apply_pauli_channel(1, 0.1, 0.1, 0.1)
    good = st.to_bytes()
    with pytest.raises(InvalidArgumentError, match="magic"):
        CoreState.from_bytes(b"X" + good[1:])
    with pytest.raises(InvalidArgumentError, match="version"):
        CoreState.from_bytes(good[:16] + (99).to_bytes(4, "little") + good[20:])
    with pytest.raises(InvalidArgumentError):
        CoreState.from_bytes(good[:-3])
    with pytest.raises(InvalidArgumentError, match="trailing"):
        CoreState.from_bytes(good + b"\0")
    with pytest.raises(InvalidArgumentError):
        CoreState.from_bytes("not bytes")  # type: ignore[arg-type]  # the wrong type on purpose
    bad_history = good.replace(b"CX 0 1", b"M 0 11")
    assert bad_history != good
    with pytest.raises(InvalidArgumentError):
        CoreState.from_bytes(bad_history)


def test_errors_are_actionable():
    with pytest.raises(InvalidArgumentError, match="norm"):
        CoreState.from_input(3, np.array([1, 1]), [0])
    with pytest.raises(InvalidArgumentError, match="amplitudes"):
        CoreState.from_input(3, np.array([1, 0, 0]), [0])
    with pytest.raises(InvalidArgumentError):
        CoreState.from_input(3, np.eye(2), [0])  # trace 2
    with pytest.raises(InvalidArgumentError, match="repeated"):
        CoreState.from_input(3, np.eye(4)[0], [0, 0])
    with pytest.raises(InvalidArgumentError):
        CoreState.from_input(3, np.array([1, 0]), [3])
    with pytest.raises(TooLargeError, match=str(MAX_CORE_QUBITS)):
        CoreState.from_input(20, np.ones(2**13) / np.sqrt(2**13), range(13))
    st = CoreState.from_input(14, np.array([1, 0]), [0])
    with pytest.raises(InvalidArgumentError, match="Generator"):
        st.measure_pauli("Z0", 3)  # type: ignore[arg-type]  # the wrong type on purpose
    with pytest.raises(InvalidArgumentError, match="Hermitian"):
        st.expectation(stim.PauliString("iX"))
    with pytest.raises(InvalidArgumentError, match="Pauli"):
        st.expectation("Q3")
    with pytest.raises(InvalidArgumentError, match="sum"):
        st.apply_pauli_channel(0, 0.6, 0.6, 0)
    with pytest.raises(InvalidArgumentError, match="qubit"):
        st.apply_pauli_channel(14, 0.1, 0, 0)
    with pytest.raises(InvalidArgumentError, match="unitary"):
        st.apply(stim.Circuit("M 0"))
    with pytest.raises(InvalidArgumentError, match="outside"):
        st.apply(stim.Circuit("H 20"))
    with pytest.raises(TooLargeError, match="at most"):
        st.reduced_density_matrix(range(13))


def test_expectation_accepts_sparse_dense_and_stim_forms():
    st = CoreState.from_input(3, np.array([1, 1]) / np.sqrt(2), [1])
    assert st.expectation("_X_") == st.expectation("X1") == st.expectation(stim.PauliString("_X")) == pytest.approx(1)
    assert st.expectation("-X1 Z2") == pytest.approx(-1)
    assert st.expectation("Z0") == pytest.approx(1) and st.expectation("X0") == 0
    assert st.expectation("") == 1


def test_purified_mixed_core_matches_mixed_core():
    """A mixed core and its purification on extra core qubits give the same reduced states."""
    rng = np.random.default_rng(8)
    rho = random_density_matrix(1, rng)
    lay = Layout(3, references=1)
    a = CoreState.from_input(lay.num_qubits, rho, [lay.A()])
    b = CoreState.from_input(lay.num_qubits, purification(rho), [lay.A(), lay.R()])
    for st in (a, b):
        st.apply(protocol_circuit(lay, decrypt=3))
    assert np.allclose(a.reduced_density_matrix([lay.S(3), lay.N(3)]), b.reduced_density_matrix([lay.S(3), lay.N(3)]))
