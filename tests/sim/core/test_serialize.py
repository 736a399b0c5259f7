"""Stored core states keep loading: bytes written by an earlier qclone (a golden file) against a rebuilt state."""

from pathlib import Path

import numpy as np
import stim

from qclone.sim.core import CoreState
from qclone.sim.core.serialize import FORMAT_VERSION

GOLDEN_V1 = Path(__file__).parent / "data" / "corestate-v1.bin"


def golden_state() -> CoreState:
    """The operations that wrote ``corestate-v1.bin``: a 2-qubit mixed core, three blocks, noise before and
    after a measurement that is correlated with recorded noise (so the state has two terms)."""
    rho = np.array([[0.5, 0.2 - 0.1j, 0, 0.1], [0.2 + 0.1j, 0.3, 0, 0], [0, 0, 0.1, 0], [0.1, 0, 0, 0.1]], dtype=complex)
    st = CoreState.from_input(9, rho, [0, 4])
    st.apply(stim.Circuit("H 1 5\nCX 1 2 5 6\nCX 0 1 4 5\nH 0 4\nS 2\nCZ 2 3\nSQRT_X 8"))
    st.apply_pauli_channel(2, 0.1, 0.0, 0.2)
    st.apply_pauli_channel(0, 0.3, 0.0, 0.0)
    st.apply_pauli_channel(4, 0.0, 0.0, 0.25)
    st.apply_pauli_channel(8, 0.05, 0.05, 0.05)
    st.measure_pauli("X0*X4", np.random.default_rng(1))
    st.apply_pauli_channel(5, 0.0, 0.15, 0.0)
    st.apply(stim.Circuit("CX 6 7"))
    return st


def test_version_1_bytes_still_load_to_the_same_state():
    data = GOLDEN_V1.read_bytes()
    assert int.from_bytes(data[16:20], "little") == 1
    loaded = CoreState.from_bytes(data)
    ref = golden_state()
    assert ref.num_terms == loaded.num_terms == 2
    assert loaded.block_sizes == ref.block_sizes
    everything = list(range(9))
    assert np.allclose(loaded.reduced_density_matrix(everything), ref.reduced_density_matrix(everything), atol=1e-12)
    # and it keeps evolving like the original
    for st in (loaded, ref):
        st.apply(stim.Circuit("CX 0 3\nH 7"))
        st.apply_pauli_channel(3, 0.2, 0.1, 0.0)
    assert np.allclose(loaded.reduced_density_matrix(everything), ref.reduced_density_matrix(everything), atol=1e-12)


def test_current_bytes_round_trip_exactly():
    data = golden_state().to_bytes()
    assert int.from_bytes(data[16:20], "little") == FORMAT_VERSION
    assert CoreState.from_bytes(data).to_bytes() == data
