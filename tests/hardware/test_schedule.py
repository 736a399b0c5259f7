import dataclasses

import pytest

from qclone.hardware.check import check_schedule
from qclone.hardware.schedule import protocol_schedule
from qclone.protocol import Circuit


@pytest.mark.parametrize("n", range(1, 6))
def test_schedule_equals_textbook_dense_for_every_decrypted_clone(n):
    for j in range(1, n + 1):
        assert check_schedule(protocol_schedule(n, j), method="dense").passed


@pytest.mark.parametrize("n,j", [(1, 1), (2, 2), (5, 3), (17, 9), (63, 1), (64, 64), (200, 101)])
def test_schedule_equals_textbook_stim(n, j):
    assert check_schedule(protocol_schedule(n, j), method="stim").passed


def test_only_nearest_neighbour_gates():
    for n in (1, 2, 9):
        s = protocol_schedule(n)
        for circ in (s.encryption, s.decryption):
            for ins in circ.instructions:
                if ins.arity == 2:
                    assert all(abs(a - b) == 1 for a, b in ins.groups)
        assert not s.decryption.qubits_touched() & {0, 1}  # decryption never touches R or A


def test_gate_counts_scale_linearly():
    # ~5n two-qubit gates for Bell pairs + encryption, ~10 per passed pair for decryption
    for n in (10, 40):
        s = protocol_schedule(n)
        assert s.encryption.num_two_qubit_gates == 5 * n + 1
        cnots = s.decryption.num_two_qubit_gates + 2 * s.decryption.count("SWAP")  # a SWAP is 3 CNOTs
        assert cnots == 10 * (n - 2) + 4 + 1 + 2  # passed pairs, the last pair met, CX H before, S S CZ H CX after


@pytest.mark.parametrize("method", ["dense", "stim"])
def test_checks_catch_a_broken_schedule(method):
    s = protocol_schedule(4, 2)
    dropped = dataclasses.replace(s, decryption=Circuit(s.decryption.registers, s.decryption.instructions[:-1]))
    r = check_schedule(dropped, method=method)
    assert not r.decryption and not r.passed and r.encryption
    no_phase = dataclasses.replace(s, encryption=Circuit(s.encryption.registers, tuple(i for i in s.encryption.instructions if i.name != "S_DAG")))
    r = check_schedule(no_phase, method=method)
    assert not r.encryption and r.decryption and not r.passed
