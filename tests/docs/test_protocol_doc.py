"""docs/protocol.md: the error-propagation table and the sum form of U_enc, recomputed independently."""

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import expm

from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.protocol.circuit import Circuit
from qclone.sim.exact import StateVector

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
PAULI = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1, -1])}


def error_table() -> dict[str, dict[str, dict[str, str]]]:
    rows = re.findall(r"^\| (A|S_k \(k ≠ j\)|N_k \(k ≠ j\)|S_j|N_j) \| ([^|]+) \| ([^|]+) \|$", DOC, re.M)
    table = {}
    for where, odd, even in rows:
        table[where.split()[0]] = {parity: dict(re.findall(r"([XYZ]) → ([IXYZ])", cell)) for parity, cell in (("odd", odd), ("even", even))}
    return table


def test_the_table_is_complete():
    table = error_table()
    assert set(table) == {"A", "S_k", "N_k", "S_j", "N_j"}
    assert all(set(m) == {"X", "Y", "Z"} for row in table.values() for m in row.values())


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_single_errors_reach_the_decrypted_clone_as_the_table_says(n):
    lay, j = Layout(n), 1
    qubit = {"A": lay.A(), "S_k": lay.S(2), "N_k": lay.N(2), "S_j": lay.S(j), "N_j": lay.N(j)}
    psi = np.array([0.6, 0.48 + 0.64j])
    rho = np.outer(psi, psi.conj())
    parity = "even" if n % 2 == 0 else "odd"
    for where, row in error_table().items():
        for error, out in row[parity].items():
            st = StateVector.from_input(list(psi), lay.num_qubits)
            st.apply_circuit(protocol_circuit(lay))
            st.apply_circuit(Circuit((("q", lay.num_qubits),)).append(error, [qubit[where]]))
            st.apply_circuit(decryption(lay, j))
            got = st.reduced_density_matrix([lay.S(j)])
            P = PAULI[out]
            assert np.allclose(got, P @ rho @ P.conj().T, atol=1e-10), (n, where, error, out)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_the_sum_form_equals_the_exponential_form(n):
    """U_enc = ½ Σ α_μ⁻¹ σ_μ^⊗(n+1) with the α's the page gives, against scipy's expm of the two factors."""
    alpha = [1, 1j, -(1j ** (n + 1)), 1j]
    assert "α_0 = 1, α_1 = α_3 = i, α_2 = −i^{n+1}" in DOC

    def power(m):
        out = np.eye(1)
        for _ in range(n + 1):
            out = np.kron(out, m)
        return out

    paulis = [PAULI[c] for c in "IXYZ"]
    total = sum(power(p) / a for p, a in zip(paulis, alpha)) / 2
    exp_form = expm(-1j * np.pi / 4 * power(PAULI["X"])) @ expm(-1j * np.pi / 4 * power(PAULI["Z"]))
    assert np.allclose(total, exp_form, atol=1e-12)
