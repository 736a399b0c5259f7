"""Scheduling with the device's durations, idle windows and dynamical decoupling, against Qiskit's own algebra."""

import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator

from qclone.errors import InvalidArgumentError
from qclone.hardware.backends import renumber
from qclone.hardware.compile import compile_protocol
from qclone.hardware.idle import check_dd, check_schedule_policy, idle_summary, idle_windows, schedule


def _small(fez):
    qc = QuantumCircuit(fez.num_qubits)
    qc.sx(0)
    qc.cz(0, 1)
    for _ in range(40):  # qubit 0 waits for these
        qc.sx(1)
    qc.cz(0, 1)
    return qc


def test_windows_follow_the_target_durations(fez):
    sched = schedule(_small(fez), fez.target)
    w = idle_windows(sched, fez.target)
    sx = fez.target["sx"][(1,)].duration
    assert w[0] == [pytest.approx(40 * sx)]  # qubit 0 waits exactly for the forty √X of qubit 1
    assert w[1] == []  # qubit 1's leading wait (in |0⟩) is not an idle window


def test_alap_waits_less_than_asap_on_the_protocol(fez):
    comp = compile_protocol(fez, 4, input="bell")
    alap = idle_summary(schedule(comp.circuit, fez.target, policy="alap"), fez.target)
    asap = idle_summary(schedule(comp.circuit, fez.target, policy="asap"), fez.target)
    assert alap.duration == pytest.approx(asap.duration)
    assert alap.idle_qubit_seconds < asap.idle_qubit_seconds


def test_dd_fills_long_windows_and_keeps_the_unitary(fez):
    dd = "XX"
    qc = _small(fez)
    plain = schedule(qc, fez.target)
    with_dd = schedule(qc, fez.target, dd=dd)
    pulses = sum(1 for ins in with_dd.data if ins.operation.name == "x") - sum(1 for ins in plain.data if ins.operation.name == "x")
    assert pulses == 2
    assert {ins.operation.name for ins in with_dd.data} <= set(fez.target.operation_names) | {"delay"}
    assert with_dd.estimate_duration(fez.target) == pytest.approx(plain.estimate_duration(fez.target))
    keep = [0, 1]
    a = Operator(renumber(plain.remove_final_measurements(inplace=False), keep).decompose())
    b = Operator(renumber(with_dd.remove_final_measurements(inplace=False), keep).decompose())
    assert a.equiv(b)  # the sequences multiply to the identity (up to a global phase)


def test_bad_policies_are_refused():
    with pytest.raises(InvalidArgumentError):
        check_schedule_policy("soon")
    with pytest.raises(InvalidArgumentError):
        check_dd("XY4")
    assert check_dd(None) is None


def test_run_route_with_dd_pads_pulses_in_native_gates(fez):
    from qclone.hardware.experiment import prepare_for_device

    qc = QuantumCircuit(fez.num_qubits, 2)  # qubit 0 waits while qubit 1 is read out (1.56 µs), gates the lowering keeps
    qc.h(0)
    qc.cx(0, 1)
    qc.measure(1, 0)
    qc.cx(0, 1)
    qc.measure(0, 1)
    plain, = prepare_for_device(fez, [qc], True)
    dd, = prepare_for_device(fez, [qc], True, dd="XX")
    count = lambda c: sum(1 for ins in c.data if ins.operation.name == "x")  # noqa: E731 - a one-line counter
    added = count(dd) - count(plain)
    assert added > 0 and added % 2 == 0  # X-X pairs in the waits
    assert {ins.operation.name for ins in dd.data} <= set(fez.target.operation_names) | {"delay", "barrier"}
