"""stim figures against an independent computation: the dense density-matrix engine, gate by gate."""

import itertools
import math

import numpy as np
import pytest
import stim

from qclone.errors import InvalidArgumentError, TooLargeError, UnsupportedError
from qclone.protocol import Layout, bell_pairs, bell_state, decryption, encryption, protocol_circuit
from qclone.protocol.circuit import Circuit
from qclone.protocol.render import stim_text
from qclone.sim import get_engine
from qclone.sim.exact import GATE_MATRICES, DensityMatrix, StateVector
from qclone.sim.noise import NoiseModel, noise_model
from qclone.sim.stabilizer import (
    FidelityEstimate,
    count_outcomes,
    estimate_fidelity,
    exact_pauli_channel,
    fidelity_circuit,
    gf2_rank,
    wilson_interval,
)

PAULIS2 = ["".join(p) for p in itertools.product("IXYZ", repeat=2)][1:]


def depolarize(dm: DensityMatrix, qubits: tuple[int, ...], p: float) -> None:
    """Σ_{P≠I} p/(4^k - 1) PρP + (1 - p)ρ = (1 - λ)ρ + λ·(I/2^k ⊗ tr_qubits ρ), λ = p·4^k/(4^k - 1)."""
    m, k = dm.num_qubits, len(qubits)
    d = 2**k
    lam = p * 4**k / (4**k - 1)
    axes = [*qubits, *(q + m for q in qubits)]
    t = np.moveaxis(dm.tensor, axes, list(range(2 * m - 2 * k, 2 * m)))
    shape = t.shape
    flat = t.reshape(-1, d, d)
    traced = np.trace(flat, axis1=1, axis2=2)
    mixed = (traced[:, None, None] * np.eye(d) / d).reshape(shape)
    dm.tensor = np.moveaxis((1 - lam) * t + lam * mixed, list(range(2 * m - 2 * k, 2 * m)), axes)


def noisy_gates(dm: DensityMatrix, circ: Circuit, noise: NoiseModel) -> None:
    for ins in circ.instructions:
        for group in ins.groups:
            dm.apply(GATE_MATRICES[ins.name], group)
            for p in noise.gate1 if len(group) == 1 else noise.gate2:
                depolarize(dm, group, p)


def test_fast_depolarizing_equals_the_pauli_sum():
    rng = np.random.default_rng(0)
    from qclone.sim.exact import random_density_matrix
    rho = random_density_matrix(3, rng)
    a, b = DensityMatrix(rho), DensityMatrix(rho)
    depolarize(a, (2, 0), 0.3)
    b.apply_pauli_channel({s: 0.3 / 15 for s in PAULIS2}, [2, 0])
    assert np.allclose(a.matrix, b.matrix)
    depolarize(a, (1,), 0.2)
    b.apply_pauli_channel({"X": 0.2 / 3, "Y": 0.2 / 3, "Z": 0.2 / 3}, [1])
    assert np.allclose(a.matrix, b.matrix)


def dense_channel(n: int, noise: NoiseModel, decrypt, depth: str) -> dict[str, float]:
    """p_I..p_Z of the decrypted clone, evolved as a density matrix with the noise after every gate."""
    lay = Layout(n, references=1)
    m = lay.num_qubits
    dm = DensityMatrix.from_statevector(StateVector.from_input(bell_state(0), m, input_qubits=[lay.A(), lay.R()]))
    enc = encryption(lay, depth=depth, circuit=bell_pairs(lay))
    noisy_gates(dm, enc, noise)
    for px, py, pz in noise.idle:
        for q in range(m - 1):  # every qubit but R
            dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [q])
    dec = decryption(lay, decrypt, depth=depth, circuit=Circuit(enc.registers))
    noisy_gates(dm, dec, noise)
    out = lay.output_qubit(decrypt)
    rho = dm.reduced_density_matrix([lay.R(), out])
    phi = bell_state(0)
    pops = {}
    for key, letter in (("p_I", "I"), ("p_X", "X"), ("p_Y", "Y"), ("p_Z", "Z")):
        v = np.kron(np.eye(2), GATE_MATRICES[letter]) @ phi
        pops[key] = float(np.real(np.vdot(v, rho @ v)))
    # readout flips: X_R X_S flips swap I<->Z and X<->Y, Z_R Z_S flips swap I<->X and Y<->Z
    q = noise.readout_flip
    for swap in ({"p_I": "p_Z", "p_Z": "p_I", "p_X": "p_Y", "p_Y": "p_X"}, {"p_I": "p_X", "p_X": "p_I", "p_Y": "p_Z", "p_Z": "p_Y"}):
        pops = {k: (1 - q) * v + q * pops[swap[k]] for k, v in pops.items()}
    return pops


CASES = [
    (1, noise_model("depolarizing", p=0.02), 1, "linear"),
    (2, noise_model("depolarizing", p=0.03, p1=0.01), 2, "log"),
    (2, noise_model("memory", time=2e-5, t1=1e-4, t2=4e-5), "A", "linear"),
    (3, noise_model("readout", p=0.05) + noise_model("memory", p=0.04), 2, "linear"),
    (3, noise_model("heron", storage_time=1e-5), 3, "log"),
    (3, noise_model("depolarizing", p=0.02) + noise_model("depolarizing", p=0.01) + noise_model("memory", p=0.02, t2_over_t1=0.5), 1, "linear"),
]


@pytest.mark.parametrize(("n", "noise", "decrypt", "depth"), CASES)
def test_error_model_channel_equals_the_density_matrix_engine(n, noise, decrypt, depth):
    dense = dense_channel(n, noise, decrypt, depth)
    exact = exact_pauli_channel(fidelity_circuit(n, noise=noise, decrypt=decrypt, depth=depth))
    for k in dense:
        assert exact[k] == pytest.approx(dense[k], abs=1e-9), k


@pytest.mark.parametrize(("n", "noise", "decrypt", "depth"), CASES)
def test_sampled_figures_agree_with_the_density_matrix_engine_within_4_standard_errors(n, noise, decrypt, depth):
    dense = dense_channel(n, noise, decrypt, depth)
    est = estimate_fidelity(n, noise=noise, shots=40_000, decrypt=decrypt, depth=depth, seed=11)
    for k, p in dense.items():
        se = math.sqrt(max(p * (1 - p), 1e-6) / est.shots)
        assert abs(est.pauli_channel[k] - p) <= 4 * se, (k, est.pauli_channel[k], p)
    assert abs(est.average_fidelity - (2 * dense["p_I"] + 1) / 3) <= 4 * est.standard_error


@pytest.mark.slow
@pytest.mark.parametrize("decrypt", [3])
def test_n4_against_the_density_matrix_engine(decrypt):
    noise = noise_model("depolarizing", p=0.01) + noise_model("memory", p=0.01) + noise_model("readout", p=0.01)
    dense = dense_channel(4, noise, decrypt, "linear")
    exact = exact_pauli_channel(fidelity_circuit(4, noise=noise, decrypt=decrypt))
    est = estimate_fidelity(4, noise=noise, shots=40_000, decrypt=decrypt, seed=5)
    for k, p in dense.items():
        assert exact[k] == pytest.approx(p, abs=1e-9)
        assert abs(est.pauli_channel[k] - p) <= 4 * math.sqrt(max(p * (1 - p), 1e-6) / est.shots)


def test_noiseless_is_perfect_and_the_fidelity_circuit_is_deterministic():
    for n, j in ((1, 1), (5, 3), (6, "A")):
        est = estimate_fidelity(n, noise=NoiseModel(), shots=1000, decrypt=j, seed=1)
        assert est.errors == 0 and est.entanglement_fidelity == 1 and est.average_fidelity == 1
    # stim checks observables are deterministic when it builds the error model
    fidelity_circuit(7, noise=noise_model("depolarizing", p=0.01), depth="log").detector_error_model()


def linear_law(n: int, p: float) -> float:
    """p_I for depolarizing storage noise p on every qubit (the table of the next test, composed exactly).

    Errors on S_j and on every other key qubit N_k reach the clone unchanged up to relabelling (n qubits,
    each a depolarizing channel with Pauli eigenvalue λ = 1 - 4p/3); errors on A and the other clones are
    harmless; on N_j all three reach the clone for even n, while for odd n a Y there is harmless and X, Z
    become Y (a Y flip of probability 2p/3). So 1 - p_I ≈ (n + 1)·p for even n, (n + 2/3)·p for odd n.
    """
    lam = 1 - 4 * p / 3
    if n % 2 == 0:
        return (1 + 3 * lam ** (n + 1)) / 4
    return (1 + lam**n * (2 * lam + 1)) / 4


def test_memory_noise_follows_the_linear_law_exactly():
    p = 1e-3
    for n in (1, 2, 3, 10, 101, 1000):
        got = exact_pauli_channel(fidelity_circuit(n, noise=noise_model("memory", p=p), decrypt=max(1, n // 3)))
        assert got["p_I"] == pytest.approx(linear_law(n, p), abs=1e-12), n


@pytest.mark.parametrize("n", [3, 4])
def test_which_stored_qubits_pass_an_error_to_the_output(n):
    """Dense engine and stim, clone 2: a Pauli on A or another clone is harmless; on S_2 or a key qubit it
    reaches the clone, except a Y on N_2 for odd n."""
    j = 2
    lay = Layout(n, references=1)
    for q in range(2 * n + 1):
        for letter in "XYZ":
            pops = dense_channel_with_error(n, j, q, letter)
            harmless = q == lay.A() or (1 <= q <= n and q != j) or (q == lay.N(j) and letter == "Y" and n % 2)
            assert (pops["p_I"] == pytest.approx(1, abs=1e-9)) == harmless, (q, letter)
            assert max(pops, key=pops.get) == stim_outcome_with_error(n, j, q, letter)


def dense_channel_with_error(n: int, j: int, qubit: int, letter: str) -> dict[str, float]:
    lay = Layout(n, references=1)
    m = lay.num_qubits
    sv = StateVector.from_input(bell_state(0), m, input_qubits=[lay.A(), lay.R()])
    enc = encryption(lay, circuit=bell_pairs(lay))
    sv.apply_circuit(enc)
    sv.apply(GATE_MATRICES[letter], [qubit])
    sv.apply_circuit(decryption(lay, j, circuit=Circuit(enc.registers)))
    rho = sv.reduced_density_matrix([lay.R(), lay.S(j)])
    out = {}
    for key, p in (("p_I", "I"), ("p_X", "X"), ("p_Y", "Y"), ("p_Z", "Z")):
        v = np.kron(np.eye(2), GATE_MATRICES[p]) @ bell_state(0)
        out[key] = float(np.real(np.vdot(v, rho @ v)))
    return out


def stim_outcome_with_error(n: int, j: int, qubit: int, letter: str) -> str:
    lay = Layout(n, references=1)
    enc = encryption(lay, circuit=bell_pairs(lay))
    dec = decryption(lay, j, circuit=Circuit(enc.registers))
    r, out = lay.R(), lay.S(j)
    c = stim.Circuit(f"H {r}\nCX {r} 0\n{stim_text(enc)}\n{letter}_ERROR(1) {qubit}\n{stim_text(dec)}\n"
                     f"MPP X{r}*X{out} Z{r}*Z{out}\nOBSERVABLE_INCLUDE(0) rec[-2]\nOBSERVABLE_INCLUDE(1) rec[-1]")
    ch = exact_pauli_channel(c)
    return max(ch, key=ch.get)


def test_estimate_and_interval():
    est = FidelityEstimate.from_counts({"p_I": 900, "p_X": 50, "p_Y": 25, "p_Z": 25})
    assert est.shots == 1000 and est.errors == 100
    assert est.average_fidelity == pytest.approx((2 * 0.9 + 1) / 3)
    lo, hi = wilson_interval(900, 1000)
    assert est.ci_low == pytest.approx((2 * lo + 1) / 3) and est.ci_high == pytest.approx((2 * hi + 1) / 3)
    assert est.to_dict()["p_X"] == 0.05
    assert count_outcomes(np.array([[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]], dtype=bool)) == {"p_I": 2, "p_X": 1, "p_Y": 1, "p_Z": 1}
    with pytest.raises(InvalidArgumentError):
        FidelityEstimate.from_counts({})
    with pytest.raises(InvalidArgumentError):
        estimate_fidelity(3, noise=NoiseModel(), shots=0)
    with pytest.raises(InvalidArgumentError):
        fidelity_circuit(3, noise=NoiseModel(), decrypt=4)
    with pytest.raises(UnsupportedError):
        fidelity_circuit(3, noise=NoiseModel(), decrypt="A")


def test_stabilizer_engine_against_the_dense_engine():
    lay = Layout(3)
    circ = protocol_circuit(lay)
    stab, dense = get_engine("stabilizer"), get_engine("dense")

    def run(engine, vector, qubits):
        state = engine.prepare(lay.num_qubits, vector, qubits)
        engine.apply(state, circ)
        return state

    s1, e1 = run(stab, np.array([1, 0]), [0]), run(dense, np.array([1, 0]), [0])
    for qs in ([0], [1, 4], [0, 4, 5, 6], [1, 2, 3]):
        assert s1.entropy(qs) == pytest.approx(e1.entropy(qs), abs=1e-9)
        assert np.allclose(s1.reduced_density_matrix(qs), e1.reduced_density_matrix(qs), atol=1e-9)
    assert s1.mutual_information([0], [4, 5, 6]) == pytest.approx(e1.mutual_information([0], [4, 5, 6]), abs=1e-9)
    # from a stabilizer input: |+> on A
    plus = np.array([1, 1]) / np.sqrt(2)
    s2, e2 = run(stab, plus, [0]), run(dense, plus, [0])
    assert np.allclose(s2.reduced_density_matrix([0, 1]), e2.reduced_density_matrix([0, 1]), atol=1e-9)
    with pytest.raises(UnsupportedError):
        stab.prepare(lay.num_qubits, np.exp(1j * np.arange(4)) / 2, [0, 1])
    with pytest.raises(TooLargeError):
        stab.prepare(Layout(1001).num_qubits, np.array([1, 0]), [0])


def test_gf2_rank():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.integers(0, 2, size=(rng.integers(1, 12), rng.integers(1, 20)))
        # brute force: rank = log2 of the number of distinct row combinations
        combos = {tuple(np.bitwise_xor.reduce(a[list(s)], axis=0)) if s else (0,) * a.shape[1]
                  for r in range(a.shape[0] + 1) for s in itertools.combinations(range(a.shape[0]), r)}
        assert 2 ** gf2_rank(a) == len(combos)
