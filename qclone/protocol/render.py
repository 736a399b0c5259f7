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

from typing import TYPE_CHECKING, Literal

import numpy as np
import stim
if TYPE_CHECKING:  # qiskit is imported where it is used: importing it costs about half a second
    from qiskit import QuantumCircuit

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
    from qiskit import QuantumCircuit, QuantumRegister

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


def format_rows(*columns: str | np.ndarray) -> str:
    r"""Concatenate, row by row, constant strings and integer columns into one text.

    Every array column has the same length m (the number of rows); a string
    column is repeated in every row. Each column becomes an (m, width) byte
    table (numbers right-aligned, padded with NUL), the tables are laid side
    by side and the padding is dropped: a few numpy passes, so a million rows
    cost milliseconds where ``" ".join(map(str, ...))`` costs seconds.

    Examples:
        >>> format_rows("CX ", np.array([0, 10]), " ", np.array([1, 205]), "\n")
        'CX 0 1\nCX 10 205\n'
        >>> format_rows("H ", np.array([], dtype=np.int64))
        ''
    """
    arrays = [np.asarray(c, dtype=np.int64).ravel() for c in columns if not isinstance(c, str)]
    if not arrays:
        return "".join(columns)  # type: ignore[arg-type]
    m = arrays[0].size
    if any(a.size != m for a in arrays):
        raise InvalidArgumentError("format_rows: integer columns differ in length")
    if m == 0:
        return ""
    tables = []
    for c in columns:
        if isinstance(c, str):
            raw = np.frombuffer(c.encode(), dtype=np.uint8)
            if "\0" in c:
                raise InvalidArgumentError("format_rows: text columns may not contain NUL")
            tables.append(np.broadcast_to(raw, (m, raw.size)))
        else:
            tables.append(_digit_table(np.asarray(c, dtype=np.int64).ravel()))
    table = np.concatenate(tables, axis=1)
    return table[table != 0].tobytes().decode()


def _digit_table(a: np.ndarray) -> np.ndarray:
    """(len(a), width) ASCII digits of ``a``, right-aligned and NUL-padded."""
    if a.min(initial=0) < 0:
        raise InvalidArgumentError("format_rows writes non-negative integers only")
    top = int(a.max(initial=0))
    width = len(str(top))
    if top < 4 * a.size + 1024:
        # few distinct values (qubit indices): render each value once, then gather
        return _digit_table_direct(np.arange(top + 1, dtype=np.int64), width)[a]
    return _digit_table_direct(a, width)


def _digit_table_direct(a: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((a.size, width), dtype=np.uint8)
    rest = a.copy()
    for k in range(width):
        digit = (rest % 10 + 48).astype(np.uint8)
        # a digit is written where the number still has one (the ones digit always)
        out[:, width - 1 - k] = np.where((rest > 0) | (k == 0), digit, 0)
        rest //= 10
    return out


def instruction_text(name: str, targets: np.ndarray) -> str:
    """One stim instruction line (without newline) with all its targets, built in bulk.

    Examples:
        >>> instruction_text("CX", np.array([0, 1, 1, 2]))
        'CX 0 1 1 2'
    """
    if targets.size == 0:
        return name
    return name + format_rows(" ", targets)


def stim_text(circuit: Circuit) -> str:
    """stim's text format. Targets are formatted in bulk: no per-gate Python objects."""
    return "\n".join(instruction_text(ins.name, ins.targets) for ins in circuit.instructions)


def to_stim(circuit: Circuit) -> stim.Circuit:
    """A ``stim.Circuit`` (parsed from text once, which is far faster than appending)."""
    return stim.Circuit(stim_text(circuit))


def to_qasm2(circuit: Circuit) -> str:
    from qiskit import qasm2

    return qasm2.dumps(to_qiskit(circuit))


def to_qasm3(circuit: Circuit) -> str:
    from qiskit import qasm3

    return qasm3.dumps(to_qiskit(circuit))


_PREFIXES = ("reg_", "esc_")


def load_qasm(text: str) -> QuantumCircuit:
    """Load OpenQASM 2 or 3 text with Qiskit's loaders, as they give it.

    Raises:
        InvalidArgumentError: if the text is not valid OpenQASM.
    """
    from qiskit import qasm2, qasm3

    try:
        if text.lstrip().startswith("OPENQASM 2"):
            return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        return qasm3.loads(text)
    except Exception as e:  # the loaders raise several unrelated exception types
        message = " ".join(str(e).split()) or type(e).__name__
        raise InvalidArgumentError(f"not a valid OpenQASM program: {message}") from None


def from_qasm(text: str) -> QuantumCircuit:
    """Load OpenQASM 2 or 3 text with Qiskit's loaders, restoring qclone's register names.

    Raises:
        InvalidArgumentError: if the text is not valid OpenQASM.
    """
    from qiskit import QuantumCircuit, QuantumRegister

    loaded = load_qasm(text)

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
