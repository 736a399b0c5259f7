"""The one Layout: indices, labels, validation, and k = 1 being the plain protocol."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import Layout
from qclone.protocol.layout import single_clone_warning


def test_indices_follow_the_documented_layout():
    lay = Layout(4, references=1)
    assert lay.A() == 0
    assert [lay.S(j) for j in range(1, 5)] == [1, 2, 3, 4]
    assert [lay.N(j) for j in range(1, 5)] == [5, 6, 7, 8]
    assert lay.R() == 9
    assert lay.num_qubits == 10
    assert lay.labels == ("A", "S1", "S2", "S3", "S4", "N1", "N2", "N3", "N4", "R")
    assert lay.labels[lay.index_of("N3")] == "N3"
    assert lay.registers == (("A", 1), ("S", 4), ("N", 4), ("R", 1))
    assert (lay.n, lay.k) == (4, 1)


def test_plain_layout_is_the_default():
    assert Layout(3) == Layout(3, qubits=1, references=0)
    assert Layout(3).registers == (("A", 1), ("S", 3), ("N", 3))
    with pytest.raises(TypeError):
        Layout(3, 2)  # qubits and references are keyword-only: Layout(n) always means n clones


@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 3))
def test_every_qubit_has_one_index_and_one_label(k, n, refs):
    lay = Layout(n, qubits=k, references=refs)
    idx = list(lay.inputs) + [lay.S(j, i) for j in range(1, n + 1) for i in range(k)]
    idx += [lay.N(j, i) for j in range(1, n + 1) for i in range(k)] + [lay.R(r) for r in range(refs)]
    assert sorted(idx) == list(range(lay.num_qubits)) == idx
    assert [lay.label(q) for q in range(lay.num_qubits)] == list(lay.labels)
    assert all(lay.index_of(lab) == q for q, lab in enumerate(lay.labels))
    assert all(lay.index_of(lay.label(q, long=True)) == q for q in range(lay.num_qubits))
    assert lay.signals == tuple(q for j in range(1, n + 1) for q in lay.clone(j))
    assert lay.keys == tuple(q for j in range(1, n + 1) for q in lay.key(j))
    assert sum(size for _, size in lay.registers) == lay.num_qubits
    single = Layout(n)
    for i in range(k):
        emb = lay.embedding(i)
        assert emb[single.A()] == lay.A(i)
        assert all(emb[single.S(j)] == lay.S(j, i) and emb[single.N(j)] == lay.N(j, i) for j in range(1, n + 1))


def test_one_qubit_register_is_the_plain_layout():
    lay = Layout(4, qubits=1)
    assert lay == Layout(4)
    assert all(lay.S(j, i=0) == j and lay.N(j, i=0) == 4 + j for j in range(1, 5))
    assert lay.index_of("S0_2") == lay.index_of("S2") == 2
    assert lay.label(2, long=True) == "S0_2"
    with pytest.raises(InvalidArgumentError, match="unknown qubit label"):
        lay.index_of("S2", long=True)


def test_register_labels_and_blocks():
    lay = Layout(3, qubits=2)
    assert lay.labels[:6] == ("A0", "A1", "S0_1", "S1_1", "S0_2", "S1_2")
    assert lay.clone(2) == (4, 5) and lay.key(1) == (8, 9)
    assert lay.output_qubits(3) == lay.clone(3) and lay.output_qubit(3, i=1) == lay.S(3, i=1)
    assert Layout(4, qubits=2).output_qubits("A") == (0, 1)
    np.testing.assert_array_equal(lay.embedding(1), [1, 3, 5, 7, 9, 11, 13])


@pytest.mark.parametrize("bad", [0, -3, 1.5, "2", True, None])
def test_bad_clone_counts_and_register_sizes_are_rejected(bad):
    with pytest.raises(InvalidArgumentError):
        Layout(bad)
    with pytest.raises(InvalidArgumentError):
        Layout(2, qubits=bad)


def test_bad_indices_raise_actionable_errors():
    lay = Layout(3, qubits=2)
    with pytest.raises(InvalidArgumentError, match=r"0\.\.1"):
        lay.A(2)
    with pytest.raises(InvalidArgumentError, match=r"1\.\.3"):
        lay.S(0)
    with pytest.raises(InvalidArgumentError, match=r"0\.\.1"):
        lay.N(1, i=2)
    with pytest.raises(UnsupportedError):
        lay.R()
    with pytest.raises(InvalidArgumentError):
        lay.index_of("S3")  # the short form names register qubit 0 only when k = 1
    with pytest.raises(InvalidArgumentError):
        Layout(2).index_of("X1")
    with pytest.raises(UnsupportedError, match="even"):
        lay.output_qubits("A")
    with pytest.raises(InvalidArgumentError):
        Layout(2, references=-1)


def test_targets():
    lay = Layout(3)
    assert lay.check_target(2) == 2
    assert lay.check_target("3") == 3
    assert lay.check_target(np.int64(1)) == 1
    assert lay.output_qubit(3) == lay.S(3)
    for bad in (0, 4, "x", 2.0):
        with pytest.raises(InvalidArgumentError):
            lay.check_target(bad)
    with pytest.raises(UnsupportedError, match="even"):
        lay.check_target("A")
    assert Layout(2).check_target("a") == "A"
    assert Layout(2).output_qubit("A") == 0
    with pytest.raises(UnsupportedError):
        Layout(2).R()


def test_single_clone_warning_only_for_one_clone():
    assert single_clone_warning(1)
    assert all(single_clone_warning(n) is None for n in range(2, 10))
