"""A circuit drawn as a standalone SVG document (no plotting library, no fonts to install).

Each instruction's gates are placed in the earliest column where every qubit they touch or
their vertical line crosses is free (as soon as possible), so the drawing has at least
:attr:`Circuit.depth` columns. One-qubit gates are labelled boxes; ``CX`` is a control dot and a
target ⊕, ``CZ`` two dots, ``SWAP`` two crosses, each joined by a vertical line. Qubits are
drawn top to bottom in the layout's order, named by their labels.

Only for small circuits (the same limits as the text drawing,
:func:`qclone.protocol.render.check_drawable`): the layout is computed gate by gate.

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> svg = circuit_svg(protocol_circuit(Layout(2)), Layout(2).labels)
    >>> svg.startswith("<svg") and svg.count('class="gate"') == protocol_circuit(Layout(2)).num_gates
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from qclone.protocol.circuit import Circuit
from qclone.protocol.render import check_drawable

#: Short labels of the one-qubit gates in a box.
_BOX = {"S_DAG": "S†", "SQRT_X": "√X", "SQRT_X_DAG": "√X†"}
_COL, _ROW, _LEFT, _TOP = 34, 30, 56, 20


def circuit_svg(circuit: Circuit, labels: Sequence[str], *, title: str | None = None) -> str:
    """``circuit`` as an SVG document; ``labels[q]`` names qubit ``q`` (an accessible title too).

    Raises:
        InvalidArgumentError: a circuit beyond the drawing limits, or labels that do not match.
    """
    check_drawable(circuit)
    from qclone.errors import InvalidArgumentError

    if len(labels) != circuit.num_qubits:
        raise InvalidArgumentError(f"{len(labels)} labels for {circuit.num_qubits} qubits")
    free = [0] * circuit.num_qubits  # the first free column of each qubit
    placed: list[tuple[str, tuple[int, ...], int]] = []
    for ins in circuit.instructions:
        for group in ins.groups:
            lo, hi = min(group), max(group)
            col = max(free[lo:hi + 1])  # a vertical line blocks the qubits it crosses
            for q in range(lo, hi + 1):
                free[q] = col + 1
            placed.append((ins.name, group, col))
    columns = max(free, default=0)
    width = _LEFT + _COL * max(columns, 1) + 16
    height = _TOP + _ROW * circuit.num_qubits
    name = escape(title or f"circuit of {circuit.num_qubits} qubits and {circuit.num_gates} gates, drawn in {columns} columns")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="circuit-title" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<title id="circuit-title">{name}</title>']

    def y(q: int) -> int:
        return _TOP + _ROW * q

    def x(col: int) -> int:
        return _LEFT + _COL * col + _COL // 2

    for q, label in enumerate(labels):
        out.append(f'<text x="4" y="{y(q) + 4}">{escape(label)}</text>'
                   f'<line x1="{_LEFT - 6}" y1="{y(q)}" x2="{width - 8}" y2="{y(q)}" stroke="#555"/>')
    for gate, group, col in placed:
        cx = x(col)
        parts = [f'<g class="gate"><title>{escape(gate)} {escape(" ".join(labels[q] for q in group))}</title>']
        if len(group) == 1:
            text = escape(_BOX.get(gate, gate))
            parts.append(f'<rect x="{cx - 12}" y="{y(group[0]) - 11}" width="24" height="22" fill="#fff" stroke="#224"/>'
                         f'<text x="{cx}" y="{y(group[0]) + 4}" text-anchor="middle">{text}</text>')
        else:
            a, b = group
            parts.append(f'<line x1="{cx}" y1="{y(a)}" x2="{cx}" y2="{y(b)}" stroke="#224"/>')
            for i, q in enumerate(group):
                if gate == "SWAP":
                    parts.append(f'<path d="M{cx - 5} {y(q) - 5}l10 10m0 -10l-10 10" stroke="#224"/>')
                elif gate == "CX" and i == 1:
                    parts.append(f'<circle cx="{cx}" cy="{y(q)}" r="8" fill="#fff" stroke="#224"/>'
                                 f'<path d="M{cx - 8} {y(q)}h16M{cx} {y(q) - 8}v16" stroke="#224"/>')
                else:
                    parts.append(f'<circle cx="{cx}" cy="{y(q)}" r="4" fill="#224"/>')
        parts.append("</g>")
        out.append("".join(parts))
    out.append("</svg>")
    return "\n".join(out)
