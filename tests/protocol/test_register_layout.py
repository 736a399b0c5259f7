"""Register layout: indices, labels, and agreement with the one-qubit layout."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import Layout, RegisterLayout


@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 3))
def test_every_qubit_has_one_index_and_one_label(k, n, refs):
    lay = RegisterLayout(k, n, refs)
    idx = list(lay.inputs) + [lay.S(i, j) for j in range(1, n + 1) for i in range(k)]
    idx += [lay.N(i, j) for j in range(1, n + 1) for i in range(k)] + [lay.R(r) for r in range(refs)]
    assert sorted(idx) == list(range(lay.num_qubits)) == idx
    assert [lay.label(q) for q in range(lay.num_qubits)] == list(lay.labels)
    assert all(lay.index_of(lab) == q for q, lab in enumerate(lay.labels))
    assert lay.signals == tuple(q for j in range(1, n + 1) for q in lay.clone(j))
    assert lay.keys == tuple(q for j in range(1, n + 1) for q in lay.key(j))
    for i in range(k):
        emb = lay.embedding(i)
        single = Layout(n)
        assert emb[single.A] == lay.A(i)
        assert all(emb[single.S(j)] == lay.S(i, j) and emb[single.N(j)] == lay.N(i, j) for j in range(1, n + 1))


def test_one_qubit_register_has_the_one_qubit_indices():
    lay, single = RegisterLayout(1, 4), Layout(4)
    assert lay.num_qubits == single.num_qubits
    assert all(lay.S(0, j) == single.S(j) and lay.N(0, j) == single.N(j) for j in range(1, 5))


def test_bad_arguments_raise_actionable_errors():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidArgumentError):
            RegisterLayout(bad, 2)
        with pytest.raises(InvalidArgumentError):
            RegisterLayout(2, bad)
    lay = RegisterLayout(2, 3)
    with pytest.raises(InvalidArgumentError, match="0..1"):
        lay.A(2)
    with pytest.raises(InvalidArgumentError, match="1..3"):
        lay.S(0, 0)
    with pytest.raises(UnsupportedError):
        lay.R(0)
    with pytest.raises(InvalidArgumentError):
        lay.index_of("S3")
    with pytest.raises(UnsupportedError, match="even"):
        lay.output_qubits("A")
    assert RegisterLayout(2, 4).output_qubits("A") == (0, 1)
    with pytest.raises(InvalidArgumentError):
        RegisterLayout(2, 3, references=-1)
