"""Redundant computation under noise: the stim figures against the dense engine, and their shape."""

import itertools

import numpy as np
import pytest

from qclone.analysis.compute_noise import compare, non_pauli_sequence, route_fidelity
from qclone.protocol import Circuit, Layout, bell_pairs, decryption, encryption
from qclone.protocol.logical import DECOMPOSITION, local_unitary, plan
from qclone.sim.exact import GATE_MATRICES, DensityMatrix
from qclone.sim.noise import noise_model

P1, P2, PM = 0.01, 0.02, 0.015


def _depolarize(dm: DensityMatrix, qubits, p):
    labels = ["".join(t) for t in itertools.product("IXYZ", repeat=len(qubits)) if set(t) != {"I"}]
    dm.apply_pauli_channel({lab: p / len(labels) for lab in labels}, list(qubits))


def _noisy(dm: DensityMatrix, circuit):
    for ins in circuit.instructions:
        for group in ins.groups:
            dm.apply(GATE_MATRICES[ins.name], list(group))
            _depolarize(dm, group, P1 if len(group) == 1 else P2)


def _local(dm: DensityMatrix, name: str, q: int):
    for g in DECOMPOSITION[name]:
        dm.apply(GATE_MATRICES[g], [q])
    if name != "I":
        _depolarize(dm, [q], P1)


def dense_route(n: int, gates: list[str], route: str) -> float:
    """The same model written gate by gate on density matrices (independent of stim)."""
    lay = Layout(n, references=1)
    phi = np.array([1, 0, 0, 1], dtype=complex) / np.sqrt(2)
    # |Φ+⟩ goes on the first two qubits (A, S1); a swap moves its second half to R
    dm = DensityMatrix.from_input(np.outer(phi, phi.conj()), lay.num_qubits)
    dm.apply(GATE_MATRICES["SWAP"], [1, lay.R()])
    storage = [q for q in range(lay.num_qubits) if q != lay.R()]

    def idle():
        for q in storage:
            _depolarize(dm, [q], PM)

    _noisy(dm, encryption(lay, circuit=bell_pairs(lay)))
    for g in gates:
        idle()
        if route == "encrypted":
            for q, name in enumerate(plan(g, n).local):
                _local(dm, name, q)
    idle()
    _noisy(dm, decryption(lay, 1, circuit=Circuit(lay.registers)))
    if route == "decrypted":
        for g in gates:
            _local(dm, g, lay.S(1))
    u = np.eye(2, dtype=complex)
    for g in gates:
        u = local_unitary(g) @ u
    want = np.kron(u, np.eye(2)) @ phi  # (out, R)
    rho = dm.reduced_density_matrix([lay.S(1), lay.R()])
    return float(np.real(want.conj() @ rho @ want))


MODEL = noise_model("depolarizing", p=P2, p1=P1) + noise_model("memory", p=PM)


@pytest.mark.parametrize("n,gates", [(1, ["H", "Y"]), (2, ["C_XYZ", "X"]), pytest.param(3, ["H"], marks=pytest.mark.slow)])
@pytest.mark.parametrize("route", ["encrypted", "decrypted"])
def test_stim_figure_matches_dense_engine(n, gates, route):
    assert route_fidelity(n, gates, noise=MODEL, route=route) == pytest.approx(dense_route(n, gates, route), abs=1e-10)


def test_noiseless_is_perfect_and_gate_noise_costs_linear_in_n():
    quiet = noise_model("depolarizing", p=0.0, p1=0.0)
    assert compare(4, non_pauli_sequence(4, 4), noise=quiet).encrypted == pytest.approx(1.0)
    losses, plain = [], set()
    for n in (3, 5, 9, 17):
        c = compare(n, non_pauli_sequence(n, 4), noise=quiet, logical_p1=1e-3)
        assert c.encrypted < c.decrypted
        losses.append(1 - c.encrypted)
        plain.add(round(c.decrypted, 12))
    assert len(plain) == 1  # after decrypting, the gates' cost does not depend on n
    # linear in n, not exponential: the loss grows, but at most in proportion to n
    assert all(b > a for a, b in itertools.pairwise(losses))
    assert losses[-1] / losses[0] < 17 / 3 * 1.5


def test_memory_noise_alone_is_the_same_on_both_routes():
    mem = noise_model("memory", p=1e-3)
    c = compare(5, non_pauli_sequence(5, 6), noise=mem)
    assert c.encrypted == pytest.approx(c.decrypted, abs=1e-12) and c.encrypted < 1
