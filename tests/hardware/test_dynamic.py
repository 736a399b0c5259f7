"""The dynamic-circuit decryption: exact for every measurement outcome (dense, stim), stim feedback form,
device circuit with feed-forward, scheduling with control flow, Aer under the device's noise (n = 3)."""

from dataclasses import replace

import pytest
import stim

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.hardware import dynamic as dyn
from qclone.hardware.dynamic import (
    COPY_S,
    COPY_T,
    check_dynamic,
    dynamic_layout,
    dynamic_schedule,
    dynamic_stim,
    max_dynamic_clones,
    schedule_dynamic,
)
from qclone.hardware.schedule import protocol_schedule
from qclone.protocol import Circuit


@pytest.mark.parametrize("n", [3, 4])
def test_dense_exact_every_outcome(n):
    for j in sorted({1, 2, n}):
        assert check_dynamic(dynamic_schedule(n, j), method="dense").passed


@pytest.mark.parametrize("n", [3, 6, 11, 64])
def test_stim_exact_every_outcome(n):
    assert check_dynamic(dynamic_schedule(n, min(n, 5)), method="stim").passed


@pytest.mark.slow
def test_exact_at_the_ends_of_the_range():
    assert check_dynamic(dynamic_schedule(5, 4), method="dense").passed
    assert check_dynamic(dynamic_schedule(200, 61), method="stim").passed


def test_refusals():
    with pytest.raises(InvalidArgumentError, match="n >= 3"):
        dynamic_schedule(2)
    with pytest.raises(InvalidArgumentError, match="decrypted clone"):
        dynamic_schedule(4, 5)
    with pytest.raises(InvalidArgumentError, match="every clone"):
        dynamic_schedule(4, 1, pair_order=(2, 3, 3))
    with pytest.raises(TooLargeError):
        check_dynamic(dynamic_schedule(6), method="dense")
    with pytest.raises(InvalidArgumentError, match="method"):
        check_dynamic(dynamic_schedule(3), method="exact")


def test_the_checks_can_fail():
    s = dynamic_schedule(4, 2)
    wrong = [
        replace(s, corrected=s.corrected[::-1]),  # feed-forward on the wrong qubits
        replace(s, walk=Circuit(s.walk.registers, s.walk.instructions[:-1])),  # one gate short
        replace(s, encryption=Circuit(s.encryption.registers, s.encryption.instructions[:-1])),
    ]
    for bad in wrong:
        assert not check_dynamic(bad, method="stim").passed
        assert not check_dynamic(bad, method="dense").passed


def test_without_feed_forward_some_outcome_fails(monkeypatch):
    def no_feedback(sim, schedule, outcome):
        sim.do_circuit(dyn.to_stim(schedule.walk))
        for q, bit in zip(schedule.measured, outcome):
            sim.postselect_x(q, desired_value=bool(bit))
            sim.h(q)
            if bit:
                sim.x(q)
        sim.do_circuit(dyn.to_stim(schedule.finish))

    monkeypatch.setattr(dyn, "_run_branch", no_feedback)
    assert not check_dynamic(dynamic_schedule(4, 1), method="stim").decryption


def test_copies_end_in_zero_and_walks_are_halved():
    n = 21
    s = dynamic_schedule(n, 1)
    # encryption leaves both copies in |0>: Z on each is a stabilizer of the encrypted state
    sim = stim.TableauSimulator()
    sim.do_circuit(stim.Circuit("H 0\nCX 0 1") + dyn.to_stim(s.encryption))
    for label in (COPY_S, COPY_T):
        q = s.initial_slots[label]
        assert sim.peek_z(q) == 1
    # each walk meets about half of the keys: the decryption's 2q depth is well below today's
    today = protocol_schedule(n).decryption.two_qubit_depth
    assert (s.walk + s.finish).two_qubit_depth < 0.65 * today


def test_stim_feedback_rendering_is_deterministic():
    # dynamic_stim with R maximally entangled with A: the (R, clone) Bell pair is restored in every shot,
    # whatever the mid-circuit outcomes (which are random)
    s = dynamic_schedule(7, 3)
    c = stim.Circuit("H 0\nCX 0 1") + dynamic_stim(s)
    clone = s.final_slots["S3"]
    c.append("CX", [0, clone])
    c.append("H", [0])
    c.append("M", [0, clone])
    sample = c.compile_sampler(seed=11).sample(512)
    mid = sample[:, :2]
    assert 0.3 < mid.mean() < 0.7  # the copies' X outcomes are coin flips
    assert not sample[:, -2:].any()
    assert "CZ rec[-2]" in str(c) and "MX" in str(c)


def test_layout_on_devices(fez, torino):
    assert max_dynamic_clones(fez) == 62 and max_dynamic_clones(torino) == 54
    lay = dynamic_layout(fez, 5, 2)
    assert len(set(lay.path)) == len(lay.path) == 14
    edges = {tuple(sorted(e)) for e in fez.coupling_map.get_edges()}
    assert all(tuple(sorted((a, b))) in edges for a, b in zip(lay.path, lay.path[1:]))
    with pytest.raises(TooLargeError):
        dynamic_layout(torino, 55)


def test_scheduling_keeps_the_feed_forward_after_its_measurement(fez):
    from qclone.hardware.variants import compile_variant

    comp = compile_variant("dynamic", fez, 3, 1, latency=1e-6)
    (out,) = schedule_dynamic([comp.circuit], fez)
    assert out.count_ops()["if_else"] == 2
    written: dict[int, int] = {}
    for i, ins in enumerate(out.data):
        if ins.operation.name == "measure":
            written[out.find_bit(ins.clbits[0]).index] = i
        if ins.operation.name == "if_else":
            bit = out.find_bit(ins.operation.condition[0]).index
            assert bit in written and written[bit] < i  # each correction after the measurement it reads
    assert dyn.dynamic_duration(comp.circuit, fez) >= 1e-6 + dyn.measurement_duration(fez)


@pytest.mark.slow
def test_aer_runs_the_dynamic_circuit(fez):
    # Aer with the device's noise (readout error of the mid-circuit measurements included, idle
    # relaxation in the scheduled delays, the feed-forward latency a delay): the Bell fidelity of
    # (R, clone) from counts lies below 1 and inside the stim estimate's reach
    from qclone.hardware.backends import AerRunner
    from qclone.hardware.variants import compile_variant, measure_variant_bell, stim_estimate

    noisy = measure_variant_bell(fez, "dynamic", 3, shots=150, runner=AerRunner(fez, method="statevector"), bootstrap=10)
    assert 0.25 < noisy.bell_fidelity < 0.99
    predicted = stim_estimate(compile_variant("dynamic", fez, 3, 1), fez, shots=20_000)
    # 150 shots per basis: the Bell fidelity's standard error is about 0.03
    assert abs(noisy.average_fidelity - predicted.average_fidelity) < 0.08
