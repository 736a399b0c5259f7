"""The mathematics of encrypted cloning: layouts, circuits, dense operators, compositions, renderings.

Pure: no I/O, no simulation. What a user needs is importable from here; the
building blocks behind it live in the submodules (:mod:`~qclone.protocol.layout`,
:mod:`~qclone.protocol.build`, :mod:`~qclone.protocol.circuit`,
:mod:`~qclone.protocol.operators`, :mod:`~qclone.protocol.composition`,
:mod:`~qclone.protocol.render`, :mod:`~qclone.protocol.qudit`).

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit, render
    >>> print(render(protocol_circuit(Layout(2), decrypt=1), "stim").splitlines()[0])
    H 1 2
"""

from qclone.protocol.build import (
    DEPTHS,
    bell_pairs,
    decryption,
    encryption,
    protocol_circuit,
    two_qubit_gate_count,
)
from qclone.protocol.circuit import Circuit, Instruction
from qclone.protocol.composition import (
    Composition,
    Module,
    parallel_composition,
    series_composition,
)
from qclone.protocol.layout import DecryptTarget, Layout
from qclone.protocol.operators import (
    DenseOperator,
    bell_state,
    encryption_exponential,
    encryption_sum,
)
from qclone.protocol.render import (
    FORMATS,
    STAGES,
    from_qasm,
    protocol_to_qiskit,
    render,
    to_qasm2,
    to_qasm3,
    to_qiskit,
    to_stim,
    to_text,
)

__all__ = [
    "Layout", "DecryptTarget",
    "Circuit", "Instruction",
    "DEPTHS", "bell_pairs", "encryption", "decryption", "protocol_circuit", "two_qubit_gate_count",
    "DenseOperator", "bell_state", "encryption_exponential", "encryption_sum",
    "Composition", "Module", "parallel_composition", "series_composition",
    "FORMATS", "render", "from_qasm", "to_qasm2", "to_qasm3", "to_qiskit", "to_stim", "to_text",
    "STAGES", "protocol_to_qiskit",
]  # fmt: skip
