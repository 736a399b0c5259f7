"""Renderings of a :class:`~qclone.protocol.circuit.Circuit`: Qiskit, stim, OpenQASM 2/3, text.

Qubit ``i`` of a circuit is qubit ``i`` of the Qiskit circuit, whose
registers keep their names (``A``, ``S``, ``N``). OpenQASM 2 needs register
identifiers that start with a lower-case letter; Qiskit's exporter renames
``A``, ``S``, ``N`` to ``reg_A``, ``reg_S``, ``reg_N`` (and ``R`` to
``reg_R``), which :data:`QASM2_REGISTER_NAMES` records. OpenQASM 3 text keeps
the names unchanged, but Qiskit's OpenQASM 3 importer escapes them (``A`` is
read back as ``esc_A``). :func:`from_qasm` reads either format and restores
the names ``A``, ``S``, ``N``, ``R``.

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> qc = to_qiskit(protocol_circuit(Layout(2)))
    >>> [r.name for r in qc.qregs]
    ['A', 'S', 'N']
    >>> "qreg reg_S[2];" in to_qasm2(protocol_circuit(Layout(2)))
    True
"""

from __future__ import annotations

from typing import Literal

import stim
from qiskit import QuantumCircuit, QuantumRegister, qasm2, qasm3

from qclone.errors import InvalidArgumentError
from qclone.protocol.circuit import Circuit

Format = Literal["text", "qasm2", "qasm3", "stim"]
FORMATS: tuple[str, ...] = ("text", "qasm2", "qasm3", "stim")


def qasm2_register_name(name: str) -> str:
    """The identifier a register gets in OpenQASM 2 (Qiskit's own renaming rule)."""
    return name if name[:1].islower() else f"reg_{name}"


QASM2_REGISTER_NAMES = {name: qasm2_register_name(name) for name in ("A", "S", "N", "R")}

_QISKIT_1Q = {
    "I": "id",
    "H": "h",
    "X": "x",
    "Y": "y",
    "Z": "z",
    "S": "s",
    "S_DAG": "sdg",
    "SQRT_X": "sx",
    "SQRT_X_DAG": "sxdg",
}
_QISKIT_2Q = {"CX": "cx", "CZ": "cz", "SWAP": "swap"}


def to_qiskit(circuit: Circuit, *, name: str = "encrypted_cloning") -> QuantumCircuit:
    """A Qiskit ``QuantumCircuit`` with the circuit's named registers."""
    regs = [QuantumRegister(size, rname) for rname, size in circuit.registers if size > 0]
    qc = QuantumCircuit(*regs, name=name)
    qubits = qc.qubits
    for ins in circuit.instructions:
        if ins.arity == 1:
            getattr(qc, _QISKIT_1Q[ins.name])([qubits[t] for t in ins.targets.tolist()])
        else:
            gate = getattr(qc, _QISKIT_2Q[ins.name])
            for a, b in ins.groups:
                gate(qubits[a], qubits[b])
    return qc


def stim_text(circuit: Circuit) -> str:
    """stim's text format. Targets are joined in bulk: no per-gate Python objects."""
    return "\n".join(str(ins) for ins in circuit.instructions)


def to_stim(circuit: Circuit) -> stim.Circuit:
    """A ``stim.Circuit`` (parsed from text once, which is far faster than appending)."""
    return stim.Circuit(stim_text(circuit))


def to_qasm2(circuit: Circuit) -> str:
    return qasm2.dumps(to_qiskit(circuit))


def to_qasm3(circuit: Circuit) -> str:
    return qasm3.dumps(to_qiskit(circuit))


_PREFIXES = ("reg_", "esc_")


def from_qasm(text: str) -> QuantumCircuit:
    """Load OpenQASM 2 or 3 text with Qiskit's loaders, restoring qclone's register names.

    Raises:
        InvalidArgumentError: if the text is not valid OpenQASM.
    """
    try:
        if text.lstrip().startswith("OPENQASM 2"):
            loaded = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        else:
            loaded = qasm3.loads(text)
    except Exception as e:  # the loaders raise several unrelated exception types
        raise InvalidArgumentError(f"not valid OpenQASM: {' '.join(str(e).split())}") from None

    def restore(name: str) -> str:
        for p in _PREFIXES:
            if name.startswith(p) and name[len(p):] in QASM2_REGISTER_NAMES:
                return name[len(p):]
        return name

    regs = [QuantumRegister(r.size, restore(r.name)) for r in loaded.qregs]
    out = QuantumCircuit(*regs, *loaded.cregs, name=loaded.name)
    out.compose(loaded, qubits=out.qubits, clbits=out.clbits, inplace=True)
    return out


def to_text(circuit: Circuit, *, fold: int = 100) -> str:
    """Qiskit's text drawing of the circuit."""
    return str(to_qiskit(circuit).draw("text", fold=fold))


def render(circuit: Circuit, fmt: str) -> str:
    """Render in one of :data:`FORMATS`."""
    if fmt == "text":
        return to_text(circuit)
    if fmt == "qasm2":
        return to_qasm2(circuit)
    if fmt == "qasm3":
        return to_qasm3(circuit)
    if fmt == "stim":
        return str(to_stim(circuit))
    raise InvalidArgumentError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
