"""Threshold secret sharing checked on dense encodings built here with numpy (no stabilizer algebra)."""

import itertools
import math
from functools import reduce

import numpy as np
import pytest

from qclone.analysis.secret_sharing import depolarizing_errors, five_qubit_code, pauli_errors, polynomial_code
from qclone.errors import InvalidArgumentError


def _weyl(d, a, b):
    x = np.roll(np.eye(d), 1, axis=0)  # X|j> = |j+1>
    z = np.diag(np.exp(2j * np.pi * np.arange(d) / d))
    return np.linalg.matrix_power(x, a) @ np.linalg.matrix_power(z, b)


def _five_qubit_encoding():
    """[[5,1,3]]: |0̄> ∝ Π (1 + g)/2 |00000> over the cyclic shifts g of XZZXI; |1̄> = XXXXX |0̄>."""
    paulis = {"I": np.eye(2), "X": _weyl(2, 1, 0), "Z": _weyl(2, 0, 1)}
    gens = ["XZZXI", "IXZZX", "XIXZZ", "ZXIXZ"]
    proj = np.eye(32)
    for g in gens:
        proj = proj @ (np.eye(32) + reduce(np.kron, [paulis[c] for c in g])) / 2
    zero = proj[:, 0] / np.linalg.norm(proj[:, 0])
    one = reduce(np.kron, [paulis["X"]] * 5) @ zero
    return np.stack([zero, one], axis=1), 2, 5


def _polynomial_encoding(k, d):
    """|s> ↦ Σ over polynomials f of degree k − 1 with top coefficient s of |f(0), f(1), …, f(2k − 2)>."""
    m = 2 * k - 1
    enc = np.zeros((d**m, d))
    for s in range(d):
        for low in itertools.product(range(d), repeat=k - 1):
            coeffs = (*low, s)  # c_0 .. c_{k-1}
            shares = [sum(c * x**i for i, c in enumerate(coeffs)) % d for x in range(m)]
            enc[np.ravel_multi_index(shares, (d,) * m), s] += 1
    return enc / np.linalg.norm(enc[:, 0]), d, m


def _reduced(psi, dims, keep):
    t = psi.reshape(dims)
    rest = [i for i in range(len(dims)) if i not in keep]
    mat = np.transpose(t, list(keep) + rest).reshape(math.prod(dims[i] for i in keep), -1)
    return mat @ mat.conj().T


def _entropy(rho):
    w = np.linalg.eigvalsh(rho)
    w = w[w > 1e-12]
    return float(-(w * np.log2(w)).sum())


def _pure_entropy(psi, dims, axes):
    """Entropy of ``axes`` of a pure state, from the smaller side."""
    other = tuple(i for i in range(len(dims)) if i not in axes)
    small = min(tuple(axes), other, key=lambda x: math.prod(dims[i] for i in x))
    return _entropy(_reduced(psi, dims, small)) if small else 0.0


def _with_reference(enc, d, m):
    """Ψ = Σ_s |s>_R Enc|s> / √d, axes (R, share 0, …, share m − 1)."""
    return (enc.T / math.sqrt(d)).reshape(-1), [d] + [d] * m


CODES = {
    "five-qubit": (_five_qubit_encoding, five_qubit_code),
    "qutrit": (lambda: _polynomial_encoding(2, 3), lambda: polynomial_code(2)),
    "ququint": (lambda: _polynomial_encoding(3, 5), lambda: polynomial_code(3)),
}


@pytest.mark.parametrize("name", CODES)
def test_access_structure_from_dense_states(name):
    build, product = CODES[name]
    enc, d, m = build()
    code = product()
    assert (code.dimension, code.shares) == (d, m)
    assert np.allclose(enc.conj().T @ enc, np.eye(d))  # an isometry
    psi, dims = _with_reference(enc, d, m)
    full = 2 * math.log2(d)
    for size in range(1, m + 1):
        for c in itertools.combinations(range(1, m + 1), size):
            rest = tuple(i for i in range(1, m + 1) if i not in c)
            s_c = _pure_entropy(psi, dims, c)
            s_rc = _pure_entropy(psi, dims, rest)  # S(R C) = S(D): the whole state is pure
            info = math.log2(d) + s_c - s_rc
            want = full if size >= code.threshold else 0.0
            assert info == pytest.approx(want, abs=1e-8), (name, c)
    assert code.secrecy == code.threshold - 1


def _dense_fidelity(enc, d, m, subset, errors):
    """Decode from ``subset`` after each share in it suffered its Weyl channel; the decoder built from Enc."""
    k = len(subset)
    rest = [i for i in range(m) if i not in subset]
    psi, dims = _with_reference(enc, d, m)
    # c_{s,j} = √(d^{k-1}) (1_C ⊗ <j|_D) Enc|s>: an orthonormal basis of C when D learns nothing
    t = np.transpose(enc.reshape([d] * m + [d]), list(subset) + rest + [m]).reshape(d**k, d ** len(rest), d)
    basis = np.concatenate([t[:, :, s] for s in range(d)], axis=1) * math.sqrt(d ** len(rest))
    assert np.allclose(basis.conj().T @ basis, np.eye(d**k))
    decoder = basis.conj().T  # |s, j> <- c_{s,j}
    rho = _reduced(psi, dims, [0] + [1 + i for i in subset]).astype(complex)  # (R, C)
    for pos, share in enumerate(subset):
        before, after = d ** (pos + 1), d ** (k - 1 - pos)  # (R and the shares before) ⊗ share ⊗ (shares after)
        r = rho.reshape(before, d, after, before, d, after)
        out = np.zeros_like(r)
        for a in range(d):
            for b in range(d):
                if errors[share, a, b]:  # X^a Z^b |j> = ω^{bj} |j + a>, on the ket and the bra index
                    ph = np.exp(2j * np.pi * b * np.arange(d) / d)
                    moved = r * ph[None, :, None, None, None, None] * ph.conj()[None, None, None, None, :, None]
                    out += errors[share, a, b] * np.roll(moved, (a, a), axis=(1, 4))
        rho = out.reshape(rho.shape)
    v = np.kron(np.eye(d), decoder)
    rho = v @ rho @ v.conj().T
    rho_rt = _reduced_dm(rho, [d, d, d ** (k - 1)], [0, 1])
    phi = np.eye(d).reshape(-1) / math.sqrt(d)
    return float(np.real(phi @ rho_rt @ phi))


def _reduced_dm(rho, dims, keep):
    n = len(dims)
    t = rho.reshape(dims + dims)
    drop = [i for i in range(n) if i not in keep]
    for i in sorted(drop, reverse=True):
        t = np.trace(t, axis1=i, axis2=i + t.ndim // 2)
    size = math.prod(dims[i] for i in keep)
    return t.reshape(size, size)


@pytest.mark.parametrize(("name", "subset", "seed"), [
    ("five-qubit", (0, 1, 2), 1), ("five-qubit", (0, 2, 4), 2), ("five-qubit", (1, 3, 4), 3),
    ("qutrit", (0, 1), 4), ("qutrit", (0, 2), 5), ("qutrit", (1, 2), 6), ("ququint", (0, 2, 3), 7),
])
def test_fidelity_after_noise_matches_direct_simulation(name, subset, seed):
    build, product = CODES[name]
    enc, d, m = build()
    rng = np.random.default_rng(seed)
    errors = rng.dirichlet(np.ones(d * d) * 0.3, size=m).reshape(m, d, d)
    errors[:, 0, 0] += 3  # mostly no error
    errors /= errors.sum(axis=(1, 2), keepdims=True)
    got = product().entanglement_fidelity(errors, subset)
    assert got == pytest.approx(_dense_fidelity(enc, d, m, list(subset), errors), abs=1e-10)


def test_memory_noise_helpers():
    assert five_qubit_code().entanglement_fidelity(pauli_errors(0, 0, 0)) == pytest.approx(1)
    p = depolarizing_errors(3, 0.3)
    assert p.sum() == pytest.approx(1) and p[0, 0] == pytest.approx(0.7) and p[1, 2] == pytest.approx(0.3 / 8)
    # fully depolarized shares carry nothing: F_e = 1/d²
    assert polynomial_code(2).entanglement_fidelity(depolarizing_errors(3, 8 / 9)) == pytest.approx(1 / 9)


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="prime"):
        polynomial_code(2, 4)
    with pytest.raises(InvalidArgumentError, match="distinct shares"):
        five_qubit_code().logical_representatives([0, 1])
    with pytest.raises(InvalidArgumentError, match="probabilities"):
        five_qubit_code().entanglement_fidelity(np.ones((3, 3)))


@pytest.mark.parametrize(("name", "p"), [("five-qubit", 0.2), ("qutrit", 0.2), ("qutrit", 0.6), ("ququint", 0.1)])
def test_depolarizing_memory_noise_matches_direct_simulation(name, p):
    build, product = CODES[name]
    enc, d, m = build()
    code = product()
    errors = depolarizing_errors(d, p)
    subset = list(range(code.threshold))
    dense = _dense_fidelity(enc, d, m, subset, np.broadcast_to(errors, (m, d, d)))
    assert code.entanglement_fidelity(errors) == pytest.approx(dense, abs=1e-10)
    assert code.average_fidelity(errors) == pytest.approx((d * dense + 1) / (d + 1), abs=1e-10)
