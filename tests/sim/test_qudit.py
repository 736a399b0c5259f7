"""Dense qudit states."""

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol.qudit import max_entangled
from qclone.sim.qudit import QuditState


def test_input_pairs_and_reduced_states():
    d = 3
    v = np.array([0.6, 0.8j, 0])
    st = QuditState.from_input(d, v, 4, input_qudits=[2])
    assert np.allclose(st.reduced_density_matrix([2]), np.outer(v, v.conj()))
    st.prepare_pair(0, 3)
    assert np.allclose(st.reduced_density_matrix([0]), np.eye(3) / 3)
    assert st.mutual_information([0], [3]) == pytest.approx(2 * np.log2(3))
    joint = st.reduced_density_matrix([0, 3])
    phi = max_entangled(3)
    assert np.allclose(joint, np.outer(phi, phi.conj()))
    with pytest.raises(InvalidArgumentError, match="not both"):
        st.prepare_pair(0, 1)


def test_errors():
    with pytest.raises(InvalidArgumentError):
        QuditState(3, np.ones(8) / np.sqrt(8))
    with pytest.raises(InvalidArgumentError, match="norm"):
        QuditState(3, np.ones(9))
    with pytest.raises(TooLargeError):
        QuditState.from_input(8, np.eye(8)[0], 8)
    with pytest.raises(InvalidArgumentError):
        QuditState.from_input(3, np.eye(3)[0], 2, input_qudits=[5])
