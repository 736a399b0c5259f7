"""GF(2) linear algebra against brute force over all combinations."""

from itertools import product

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qclone.errors import InvalidArgumentError
from qclone.sim import gf2


def brute_rank(m):
    """log2 of the number of distinct row combinations (the size of the row space)."""
    rows = m.astype(int)
    span = {tuple(np.zeros(m.shape[1], int))}
    for coeffs in product((0, 1), repeat=rows.shape[0]):
        span.add(tuple((np.array(coeffs) @ rows) % 2))
    return int(np.log2(len(span)))


matrices = st.integers(1, 6).flatmap(lambda r: st.integers(1, 9).flatmap(
    lambda c: st.lists(st.booleans(), min_size=r * c, max_size=r * c).map(lambda v: np.array(v, bool).reshape(r, c))))


@given(matrices)
def test_rank_and_nullspace_agree_with_brute_force(m):
    r = gf2.rank(m)
    assert r == brute_rank(m)
    null = gf2.nullspace(m)
    assert null.shape == (m.shape[1] - r, m.shape[1])
    assert not gf2.matmul(m, null.T).any()
    assert gf2.rank(null) == null.shape[0]


@given(matrices)
def test_reduced_form_spans_the_same_rows(m):
    e = gf2.row_reduce(m)
    assert e.rank == gf2.rank(np.concatenate([e.rows, m])) == gf2.rank(m)
    for i, p in enumerate(e.pivots):
        assert e.rows[i, p] and e.rows[:, p].sum() == 1 and not e.rows[i, :p].any()


def test_wide_and_tall_matrices_cross_word_boundaries():
    rng = np.random.default_rng(3)
    for shape in ((3, 200), (300, 70), (130, 130)):
        m = rng.random(shape) < 0.3
        assert np.array_equal(gf2.unpack_rows(gf2.pack_rows(m), shape[1]), m)
        null = gf2.nullspace(m)
        assert not gf2.matmul(m, null.T).any() and null.shape[0] == shape[1] - gf2.rank(m)
    # a matrix of known rank: product of random full-rank factors
    a = rng.random((150, 40)) < 0.5
    b = rng.random((40, 150)) < 0.5
    assert gf2.rank(gf2.matmul(a, b)) <= 40


def test_pivot_columns_keep_the_combination_part():
    m = np.array([[1, 0, 1, 0, 0], [1, 0, 0, 1, 0], [0, 0, 0, 0, 1]], dtype=bool)
    e = gf2.row_reduce(m, pivot_columns=2)
    assert e.pivots[0] == 0 and e.rank == 3
    assert gf2.rank(e.rows) == 3


def test_bad_matrices():
    with pytest.raises(InvalidArgumentError):
        gf2.rank(np.array([1, 0]))
    with pytest.raises(InvalidArgumentError):
        gf2.rank(np.array([[2, 0]]))
    with pytest.raises(InvalidArgumentError):
        gf2.matmul(np.ones((2, 3), bool), np.ones((2, 3), bool))
    assert gf2.nullspace(np.zeros((0, 3), bool)).shape == (3, 3)
