"""The qudit property report."""

import pytest

from qclone.analysis.qudit_verify import QUDIT_PROPERTY_TITLES, verify_qudit
from qclone.errors import TooLargeError


@pytest.mark.parametrize("d,n", [(2, 3), (3, 2), (3, 3), (4, 2), (5, 2)])
def test_every_property_passes(d, n):
    r = verify_qudit(d, n, seed=4)
    assert r.passed, r.failures
    assert {c.group for c in r.checks} == set(QUDIT_PROPERTY_TITLES)
    if d == 2:
        assert sum("d = 2" in c.name for c in r.checks) == 4
    d_rule = [c for c in r.checks if "gcd" in c.name]
    assert d_rule and d_rule[0].detail == f"{2 ** n}/{2 ** n} sets agree"


def test_single_clone_exception_and_limits():
    r = verify_qudit(3, 1)
    assert r.passed and r.warnings
    assert any("n = 1 exception" in c.name for c in r.checks)
    assert r.to_dict()["dimension"] == 3
    with pytest.raises(TooLargeError):
        verify_qudit(8, 3)


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_the_n1_warning_names_what_the_lone_clone_keeps(d):
    """n = 1: S_1 holds exactly the input's expectations of X^a Z^-a (a = 1..d-1), as the warning says.

    Computed with plain numpy from the dense U_enc: S_1 is half of a maximally entangled
    pair, so its state after encryption is tr_A[U (ρ ⊗ I/d) U†].
    """
    import numpy as np

    from qclone.protocol.layout import single_clone_warning
    from qclone.protocol.qudit import encryption_operator

    X = np.roll(np.eye(d), 1, axis=0)                     # X|k> = |k+1>
    Z = np.diag(np.exp(2j * np.pi * np.arange(d) / d))    # Z|k> = ω^k |k>
    weyl = [np.linalg.matrix_power(X, a) @ np.linalg.matrix_power(Z.conj(), a) for a in range(1, d)]  # X^a Z^-a
    U = encryption_operator(d, 1).matrix()
    rng = np.random.default_rng(d)
    for _ in range(3):
        psi = rng.normal(size=d) + 1j * rng.normal(size=d)
        rho = np.outer(psi, psi.conj()) / np.vdot(psi, psi).real
        joint = U @ np.kron(rho, np.eye(d) / d) @ U.conj().T
        clone = np.einsum("abad->bd", joint.reshape(d, d, d, d))      # trace out A
        kept = np.eye(d) / d + sum(np.trace(rho @ w) * w.conj().T for w in weyl) / d
        assert np.allclose(clone, kept, atol=1e-12)
        assert not np.allclose(clone, np.eye(d) / d)                   # it does carry something
    text = single_clone_warning(1, dimension=d)
    assert ("Y component of the input's Bloch vector" in text) == (d == 2)
    assert d == 2 or f"X^a Z^-a (a = 1..{d - 1}, d = {d})" in text
    assert verify_qudit(d, 1).warnings == (text,)
