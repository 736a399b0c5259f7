"""Renderings of a :class:`~qclone.protocol.circuit.Circuit`: Qiskit, stim, OpenQASM 2/3, text.

Qubit ``i`` of a circuit is qubit ``i`` of the Qiskit circuit, whose
registers keep their names (``A``, ``S``, ``N``). OpenQASM 2 needs register
identifiers that start with a lower-case letter; Qiskit's exporter renames
``A``, ``S``, ``N`` to ``reg_A``, ``reg_S``, ``reg_N`` (and ``R`` to
``reg_R``), which :data:`QASM2_REGISTER_NAMES` records. OpenQASM 3 text keeps
the names unchanged, but Qiskit's OpenQASM 3 importer escapes them (``A`` is
read back as ``esc_A``). :func:`from_qasm` reads either format and restores
the names ``A``, ``S``, ``N``, ``R``.

:func:`protocol_to_qiskit` exports the whole protocol for a layout as Qiskit
users expect it: the same gates as :func:`to_qiskit` of
:func:`~qclone.protocol.protocol_circuit`, a barrier between the stages (Bell
pairs | encryption | decryption) and ``circuit.metadata`` naming what it is
(n, k, the decrypted target, the depth variant). The barriers change no
unitary; they keep a transpiler from merging gates across stages, so the
encrypted state really exists between encryption and decryption. stim and
OpenQASM texts are renderings of a :class:`~qclone.protocol.circuit.Circuit`
and carry no barriers.

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> qc = to_qiskit(protocol_circuit(Layout(2)))
    >>> [r.name for r in qc.qregs]
    ['A', 'S', 'N']
    >>> "qreg reg_S[2];" in to_qasm2(protocol_circuit(Layout(2)))
    True
    >>> qc = protocol_to_qiskit(Layout(3), decrypt=2)
    >>> qc.metadata["n"], qc.metadata["decrypt"], qc.metadata["stages"], qc.count_ops()["barrier"]
    (3, 2, ['bell_pairs', 'encryption', 'decryption'], 2)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NoReturn

import numpy as np
import stim

if TYPE_CHECKING:  # qiskit is imported where it is used: importing it costs about half a second
    from qiskit import QuantumCircuit

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol.build import Depth, bell_pairs, check_depth, decryption, encryption
from qclone.protocol.circuit import Circuit
from qclone.protocol.layout import DecryptTarget, Layout

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


#: The stages of the protocol in time order; :func:`protocol_to_qiskit` puts a barrier between them.
STAGES: tuple[str, ...] = ("bell_pairs", "encryption", "decryption")


def protocol_to_qiskit(
    layout: Layout,
    *,
    decrypt: DecryptTarget | None = None,
    depth: Depth = "linear",
    name: str = "encrypted_cloning",
) -> QuantumCircuit:
    """The protocol as a Qiskit ``QuantumCircuit``: stages separated by barriers, described by metadata.

    The gates are those of ``protocol_circuit(layout, decrypt=decrypt, depth=depth)`` (so the
    unitary is the same), on the layout's named registers (``A``, ``S``, ``N``, and ``R`` for
    references). A barrier over all qubits separates Bell pairs, encryption and, when
    ``decrypt`` is given, decryption. ``circuit.metadata`` holds:

    * ``n`` (clones), ``k`` (register qubits), ``references``;
    * ``decrypt``: the decrypted clone (1..n), ``"A"``, or ``None`` (no decryption stage);
    * ``depth``: the encryption variant, ``"linear"`` (CNOT ladder) or ``"log"`` (parity trees);
    * ``stages``: the stage names in order (:data:`STAGES`, without ``decryption`` if none).

    ``Layout(md["n"], qubits=md["k"], references=md["references"])`` with ``decrypt`` and ``depth``
    from the metadata builds the same circuit again; QPY keeps both barriers and metadata.
    """
    from qiskit import QuantumCircuit, QuantumRegister

    depth = check_depth(depth)
    if decrypt is not None:
        decrypt = layout.check_target(decrypt)
    empty = Circuit(layout.registers)
    stages = [bell_pairs(layout, empty), encryption(layout, depth=depth, circuit=empty)]
    if decrypt is not None:
        stages.append(decryption(layout, decrypt, depth=depth, circuit=empty))
    regs = [QuantumRegister(size, rname) for rname, size in layout.registers if size > 0]
    qc = QuantumCircuit(*regs, name=name)
    for i, stage in enumerate(stages):
        if i:
            qc.barrier()
        qc.compose(to_qiskit(stage), inplace=True)
    qc.metadata = {
        "n": layout.clones,
        "k": layout.qubits,
        "references": layout.references,
        "decrypt": decrypt,
        "depth": depth,
        "stages": list(STAGES[: len(stages)]),
    }
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
        return "".join(columns)  # type: ignore[arg-type]  # every column is a str on this path
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
    return str(table[table != 0].tobytes().decode())


def _digit_table(a: np.ndarray) -> np.ndarray:
    """(len(a), width) ASCII digits of ``a``, right-aligned and NUL-padded."""
    if a.min(initial=0) < 0:
        raise InvalidArgumentError("format_rows writes non-negative integers only")
    top = int(a.max(initial=0))
    width = len(str(top))
    if top < 4 * a.size + 1024:
        # few distinct values (qubit indices): render each value once, then gather
        return np.asarray(_digit_table_direct(np.arange(top + 1, dtype=np.int64), width)[a])
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


# --- streaming writers: stim, OpenQASM 2, OpenQASM 3 ------------------------------------------

#: Rows rendered per numpy pass: a table of about a megabyte, which stays in the CPU cache.
WRITE_CHUNK = 1 << 16

_POW10 = tuple(10**k for k in range(20))


class _Sink:
    """Collects the bytes a writer produces: a binary stream, or a list joined at the end."""

    def __init__(self, stream: BinaryIO | None) -> None:
        self.stream = stream
        self.parts: list[bytes] = []

    def write(self, data: bytes | np.ndarray) -> None:
        if self.stream is not None:
            self.stream.write(data if isinstance(data, bytes) else data.data.cast("B"))
        else:
            self.parts.append(data if isinstance(data, bytes) else data.tobytes())

    def text(self) -> str:
        return b"".join(self.parts).decode()


def _digit_values(lo: int, hi: int, width: int) -> np.ndarray:
    """The decimal texts of lo..hi-1, all ``width`` digits long, as one ``V{width}`` item each."""
    count = hi - lo
    columns = np.empty((width, count), dtype=np.uint8)
    for p in range(width):
        # digit p of consecutive numbers: each of 0..9 repeated 10^(width-1-p) times, cycling
        unit = _POW10[width - 1 - p]
        first, last = lo // unit, (hi - 1) // unit
        column = np.repeat((np.arange(first, last + 1) % 10 + 48).astype(np.uint8), unit)
        columns[p] = column[lo - first * unit : lo - first * unit + count]
    return np.ascontiguousarray(columns.T).view(f"V{width}").ravel()


class _QubitText:
    """How each qubit is written: ``prefix + decimal(local index) + suffix``, per register.

    Qubits fall into *classes* (register, number of digits); within a class
    every qubit's text has the same length, so a run of rows whose columns stay
    in one class each is a fixed-width table filled by a few numpy gathers.
    """

    def __init__(self, registers: Sequence[tuple[bytes, int]], suffix: bytes = b"") -> None:
        sizes = [size for _, size in registers]
        self.num_qubits = sum(sizes)
        self.suffix = suffix
        #: per class: (prefix, digits, lowest qubit of the class minus the digit table's first value)
        self.classes: list[tuple[bytes, int, int]] = []
        self.key = np.zeros(max(self.num_qubits, 1), dtype=np.uint8)
        start = 0
        for prefix, size in registers:
            for d in range(1, len(str(max(size - 1, 0))) + 1):
                lo, hi = (0 if d == 1 else _POW10[d - 1]), min(_POW10[d], size)
                if hi <= lo:
                    continue
                self.key[start + lo : start + hi] = len(self.classes)
                self.classes.append((prefix, d, start + (0 if d == 1 else lo)))
            start += size
        if len(self.classes) > 255:  # pragma: no cover - needs hundreds of registers
            raise InvalidArgumentError("too many registers to render in bulk")
        self._tables: dict[int, np.ndarray] = {}
        self._padded: np.ndarray | None = None
        top = max(sizes, default=1)
        self._top = top

    def digits(self, d: int) -> np.ndarray:
        t = self._tables.get(d)
        if t is None:
            lo = 0 if d == 1 else _POW10[d - 1]
            t = self._tables[d] = _digit_values(lo, min(_POW10[d], self._top), d)
        return t

    def padded(self) -> np.ndarray:
        """(num_qubits, width) bytes of every qubit's text, NUL-padded (the slow path's table, built once)."""
        if self._padded is None:
            self._padded = self._build_padded()
        return self._padded

    def _build_padded(self) -> np.ndarray:
        width = max(len(p) + d for p, d, _ in self.classes) + len(self.suffix)
        out = np.zeros((self.num_qubits, width), dtype=np.uint8)
        for c, (prefix, d, base) in enumerate(self.classes):
            rows = np.flatnonzero(self.key[: self.num_qubits] == c)
            text = np.concatenate([
                np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (rows.size, len(prefix))),
                self.digits(d)[rows - base].view(np.uint8).reshape(rows.size, d),
                np.broadcast_to(np.frombuffer(self.suffix, dtype=np.uint8), (rows.size, len(self.suffix))),
            ], axis=1)
            out[rows, : text.shape[1]] = text
        return out


def _write_rows(sink: _Sink, parts: Sequence[bytes | int], columns: Sequence[np.ndarray], qt: _QubitText) -> None:
    """Write one row per gate: ``parts`` are constant bytes or an index into ``columns`` (qubits).

    Rows are cut into runs where every column stays in one class of ``qt``; a
    run is a fixed-width byte table: the constant bytes broadcast once, each
    column's digits gathered from a table of all numbers with that many digits.
    Many short runs (scattered qubits) take a NUL-padded table and one
    compress instead.
    """
    rows = columns[0].size
    for start in range(0, rows, WRITE_CHUNK):
        cols = [c[start : start + WRITE_CHUNK] for c in columns]
        r = cols[0].size
        keys = [qt.key[c] for c in cols]
        key = keys[0].astype(np.int64)
        for k in keys[1:]:
            key = key * 256 + k
        breaks = np.flatnonzero(key[1:] != key[:-1]) + 1
        if breaks.size > 16 + r // 64:
            _write_rows_padded(sink, parts, cols, qt)
            continue
        bounds = [0, *breaks.tolist(), r]
        for s, e in itertools.pairwise(bounds):
            _write_run(sink, parts, [c[s:e] for c in cols], [int(k[s]) for k in keys], qt)


def _write_run(sink: _Sink, parts: Sequence[bytes | int], cols: Sequence[np.ndarray], classes: Sequence[int], qt: _QubitText) -> None:
    template = bytearray()
    names: list[str] = []
    formats: list[str] = []
    offsets: list[int] = []
    fills: list[tuple[np.ndarray, np.ndarray]] = []
    for part in parts:
        if isinstance(part, bytes):
            template += part
            continue
        prefix, d, base = qt.classes[classes[part]]
        template += prefix
        names.append(f"f{len(names)}")
        formats.append(f"V{d}")
        offsets.append(len(template))
        fills.append((qt.digits(d), cols[part] - base))
        template += b"\0" * d + qt.suffix
    width = len(template)
    table = np.empty(cols[0].size, dtype=f"V{width}")
    table[:] = np.frombuffer(bytes(template), dtype=f"V{width}")[0]  # one fixed-size copy per row
    fields = table.view(np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": width}))
    for name, (digits, index) in zip(names, fills):
        if index.size > 1 and index[-1] - index[0] == index.size - 1 and bool(np.all(np.diff(index) == 1)):
            fields[name] = digits[index[0] : index[-1] + 1]  # consecutive qubits: a slice, no gather
        else:
            fields[name] = np.take(digits, index)
    sink.write(table)


def _write_rows_padded(sink: _Sink, parts: Sequence[bytes | int], cols: Sequence[np.ndarray], qt: _QubitText) -> None:
    padded = qt.padded()
    r = cols[0].size
    pieces = [np.broadcast_to(np.frombuffer(p, dtype=np.uint8), (r, len(p))) if isinstance(p, bytes) else padded[cols[p]]
              for p in parts]
    table = np.concatenate(pieces, axis=1)
    sink.write(table[table != 0])


def _fused(circuit: Circuit) -> list[tuple[str, list[np.ndarray]]]:
    """Consecutive instructions of one gate merged, as stim's parser merges them."""
    out: list[tuple[str, list[np.ndarray]]] = []
    for ins in circuit.instructions:
        if out and out[-1][0] == ins.name:
            out[-1][1].append(ins.targets)
        else:
            out.append((ins.name, [ins.targets]))
    return out


def write_stim(circuit: Circuit, stream: BinaryIO) -> None:
    """Write stim's text format to a binary stream, in bulk (see :func:`stim_text`)."""
    _stim(circuit, _Sink(stream))


def _stim(circuit: Circuit, sink: _Sink) -> None:
    qt = _QubitText([(b" ", circuit.num_qubits)])
    for i, (name, chunks) in enumerate(_fused(circuit)):
        sink.write(("\n" if i else "").encode() + name.encode())
        for t in chunks:
            if t.size > 1 and t.size % 2 == 0:
                # two columns per row keep runs long when the columns differ in width (fan-outs)
                _write_rows(sink, [0, 1], [t[0::2], t[1::2]], qt)
            else:
                _write_rows(sink, [0], [t], qt)


def stim_text(circuit: Circuit) -> str:
    """stim's text format, exactly as ``str(stim.Circuit(...))`` prints it.

    Consecutive instructions of one gate share a line, as stim's parser merges
    them. Targets are written in bulk by numpy (no Python string per gate).

    Examples:
        >>> from qclone.protocol import Circuit
        >>> print(stim_text(Circuit((("q", 3),)).append("H", [0, 1]).append("CX", [0, 1]).append("CX", [1, 2])))
        H 0 1
        CX 0 1 1 2
    """
    sink = _Sink(None)
    _stim(circuit, sink)
    return sink.text()


_QASM_1Q = {**_QISKIT_1Q, "I": "id"}
#: OpenQASM 3's stdgates.inc has no sxdg: Qiskit's exporter defines it, and so do we (same text).
_QASM3_SXDG = "gate sxdg _gate_q_0 {\n  s _gate_q_0;\n  h _gate_q_0;\n  s _gate_q_0;\n}\n"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _qasm(circuit: Circuit, sink: _Sink, version: int) -> None:
    regs = [(name, size) for name, size in circuit.registers if size > 0]
    if version == 2:
        names = [qasm2_register_name(name) for name, _ in regs]
        head = ["OPENQASM 2.0;", 'include "qelib1.inc";'] + [f"qreg {r}[{size}];" for r, (_, size) in zip(names, regs)]
        sink.write("\n".join(head).encode())
        # rows start with their newline: Qiskit's OpenQASM 2 text has none at the end
        lead, sep, end = b"\n", b",", b";"
    else:
        names = [name for name, _ in regs]
        head = ["OPENQASM 3.0;", 'include "stdgates.inc";']
        if any(ins.name == "SQRT_X_DAG" for ins in circuit.instructions):
            head.append(_QASM3_SXDG.rstrip("\n"))
        head += [f"qubit[{size}] {r};" for r, (_, size) in zip(names, regs)]
        sink.write(("\n".join(head) + "\n").encode())
        lead, sep, end = b"", b", ", b";\n"
    for r in names:
        if not _IDENTIFIER.match(r):
            raise InvalidArgumentError(f"register name {r!r} is not an OpenQASM identifier")
    qt = _QubitText([(f"{r}[".encode(), size) for r, (_, size) in zip(names, regs)], suffix=b"]")
    for ins in circuit.instructions:
        if ins.arity == 1:
            _write_rows(sink, [lead + _QASM_1Q[ins.name].encode() + b" ", 0, end], [ins.targets], qt)
        else:
            _write_rows(sink, [lead + _QISKIT_2Q[ins.name].encode() + b" ", 0, sep, 1, end], [ins.targets[0::2], ins.targets[1::2]], qt)


def write_qasm2(circuit: Circuit, stream: BinaryIO) -> None:
    """Write OpenQASM 2 to a binary stream, in bulk: the text of :func:`to_qasm2`."""
    _qasm(circuit, _Sink(stream), 2)


def write_qasm3(circuit: Circuit, stream: BinaryIO) -> None:
    """Write OpenQASM 3 to a binary stream, in bulk: the text of :func:`to_qasm3`."""
    _qasm(circuit, _Sink(stream), 3)


def to_qasm2(circuit: Circuit) -> str:
    """OpenQASM 2 text, the same as Qiskit's ``qasm2.dumps(to_qiskit(circuit))``, written by numpy.

    Registers ``A``, ``S``, ``N``, ``R`` become ``reg_A`` .. (Qiskit's rule,
    :func:`qasm2_register_name`).
    """
    sink = _Sink(None)
    _qasm(circuit, sink, 2)
    return sink.text()


def to_qasm3(circuit: Circuit) -> str:
    """OpenQASM 3 text, the same as Qiskit's ``qasm3.dumps(to_qiskit(circuit))``, written by numpy."""
    sink = _Sink(None)
    _qasm(circuit, sink, 3)
    return sink.text()


def to_stim(circuit: Circuit) -> stim.Circuit:
    """A ``stim.Circuit`` (parsed from text once, which is far faster than appending)."""
    return stim.Circuit(stim_text(circuit))


_PREFIXES = ("reg_", "esc_")


@dataclass(frozen=True)
class QasmBudget:
    """What :func:`load_qasm` accepts at most; beyond any of these it refuses the program before
    Qiskit sees it (so the time and memory a program costs are bounded by its budget).

    Attributes:
        chars: length of the program text.
        operations: operations after expanding every gate definition (a definition that calls
            the previous one twice, nested d deep, costs 2^d) and every register broadcast.
        qubits: qubits declared in all quantum registers together.
        bits: bits declared in all classical registers together.
        nesting: depth of brackets ``{ ( [`` inside each other.
        qasm3_tokens: tokens of an OpenQASM 3 program (Qiskit's OpenQASM 3 loader parses in
            Python, about 25 µs per token; its OpenQASM 2 loader is compiled and ~50x faster).
    """

    chars: int = 10_000_000
    operations: int = 10_000_000
    qubits: int = 100_000
    bits: int = 100_000
    nesting: int = 32
    qasm3_tokens: int = 10_000_000


#: The default budget of :func:`load_qasm` (generous: the protocol's own circuits pass it).
DEFAULT_QASM_BUDGET = QasmBudget()
#: The one header each version may include (Qiskit ships them; no file is ever read).
QASM_INCLUDES = {2: "qelib1.inc", 3: "stdgates.inc"}

_QASM_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))|(?P<string>\"[^\"\n]*\"|'[^'\n]*')"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<number>(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?)|(?P<other>.)",
    re.DOTALL,
)
_MODIFIERS = frozenset({"ctrl", "negctrl", "inv", "pow"})
# statements that are not gate calls: they cost one operation each (times their broadcast)
_OPENING, _CLOSING = "{([", "})]"


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    return f"line {line}, column {pos - (text.rfind(chr(10), 0, pos) + 1) + 1}"


def _refuse(text: str, pos: int, what: str, *, too_large: bool = False) -> None:
    cls = TooLargeError if too_large else InvalidArgumentError
    raise cls(f"OpenQASM program refused at {_where(text, pos)}: {what}")


def _int_literal(tok: tuple[str, str, int] | None) -> int | None:
    if tok is None or tok[0] != "number" or not tok[1].replace("_", "").isdigit():
        return None
    return int(tok[1].replace("_", ""))


def check_qasm(text: str, budget: QasmBudget = DEFAULT_QASM_BUDGET) -> int:
    """Check OpenQASM 2 or 3 text against ``budget`` without running any loader; the OpenQASM
    version (2 or 3).

    Scans the tokens once: ``include`` may name only the version's standard header
    (:data:`QASM_INCLUDES`, never a path); register sizes are integer literals within the
    budget; every statement's cost is the cost of the gate it calls (a defined gate: the sum of
    its body's, computed once per definition) times its broadcast over whole registers.

    Raises:
        InvalidArgumentError: a forbidden include or a malformed declaration, with the position
            in the program (nothing else is quoted).
        TooLargeError: beyond the budget.

    Examples:
        >>> check_qasm('OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; h q;')
        2
        >>> check_qasm('OPENQASM 2.0; include "/etc/passwd"; qreg q[1];')
        Traceback (most recent call last):
        ...
        qclone.errors.InvalidArgumentError: OpenQASM program refused at line 1, column 15: \
an OpenQASM 2 program may include "qelib1.inc" only
    """
    if not isinstance(text, str):
        raise InvalidArgumentError("an OpenQASM program is text")
    if len(text) > budget.chars:
        raise TooLargeError(f"an OpenQASM program has at most {budget.chars} characters, got {len(text)}")
    tokens: list[tuple[str, str, int]] = []
    depth = 0
    for m in _QASM_TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind in ("space", "comment"):
            continue
        value = m.group()
        if value in _OPENING:
            depth += 1
            if depth > budget.nesting:
                _refuse(text, m.start(), f"brackets nest deeper than {budget.nesting}", too_large=True)
        elif value in _CLOSING:
            depth = max(depth - 1, 0)
        tokens.append((kind, value, m.start()))
    version = 3
    if len(tokens) >= 2 and tokens[0][1] == "OPENQASM":
        version = 2 if tokens[1][1].startswith("2") else 3
    if version == 3 and len(tokens) > budget.qasm3_tokens:
        raise TooLargeError(f"an OpenQASM 3 program has at most {budget.qasm3_tokens} tokens, got {len(tokens)} "
                            "(OpenQASM 2 allows longer programs)")
    cap = budget.operations + 1
    costs: dict[str, int] = {}  # gate or subroutine name -> expanded operations
    registers: dict[str, int] = {}
    qubits = bits = 0
    # blocks: [name of the gate being defined or None, accumulated cost, multiplier]
    blocks: list[list[Any]] = [[None, 0, 1]]
    stmt: list[tuple[str, str, int]] = []

    def declare(size_tok: tuple[str, str, int] | None, name_tok: tuple[str, str, int] | None, quantum: bool,
                at: int) -> None:
        nonlocal qubits, bits
        size = 1 if size_tok is None else _int_literal(size_tok)
        if size is None or name_tok is None or name_tok[0] != "name":
            _refuse(text, at, "a register is declared with an integer literal size, e.g. qreg q[2] or qubit[2] q")
        assert size is not None and name_tok is not None
        registers[name_tok[1]] = size
        if quantum:
            qubits += size
            if qubits > budget.qubits:
                _refuse(text, at, f"at most {budget.qubits} qubits are allowed", too_large=True)
        else:
            bits += size
            if bits > budget.bits:
                _refuse(text, at, f"more than {budget.bits} classical bits", too_large=True)

    def cost_of(st: list[tuple[str, str, int]]) -> int:
        """Operations a statement expands to (0 for declarations)."""
        i = 0
        first = st[0][1]
        if first in ("OPENQASM", "opaque", "input", "output", "const", "let", "defcalgrammar", "cal"):
            return 0
        if first == "include":
            name = st[1][1][1:-1] if len(st) > 1 and st[1][0] == "string" else None
            if len(st) != 2 or name != QASM_INCLUDES[version]:
                _refuse(text, st[0][2], f"an OpenQASM {version} program may include \"{QASM_INCLUDES[version]}\" only")
            return 0
        if first in ("qreg", "creg"):
            if len(st) != 5 or st[2][1] != "[" or st[4][1] != "]":
                _refuse(text, st[0][2], "a register is declared as qreg q[2] or creg c[2]")
            declare(st[3], st[1], first == "qreg", st[0][2])
            return 0
        if first in ("qubit", "bit"):
            if len(st) >= 2 and st[1][1] == "[":
                if len(st) != 5 or st[3][1] != "]":
                    _refuse(text, st[0][2], "a register is declared with an integer literal size, e.g. qubit[2] q")
                declare(st[2], st[4], first == "qubit", st[0][2])
            elif len(st) == 2:
                declare(None, st[1], first == "qubit", st[0][2])
            else:
                _refuse(text, st[0][2], "a register is declared as qubit[2] q or bit[2] c")
            return 0
        if first == "if" and len(st) > 1 and st[1][1] == "(":  # OpenQASM 2: if (c == 1) stmt
            i = _skip_group(st, 1)
        while i < len(st) and st[i][1] in _MODIFIERS:
            i += 1
            if i < len(st) and st[i][1] == "(":
                i = _skip_group(st, i)
            if i < len(st) and st[i][1] == "@":
                i += 1
        if i >= len(st):
            return 1
        called = costs.get(st[i][1], 1)
        i += 1
        if i < len(st) and st[i][1] == "(":
            i = _skip_group(st, i)
        width = 1
        for j in range(i if blocks[-1][0] is None else len(st), len(st)):  # in a definition: qubit arguments
            kind, value, _ = st[j]
            if kind == "name" and value in registers and (j + 1 >= len(st) or st[j + 1][1] != "["):
                width = max(width, registers[value])  # a whole register: one operation per qubit
            elif value == ":":
                width = max(width, max(registers.values(), default=1))  # a slice: at most a register
        return min(called * width, cap)

    def add(cost: int, at: int) -> None:
        block = blocks[-1]
        block[1] = min(block[1] + cost * block[2], cap)
        if blocks[0][1] > budget.operations:
            _refuse(text, at, f"the program expands to more than {budget.operations} operations "
                              "(each use of a gate counts every operation of its definition)", too_large=True)

    for tok in tokens:
        value = tok[1]
        if value == ";" and not _open_parens(stmt):
            if stmt:
                add(cost_of(stmt), stmt[0][2])
            stmt = []
        elif value == "{" and not _open_parens(stmt):
            head = stmt[0][1] if stmt else ""
            if head in ("gate", "def") and len(stmt) >= 2:
                blocks.append([stmt[1][1], 0, 1])
            else:
                # a loop or branch: its body counts once per pass (a literal range, else once)
                blocks.append([None, 0, _passes(stmt)])
            stmt = []
        elif value == "}" and not _open_parens(stmt):
            if stmt:
                add(cost_of(stmt), stmt[0][2])
            stmt = []
            if len(blocks) > 1:
                name, cost, _ = blocks.pop()
                if name is not None:
                    costs[name] = max(cost, 1)
                else:
                    add(cost, tok[2])
        else:
            stmt.append(tok)
    if stmt:
        add(cost_of(stmt), stmt[0][2])
    return version


def _skip_group(st: list[tuple[str, str, int]], i: int) -> int:
    """Index after the bracket group opening at ``st[i]``."""
    depth = 0
    for j in range(i, len(st)):
        if st[j][1] in _OPENING:
            depth += 1
        elif st[j][1] in _CLOSING:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(st)


def _open_parens(stmt: list[tuple[str, str, int]]) -> bool:
    """Inside ( or [ (a ``;`` or brace there is not a statement boundary)."""
    depth = 0
    for _, v, _ in stmt:
        if v in "([":
            depth += 1
        elif v in ")]":
            depth -= 1
    return depth > 0


def _passes(stmt: list[tuple[str, str, int]]) -> int:
    """Passes of a ``for ... in [a:b]`` / ``[a:s:b]`` loop with literal bounds (else 1)."""
    if not stmt or stmt[0][1] != "for":
        return 1
    nums = [_int_literal(t) for t in stmt if t[0] == "number"]
    if len(nums) in (2, 3) and all(n is not None for n in nums):
        lo, hi = nums[0], nums[-1]
        step = nums[1] if len(nums) == 3 else 1
        assert lo is not None and hi is not None and step is not None
        return max((hi - lo) // max(step, 1) + 1, 1)
    return 1


_LOADER_POSITION = re.compile(r"(?:<input>:)?(\d+),(\d+):")


def load_qasm(text: str, budget: QasmBudget = DEFAULT_QASM_BUDGET) -> QuantumCircuit:
    """Load OpenQASM 2 or 3 text with Qiskit's loaders, as they give it, after :func:`check_qasm`.

    No file is ever read (the only includes are the standard headers Qiskit ships). A loader's
    error becomes a generic message with at most the position in ``text``: loader messages may
    quote text that is not the caller's.

    Raises:
        InvalidArgumentError: if the text is not valid OpenQASM (or includes anything else).
        TooLargeError: beyond ``budget``.
    """
    version = check_qasm(text, budget)
    from qiskit import qasm2, qasm3

    try:
        if version == 2:
            return qasm2.loads(text, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        return qasm3.loads(text)
    except Exception as e:  # noqa: BLE001 - the loaders raise several unrelated exception types
        m = _LOADER_POSITION.search(str(e))
        where = f" (near line {m.group(1)}, column {int(m.group(2)) + 1})" if m else ""
        raise InvalidArgumentError(f"not a valid OpenQASM {version} program{where}") from None


def from_qasm(text: str, budget: QasmBudget = DEFAULT_QASM_BUDGET) -> QuantumCircuit:
    """Load OpenQASM 2 or 3 text with Qiskit's loaders (:func:`load_qasm`), restoring qclone's
    register names.

    Raises:
        InvalidArgumentError: if the text is not valid OpenQASM.
        TooLargeError: beyond ``budget``.
    """
    from qiskit import QuantumCircuit, QuantumRegister

    loaded = load_qasm(text, budget)

    def restore(name: str) -> str:
        for p in _PREFIXES:
            if name.startswith(p) and name[len(p):] in QASM2_REGISTER_NAMES:
                return name[len(p):]
        return name

    regs = [QuantumRegister(r.size, restore(r.name)) for r in loaded.qregs]
    out = QuantumCircuit(*regs, *loaded.cregs, name=loaded.name)
    out.compose(loaded, qubits=out.qubits, clbits=out.clbits, inplace=True)
    return out


#: The text drawing is made for circuits up to this many qubits and this depth (a screenful or
#: two: about 1,300 lines at the limit); beyond, it would be megabytes no terminal can show.
MAX_DRAWING_QUBITS = 64
MAX_DRAWING_DEPTH = 256


def check_drawable(circuit: Circuit) -> None:
    """Refuse a text drawing too large for a terminal, naming the formats to use instead.

    Raises:
        InvalidArgumentError: beyond :data:`MAX_DRAWING_QUBITS` qubits or
            :data:`MAX_DRAWING_DEPTH` depth.
    """
    check_drawable_size(circuit.num_qubits)
    depth = circuit.depth
    if depth > MAX_DRAWING_DEPTH:
        _refuse_drawing(f"{circuit.num_qubits} qubits, depth {depth}")


def check_drawable_size(num_qubits: int) -> None:
    """The qubit half of :func:`check_drawable`, for a circuit not built yet (a refusal costs nothing).

    Raises:
        InvalidArgumentError: beyond :data:`MAX_DRAWING_QUBITS` qubits.
    """
    if num_qubits > MAX_DRAWING_QUBITS:
        _refuse_drawing(f"{num_qubits} qubits")


def _refuse_drawing(size: str) -> NoReturn:
    raise InvalidArgumentError(
        f"the text drawing is for circuits of at most {MAX_DRAWING_QUBITS} qubits and depth {MAX_DRAWING_DEPTH} "
        f"(this one has {size}); use --format stim, qasm2 or qasm3"
    )


def to_text(circuit: Circuit, *, fold: int = 100) -> str:
    """Qiskit's text drawing of the circuit (refused beyond a terminal's size: :func:`check_drawable`)."""
    check_drawable(circuit)
    return str(to_qiskit(circuit).draw("text", fold=fold))


_WRITERS = {"stim": write_stim, "qasm2": write_qasm2, "qasm3": write_qasm3}


def write(circuit: Circuit, fmt: str, stream: BinaryIO) -> None:
    """Write the circuit in one of :data:`FORMATS` to a binary stream (bulk writers, no giant string)."""
    if fmt == "text":
        stream.write(to_text(circuit).encode())
        return
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise InvalidArgumentError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    writer(circuit, stream)


def render(circuit: Circuit, fmt: str) -> str:
    """Render in one of :data:`FORMATS`."""
    if fmt == "text":
        return to_text(circuit)
    if fmt == "qasm2":
        return to_qasm2(circuit)
    if fmt == "qasm3":
        return to_qasm3(circuit)
    if fmt == "stim":
        return stim_text(circuit)
    raise InvalidArgumentError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
