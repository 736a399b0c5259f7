"""The "Clifford + small core" engine: exact for any k-qubit input (k ≤ 12) at any number of clones.

The joint state is a Clifford ``C`` (stim tableaux) applied to a dense k-qubit
input and |0…0⟩, with Pauli noise kept exactly. See
:mod:`qclone.sim.core.state` for the representation and the cost of every
operation; ``docs/core-engine.md`` for the memory plan.

Examples:
    >>> import numpy as np
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> lay = Layout(3)
    >>> st = CoreState.from_input(lay.num_qubits, np.array([0.6, 0.8j]), lay.inputs)
    >>> st.apply(protocol_circuit(lay))
    >>> np.allclose(st.reduced_density_matrix([lay.S(2)]), np.eye(2) / 2)
    True
"""

from qclone.sim.core.frame import MAX_CORE_QUBITS, MAX_RDM_QUBITS, CoreFrame
from qclone.sim.core.information import CoreInformation
from qclone.sim.core.serialize import FORMAT_VERSION
from qclone.sim.core.state import MAX_BLOCK_QUBITS, CoreEngine, CoreState, estimated_block_bytes

__all__ = [
    "CoreEngine",
    "CoreFrame",
    "CoreState",
    "CoreInformation",
    "FORMAT_VERSION",
    "MAX_BLOCK_QUBITS",
    "MAX_CORE_QUBITS",
    "MAX_RDM_QUBITS",
    "estimated_block_bytes",
]
