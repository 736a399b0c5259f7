import numpy as np
import pytest

from qclone.errors import InvalidArgumentError
from qclone.protocol import Circuit, Instruction
from qclone.sim.exact import circuit_unitary, equal_up_to_global_phase


def test_instruction_validation():
    with pytest.raises(InvalidArgumentError):
        Instruction("FOO", (0,))
    with pytest.raises(InvalidArgumentError):
        Instruction("CX", (0, 1, 2))
    with pytest.raises(InvalidArgumentError):
        Instruction("CZ", (1, 1))
    with pytest.raises(InvalidArgumentError):
        Circuit((("q", 2),)).append("H", [2])


def test_depth_and_counts():
    c = Circuit((("q", 4),)).append("H", [0, 1, 2, 3]).append("CX", [0, 1, 2, 3]).append("CX", [1, 2])
    assert c.depth == 3
    assert c.two_qubit_depth == 2
    assert c.num_two_qubit_gates == 3
    assert c.count("H") == 4
    # a qubit repeated in one instruction costs two steps
    assert Circuit((("q", 1),)).append("S", [0, 0]).depth == 2


def test_inverse_is_the_inverse():
    c = Circuit((("q", 3),)).append("H", [0]).append("S", [1]).append("CX", [0, 1, 1, 2]).append("CZ", [0, 2])
    u = circuit_unitary(c, [0, 1, 2])
    v = circuit_unitary(c.inverse(), [0, 1, 2])
    assert equal_up_to_global_phase(v @ u, np.eye(8))


def test_concatenation_requires_same_registers():
    a = Circuit((("q", 2),)).append("H", [0])
    with pytest.raises(InvalidArgumentError):
        a + Circuit((("r", 2),))
    assert (a + a).num_gates == 2
