"""The exhaustive local-Clifford search, its all-n proof check, and the plans it must agree with."""

import numpy as np
import pytest
import stim

from qclone.analysis.logical_search import (
    cnot_class,
    expected_classes,
    local_automorphisms,
    local_map_action,
    pair_group_check,
    symplectic_group_4,
    two_object_check,
    two_object_table,
    two_qubit_symplectic,
    uniform_check,
)
from qclone.protocol.logical import available_gates, local_unitary


def _class(name: str) -> str:
    """The symplectic class (Clifford modulo Paulis) of a vocabulary name, from stim's tableau."""
    t = stim.Tableau.from_named_gate(name)
    key = (str(t.x_output(0))[1:], str(t.z_output(0))[1:])
    return {("X", "Z"): "I", ("Z", "X"): "H", ("Y", "Z"): "S", ("X", "Y"): "SQRT_X",
            ("Y", "X"): "C_XYZ", ("Z", "Y"): "C_ZYX"}[key]  # fmt: skip


@pytest.mark.parametrize("n", range(1, 9))
def test_search_agrees_with_the_plans(n):
    r = local_automorphisms(n)
    plans = {_class(g) for g in available_gates(n)}
    assert r.logical_classes == plans
    assert r.logical_group_size == len(available_gates(n))
    if n >= 2:
        assert r.dimension == 2 and r.uniform() and r.logical_classes == expected_classes(n)


def test_search_is_not_vacuous():
    # the solution space contains the identity and is closed under composition
    r = local_automorphisms(4)
    sols = {s.astype(np.uint8).tobytes() for s in r.solutions}
    for a in r.solutions:
        for b in r.solutions:
            prod = np.einsum("pab,pbc->pac", a.astype(int), b.astype(int)) % 2
            assert prod.astype(np.uint8).tobytes() in sols
    assert local_unitary("S").shape == (2, 2)


@pytest.mark.parametrize("n", range(2, 9))
def test_proof_step_pair_group(n):
    assert pair_group_check(n)


@pytest.mark.parametrize("top", [pytest.param(500), pytest.param(10_000, marks=pytest.mark.slow)])
def test_uniform_check_every_n(top):
    ns = range(2, top + 1)
    got = uniform_check(ns)
    for n in ns:
        assert {c for _, _, c in got[n]} == expected_classes(n), n
        assert all(a == r for a, r, _ in got[n])  # the same class on A as on the storage qubits


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_uniform_check_matches_the_exhaustive_search(n):
    r = local_automorphisms(n)
    assert {c for _, _, c in uniform_check([n])[n]} == r.logical_classes


@pytest.mark.parametrize("n,entangling", [(2, False), (3, True), (4, False), (5, True)])
def test_two_object_search(n, entangling):
    r = local_automorphisms(n, objects=2)
    assert r.uniform()
    assert r.entangling() is entangling
    single = len(local_automorphisms(n).logical_classes)
    # products of one-object actions, times the swap of the objects; odd n has more
    assert r.logical_group_size == 16 * (16 if entangling else 2 * single * single)


@pytest.mark.slow
def test_search_up_to_forty_clones_and_two_objects_up_to_nine():
    for n in range(9, 41):
        r = local_automorphisms(n)
        assert r.dimension == 2 and r.uniform() and r.logical_classes == expected_classes(n), n
    for n in range(6, 10):
        r = local_automorphisms(n, objects=2)
        assert r.uniform() and r.entangling() is (n % 2 == 1), n


# ------------------------------------------------------------------ two objects, every n


def _key(m) -> bytes:
    return np.asarray(m, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_two_object_check_matches_the_exhaustive_search(n):
    # the all-n check's (Q_A, R, logical action) are exactly the exhaustive search's solutions
    qa, r, lg = two_object_check([n]).of(n)
    s = local_automorphisms(n, objects=2)
    assert s.uniform()
    mine = {(_key(a), _key(b), _key(m)) for a, b, m in zip(qa, r, lg, strict=True)}
    exhaustive = {(_key(x[0]), _key(x[1]), _key(m)) for x, m in zip(s.solutions, s.logical, strict=True)}
    assert len(mine) == len(qa) and mine == exhaustive


def test_symplectic_group_of_two_qubits():
    g = symplectic_group_4()
    assert len(g) == 720 == len({_key(m) for m in g})  # |Sp(4, 2)| = 11520 two-qubit Cliffords / 16 Paulis


def _stim_preserves(n: int, qa: np.ndarray, r: np.ndarray):
    """Independent of the uniform-operator algebra: the joint code from stim's tableau, the map applied to
    every stabilizer generator, membership by GF(2) rank. Returns the logical action, or None."""
    return local_map_action(n, np.stack([qa] + [r] * (2 * n)))


_RNG = np.random.default_rng(18)
_RANDOM_N = sorted(int(v) for parity in (0, 1) for v in _RNG.choice(np.arange(10 + parity, 51, 2), size=2, replace=False))


@pytest.mark.parametrize("n", _RANDOM_N)
def test_two_object_check_against_stim(n):
    rng = np.random.default_rng(n)
    qa, r, lg = two_object_check([n]).of(n)
    assert len(qa) == (16 if n % 2 else 18)
    for a, b, m in zip(qa, r, lg, strict=True):
        got = _stim_preserves(n, a, b)
        assert got is not None and np.array_equal(got, m), n
    # negative control: rejected pairs really break the code (qubit-wise CX and CZ, and random ones)
    group = symplectic_group_4()
    found = {(_key(a), _key(b)) for a, b in zip(qa, r, strict=True)}
    tries = [(two_qubit_symplectic(c), two_qubit_symplectic(c)) for c in ("CX 0 1", "CZ 0 1")]
    tries += [(group[i], group[j]) for i, j in rng.integers(0, len(group), size=(6, 2))]
    tries += [(group[rng.integers(len(group))], b) for b in r[:3]]  # the right R, a wrong Q_A (mostly)
    for a, b in tries:
        assert (_stim_preserves(n, a, b) is not None) == ((_key(a), _key(b)) in found)


def _assert_two_object_claims(table):
    for n, row in table.items():
        odd = n % 2 == 1
        assert row["solutions"] == row["actions"] == (16 if odd else 18), n
        assert row["uniform"] and row["swap"] and row["xxzz"] is odd and row["entangling"] is odd, n
        assert not row["cnot"] and not row["qubitwise_cx_cz"], n
        # SWAP·XXZZ is CNOT up to one-qubit Cliffords outside the logical group (S-type)
        assert row["cnot_class"] is odd, n


@pytest.mark.parametrize("top", [pytest.param(400), pytest.param(10_000, marks=pytest.mark.slow)])
def test_two_object_every_n(top):
    _assert_two_object_claims(two_object_table(range(2, top + 1)))


def test_two_object_claims_can_fail():
    # negative control of the claim checker: a table with one more (wrong) solution, or XXZZ at even n
    table = two_object_table([4, 5])
    _assert_two_object_claims(table)
    for n, field, value in [(4, "xxzz", True), (5, "solutions", 17), (4, "qubitwise_cx_cz", True)]:
        bad = {k: dict(v) for k, v in table.items()}
        bad[n][field] = value
        with pytest.raises(AssertionError):
            _assert_two_object_claims(bad)
    xxzz = two_qubit_symplectic("CX 0 1\nS 1\nCX 0 1\nH 0 1\nCX 0 1\nS 1\nCX 0 1\nH 0 1")
    assert _key(xxzz) not in cnot_class()  # XXZZ alone is in the iSWAP class, not CNOT's
    swap = two_qubit_symplectic("SWAP 0 1").astype(int)
    assert _key((swap @ xxzz.astype(int)) % 2) in cnot_class()


def test_two_object_check_refuses_n_one():
    from qclone.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        two_object_check([1, 2])
