import pytest

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import Layout, single_clone_warning


def test_indices_follow_the_documented_layout():
    lay = Layout(4, reference=True)
    assert lay.A == 0
    assert [lay.S(j) for j in range(1, 5)] == [1, 2, 3, 4]
    assert [lay.N(j) for j in range(1, 5)] == [5, 6, 7, 8]
    assert lay.R == 9
    assert lay.num_qubits == 10
    assert lay.labels[lay.index_of("N3")] == "N3"


@pytest.mark.parametrize("bad", [0, -3, 1.5, "2", True, None])
def test_bad_clone_counts_are_rejected(bad):
    with pytest.raises(InvalidArgumentError):
        Layout(bad)


def test_targets():
    lay = Layout(3)
    assert lay.check_target(2) == 2
    assert lay.check_target("3") == 3
    assert lay.output_qubit(3) == lay.S(3)
    for bad in (0, 4, "x", 2.0):
        with pytest.raises(InvalidArgumentError):
            lay.check_target(bad)
    with pytest.raises(UnsupportedError, match="even"):
        lay.check_target("A")
    assert Layout(2).check_target("a") == "A"
    assert Layout(2).output_qubit("A") == 0
    with pytest.raises(UnsupportedError):
        Layout(2).R


def test_single_clone_warning_only_for_one_clone():
    assert single_clone_warning(1)
    assert all(single_clone_warning(n) is None for n in range(2, 10))
