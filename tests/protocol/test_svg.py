"""The circuit drawn as SVG: one drawn gate per gate, in order, on the right wires; limits refused."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, protocol_circuit
from qclone.protocol.circuit import Circuit
from qclone.protocol.svg import circuit_svg

NS = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(("n", "decrypt", "depth"), [(1, 1, "linear"), (3, 2, "log"), (4, "A", "linear")])
def test_every_gate_is_drawn_once_in_order(n, decrypt, depth):
    lay = Layout(n)
    circ = protocol_circuit(lay, decrypt=decrypt, depth=depth)
    root = ET.fromstring(circuit_svg(circ, lay.labels))  # well-formed XML
    drawn = [g.find(f"{NS}title").text for g in root.iter(f"{NS}g") if g.get("class") == "gate"]
    want = [f"{ins.name} {' '.join(lay.labels[q] for q in group)}" for ins in circ.instructions for group in ins.groups]
    assert drawn == want
    names = [t.text for t in root.findall(f"{NS}text")][: lay.num_qubits]
    assert names == list(lay.labels)


def test_columns_respect_qubit_order():
    c = Circuit((("q", 3),)).append("H", [0]).append("CX", [0, 2]).append("H", [1])
    svg = circuit_svg(c, ["a", "b", "c"])
    xs = [int(m) for m in re.findall(r'<rect x="(\d+)"', svg)]
    assert xs[1] > xs[0]  # H on b waits for the CX line crossing it


def test_labels_are_escaped_and_limits_refused():
    c = Circuit((("q", 1),)).append("H", [0])
    assert "<b>" not in circuit_svg(c, ["<b>"]) and "&lt;b&gt;" in circuit_svg(c, ["<b>"])
    with pytest.raises(InvalidArgumentError):
        circuit_svg(c, ["a", "b"])
    with pytest.raises(InvalidArgumentError):
        circuit_svg(protocol_circuit(Layout(40)), Layout(40).labels)
