"""The vectorised circuit IR: depth against Qiskit, streamed text against stim and Qiskit's exporters."""

import importlib
import io

import numpy as np
import pytest
import stim
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import qasm2, qasm3

from qclone.protocol import Circuit, Layout, protocol_circuit
from qclone.protocol.circuit import gate_levels
from qclone.protocol.render import (
    stim_text,
    to_qasm2,
    to_qasm3,
    to_qiskit,
    write_qasm2,
    write_qasm3,
    write_stim,
)

render_module = importlib.import_module("qclone.protocol.render")  # the package re-exports a function of that name

ONE = ["I", "H", "X", "Y", "Z", "S", "S_DAG", "SQRT_X", "SQRT_X_DAG"]
TWO = ["CX", "CZ", "SWAP"]


@st.composite
def circuits(draw, max_register=150, max_gates=12):
    """Random circuits on registers A, S, N (sizes up to 150: indices of 1 to 3 digits)."""
    s = draw(st.integers(1, max_register))
    m = 1 + 2 * s
    c = Circuit((("A", 1), ("S", s), ("N", s)))
    for _ in range(draw(st.integers(0, 8))):
        k = draw(st.integers(1, max_gates))
        if draw(st.booleans()):
            c = c.append(draw(st.sampled_from(ONE)), draw(st.lists(st.integers(0, m - 1), min_size=k, max_size=k)))
            continue
        shape = draw(st.sampled_from(["random", "ladder", "fan", "layer"]))
        start = draw(st.integers(0, m - 2))
        length = draw(st.integers(1, max(1, min(k, m - 1 - start))))
        q = np.arange(start, start + length + 1)
        if shape == "ladder":
            pairs = np.stack([q[:-1], q[1:]], axis=1)
            if draw(st.booleans()):
                pairs = pairs[::-1]
        elif shape == "fan":
            pairs = np.stack([np.full(length, q[0]), q[1:]], axis=1)
            if draw(st.booleans()):
                pairs = pairs[:, ::-1]
        elif shape == "layer":
            pairs = np.stack([q[:-1:2], q[1::2]], axis=1)
        else:
            a = np.asarray(draw(st.lists(st.integers(0, m - 1), min_size=k, max_size=k)))
            b = (a + np.asarray(draw(st.lists(st.integers(1, m - 1), min_size=k, max_size=k)))) % m
            pairs = np.stack([a, b], axis=1)
        c = c.append(draw(st.sampled_from(TWO)), pairs.ravel())
    return c


def qiskit_depths(c: Circuit) -> tuple[int, int]:
    qc = to_qiskit(c)
    return qc.depth(), qc.depth(lambda ins: ins.operation.num_qubits == 2)


@settings(max_examples=150, deadline=None)
@given(circuits(max_register=4, max_gates=10))
def test_depth_equals_qiskit_on_random_circuits(c):
    assert (c.depth, c.two_qubit_depth) == qiskit_depths(c)


@pytest.mark.parametrize("n,decrypt,depth", [(1, 1, "linear"), (5, 3, "linear"), (6, "A", "log"), (9, 9, "log"), (12, None, "log")])
def test_protocol_depth_equals_qiskit(n, decrypt, depth):
    c = protocol_circuit(Layout(n), decrypt=decrypt, depth=depth)
    assert (c.depth, c.two_qubit_depth) == qiskit_depths(c)


def test_gate_levels_of_each_shape():
    level = np.zeros(6, dtype=np.int64)
    # a ladder is a chain: steps 1..5
    assert gate_levels(level, np.arange(5), np.arange(1, 6)).tolist() == [1, 2, 3, 4, 5]
    # a layer on top: one step each
    assert gate_levels(level, np.array([0, 2]), np.array([1, 3])).tolist() == [3, 5]
    # a gate with two different predecessors in its instruction (the forest path with a cut)
    level[:] = 0
    assert gate_levels(level, np.array([0, 2, 1, 0]), np.array([1, 3, 2, 5])).tolist() == [1, 1, 2, 2]
    assert level.tolist() == [2, 2, 2, 1, 0, 2]


def stim_by_appending(c: Circuit) -> stim.Circuit:
    """An independent stim circuit: every instruction appended through stim's own API."""
    out = stim.Circuit()
    for ins in c.instructions:
        out.append(ins.name, ins.targets.tolist())
    return out


@settings(max_examples=60, deadline=None)
@given(circuits())
def test_stim_text_is_what_stim_prints(c):
    text = stim_text(c)
    assert stim.Circuit(text) == stim_by_appending(c)
    assert str(stim.Circuit(text)) == text
    buf = io.BytesIO()
    write_stim(c, buf)
    assert buf.getvalue().decode() == text


@settings(max_examples=40, deadline=None)
@given(circuits())
def test_qasm_text_is_qiskits(c):
    qc = to_qiskit(c)
    assert to_qasm2(c) == qasm2.dumps(qc)
    assert to_qasm3(c) == qasm3.dumps(qc)
    for write, text in ((write_qasm2, to_qasm2(c)), (write_qasm3, to_qasm3(c))):
        buf = io.BytesIO()
        write(c, buf)
        assert buf.getvalue().decode() == text


@pytest.mark.parametrize("n,depth", [(3, "linear"), (6, "log")])
def test_qasm_loads_back_to_the_same_circuit(n, depth):
    c = protocol_circuit(Layout(n, references=1), decrypt=2, depth=depth)
    qc = to_qiskit(c)
    for loaded in (qasm2.loads(to_qasm2(c)), qasm3.loads(to_qasm3(c))):
        assert [tuple(loaded.find_bit(q).index for q in i.qubits) + (i.operation.name,) for i in loaded.data] == \
            [tuple(qc.find_bit(q).index for q in i.qubits) + (i.operation.name,) for i in qc.data]


def test_chunks_and_scattered_qubits(monkeypatch):
    """Chunk boundaries and the padded path (many short runs) give the same text."""
    rng = np.random.default_rng(3)
    m = 2 * 1200 + 1
    c = Circuit((("A", 1), ("S", 1200), ("N", 1200)))
    c = c.append("CX", rng.permutation(m)[:2000]).append("H", rng.integers(0, m, 700))
    c = c + protocol_circuit(Layout(1200), decrypt=77)
    want = (stim_text(c), to_qasm2(c), to_qasm3(c))
    assert want[1] == qasm2.dumps(to_qiskit(c))
    monkeypatch.setattr(render_module, "WRITE_CHUNK", 97)
    assert (stim_text(c), to_qasm2(c), to_qasm3(c)) == want
    assert str(stim.Circuit(want[0])) == want[0]


def test_large_circuit_text_round_trips_through_stim():
    c = protocol_circuit(Layout(30_000), decrypt=12_345, depth="log")
    text = stim_text(c)
    parsed = stim.Circuit(text)
    assert str(parsed) == text
    assert parsed.num_qubits == c.num_qubits
    assert sum(len(ins.targets_copy()) for ins in parsed) == sum(i.targets.size for i in c.instructions)


def test_text_drawing_size_guard():
    from qclone.errors import InvalidArgumentError
    from qclone.protocol.render import (
        MAX_DRAWING_DEPTH,
        MAX_DRAWING_QUBITS,
        check_drawable,
        to_text,
        write,
    )

    at_limit = Circuit((("q", MAX_DRAWING_QUBITS),)).append("H", np.arange(MAX_DRAWING_QUBITS))
    check_drawable(at_limit)
    with pytest.raises(InvalidArgumentError, match="use --format stim, qasm2 or qasm3"):
        to_text(Circuit((("q", MAX_DRAWING_QUBITS + 1),)).append("H", [0]))
    deep = Circuit((("q", 2),)).append("H", [0] * (MAX_DRAWING_DEPTH + 1))
    with pytest.raises(InvalidArgumentError, match=f"depth {MAX_DRAWING_DEPTH + 1}"):
        check_drawable(deep)
    buf = io.BytesIO()
    write(at_limit, "text", buf)
    assert buf.getvalue().decode() == to_text(at_limit)
    with pytest.raises(InvalidArgumentError, match="unknown format"):
        write(at_limit, "pdf", io.BytesIO())
