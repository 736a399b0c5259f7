"""The exhaustive local-Clifford search, its all-n proof check, and the plans it must agree with."""

import numpy as np
import pytest
import stim

from qclone.analysis.logical_search import (
    expected_classes,
    local_automorphisms,
    pair_group_check,
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
