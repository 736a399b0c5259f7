"""The mathematics of encrypted cloning: registers, circuits, dense operators, renderings.

Pure: no I/O, no simulation. Everything a user needs is importable from here.
"""

from qclone.protocol.circuit import Circuit, Instruction, ONE_QUBIT_GATES, TWO_QUBIT_GATES, flat_pairs
from qclone.protocol.build import (
    DEPTHS,
    bell_pairs,
    check_depth,
    clone_decryption,
    decryption,
    empty_circuit,
    encryption,
    input_decryption,
    protocol_circuit,
    registers_of,
    two_qubit_gate_count,
    x_parity_phase,
    z_parity_phase,
)
from qclone.protocol.operators import (
    MAX_DENSE_CLONES,
    DenseOperator,
    alphas,
    bell_state,
    clone_decryption_projector,
    encryption_exponential,
    encryption_sum,
    input_decryption_exponential,
)
from qclone.protocol.layout import DecryptTarget, Layout, check_clones, single_clone_warning
from qclone.protocol.compose import check_disjoint_supports, interleave, remap, sequence
from qclone.protocol.register_layout import RegisterLayout, check_register_size
from qclone.protocol.composition import (
    SCHEDULES,
    SERIES_TARGETS,
    Composition,
    DecryptionState,
    Module,
    parallel_composition,
    series_composition,
)
from qclone.protocol.register_circuits import (
    register_bell_pairs,
    register_decryption,
    register_encryption,
    register_protocol_circuit,
    register_registers,
    tile,
)
from qclone.protocol.render import (
    FORMATS,
    QASM2_REGISTER_NAMES,
    check_drawable,
    from_qasm,
    render,
    stim_text,
    to_qasm2,
    to_qasm3,
    to_qiskit,
    to_stim,
    to_text,
    write,
)

__all__ = [
    "Circuit", "Instruction", "ONE_QUBIT_GATES", "TWO_QUBIT_GATES", "flat_pairs",
    "DEPTHS", "bell_pairs", "check_depth", "clone_decryption", "decryption", "empty_circuit",
    "encryption", "input_decryption", "protocol_circuit", "registers_of", "two_qubit_gate_count",
    "x_parity_phase", "z_parity_phase",
    "MAX_DENSE_CLONES", "DenseOperator", "alphas", "bell_state", "clone_decryption_projector",
    "encryption_exponential", "encryption_sum", "input_decryption_exponential",
    "DecryptTarget", "Layout", "check_clones", "single_clone_warning",
    "check_disjoint_supports", "interleave", "remap", "sequence",
    "RegisterLayout", "check_register_size",
    "register_bell_pairs", "register_decryption", "register_encryption", "register_protocol_circuit",
    "register_registers", "tile",
    "SCHEDULES", "SERIES_TARGETS", "Composition", "DecryptionState", "Module", "parallel_composition", "series_composition",
    "FORMATS", "QASM2_REGISTER_NAMES", "check_drawable", "from_qasm", "write", "render", "stim_text", "to_qasm2", "to_qasm3", "to_qiskit", "to_stim", "to_text",
]
