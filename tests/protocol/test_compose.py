"""Composition helpers: remapping, side-by-side interleaving equals running in sequence."""

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError
from qclone.protocol import Circuit, Layout, interleave, protocol_circuit, remap, sequence
from qclone.sim.exact import circuit_unitary, equal_up_to_global_phase


def test_interleave_of_disjoint_circuits_equals_sequence():
    rng = np.random.default_rng(3)
    regs = (("q", 6),)
    parts = []
    for qs in ([0, 1, 2], [3, 4], [5]):
        c = Circuit(regs)
        for _ in range(8):
            if len(qs) > 1 and rng.random() < 0.5:
                a, b = rng.choice(qs, 2, replace=False)
                c = c.append(rng.choice(["CX", "CZ", "SWAP"]), [a, b])
            else:
                c = c.append(rng.choice(["H", "S", "X", "SQRT_X"]), [rng.choice(qs)])
        parts.append(c)
    mixed = interleave(parts)
    assert mixed.num_gates == sum(p.num_gates for p in parts)
    assert len(mixed.instructions) <= sum(len(p.instructions) for p in parts)
    u_seq = circuit_unitary(sequence(parts), range(6))
    assert equal_up_to_global_phase(circuit_unitary(mixed, range(6)), u_seq)


def test_interleave_refuses_shared_qubits_and_different_registers():
    regs = (("q", 3),)
    a = Circuit(regs).append("H", [0])
    b = Circuit(regs).append("CX", [0, 1])
    with pytest.raises(InvalidArgumentError, match="both act on qubit 0"):
        interleave([a, b])
    with pytest.raises(InvalidArgumentError):
        interleave([a, Circuit((("r", 3),)).append("H", [2])])
    with pytest.raises(InvalidArgumentError):
        interleave([])


def test_remap_moves_a_protocol_and_checks_the_mapping():
    c = protocol_circuit(Layout(2), decrypt=1)
    mapping = np.array([7, 1, 3, 5, 0])
    moved = remap(c, mapping, (("q", 8),))
    assert moved.num_qubits == 8 and moved.num_two_qubit_gates == c.num_two_qubit_gates
    u = circuit_unitary(c, range(5))
    assert equal_up_to_global_phase(circuit_unitary(moved, list(mapping)), u)
    with pytest.raises(InvalidArgumentError):
        remap(c, [0, 0, 1, 2, 3], (("q", 8),))
    with pytest.raises(InvalidArgumentError):
        remap(c, [0, 1], (("q", 8),))
    with pytest.raises(InvalidArgumentError):
        remap(c, [0, 1, 2, 3, 9], (("q", 8),))
