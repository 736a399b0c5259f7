"""Schedule variants: exact against the textbook protocol (dense engine, stim), lowered circuits exact."""

from dataclasses import replace

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError
from qclone.hardware.check import check_compiled, check_schedule
from qclone.hardware.schedule import protocol_schedule
from qclone.hardware.variants import (
    VARIANTS,
    check_variant_schedule,
    compile_variant,
    isa_to_stim,
    middle_out_encryption,
    stim_estimate,
    uses_dynamic,
    variant_circuit,
    variant_schedule,
)
from qclone.protocol import Circuit


def test_names_are_stable():
    assert VARIANTS[:4] == ("today", "middle-out", "dynamic", "tree")
    with pytest.raises(InvalidArgumentError, match="unknown schedule variant"):
        variant_schedule("fastest", None, 3)
    with pytest.raises(InvalidArgumentError, match="decrypted clone"):
        variant_schedule("middle-out", None, 3, decrypt=4)


def test_today_is_the_linear_schedule():
    ours = variant_schedule("today", None, 6, decrypt=2)
    ref = protocol_schedule(6, decrypt=2)
    assert ours.encryption == ref.encryption and ours.decryption == ref.decryption


NEW = [v for v in VARIANTS if v != "today"]  # today's schedule has its own tests (test_schedule.py)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_dense_exact(name, n):
    for j in sorted({1, n}):
        assert check_variant_schedule(variant_schedule(name, None, n, j), method="dense").passed, (name, n, j)


@pytest.mark.slow
@pytest.mark.parametrize("name", NEW)
def test_dense_exact_five(name):
    assert check_variant_schedule(variant_schedule(name, None, 5, 2), method="dense").passed


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("n", [5, 6, 7, 8, 31])
def test_stim_exact(name, n):
    for j in sorted({1, 3, n}):
        assert check_variant_schedule(variant_schedule(name, None, n, j), method="stim").passed


@pytest.mark.slow
@pytest.mark.parametrize("name", NEW)
def test_stim_exact_200(name):
    assert check_variant_schedule(variant_schedule(name, None, 200, 117), method="stim").passed


def test_middle_out_shortens_the_encryption():
    for n, ratio in ((10, 0.85), (40, 0.65)):
        mid = middle_out_encryption(n).two_qubit_depth
        lin = protocol_schedule(n).encryption.two_qubit_depth
        assert mid < ratio * lin, (n, mid, lin)


@pytest.mark.parametrize("n", [3, 4])
def test_a_wrong_middle_out_encryption_fails(n):
    sched = variant_schedule("middle-out", None, n, 1)
    enc = sched.encryption
    # without the phase CZ (even n) or with one (odd n) the branch phases are wrong
    ins = [i for i in enc.instructions if not (i.name == "CZ" and list(i.targets) == [2, 3])]
    if len(ins) == len(enc.instructions):
        ins = list(enc.append("CZ", [2, 3]).instructions)
    bad = replace(sched, encryption=Circuit(enc.registers, tuple(ins)))
    assert not check_schedule(bad, method="stim").passed
    assert not check_schedule(bad, method="dense").passed


def test_dynamic_only_from_three_clones():
    assert not uses_dynamic("dynamic", 2) and uses_dynamic("dynamic", 3) and not uses_dynamic("today", 9)
    assert variant_schedule("dynamic", None, 2).decryption == protocol_schedule(2, decrypt=1).decryption


@pytest.mark.parametrize("name", ["today", "middle-out", "tree"])
def test_lowered_static_circuits_exact(fez, name):
    comp = compile_variant(name, fez, 3, 2)
    assert comp.circuit.metadata["variant"] == name
    assert check_compiled(comp)


def _bell_errors(comp, drop_last_cz=False):
    circuit = comp.circuit
    if drop_last_cz:
        circuit = circuit.copy()
        last = max(i for i, ins in enumerate(circuit.data) if ins.operation.name == "cz")
        del circuit.data[last]
    wires = tuple(comp.layout.path)
    stim_circuit = isa_to_stim(circuit, wires)
    r, c = wires.index(comp.reference_qubit), wires.index(comp.clone_qubit)
    stim_circuit.append("CX", [r, c])
    stim_circuit.append("H", [r])
    stim_circuit.append("M", [r, c])
    sample = stim_circuit.compile_sampler(seed=3).sample(400)
    return int((sample[:, -1] | sample[:, -2]).sum())


@pytest.mark.parametrize("name", VARIANTS)
def test_lowered_circuits_exact_in_stim(torino, name):
    # the native-gate circuit (dynamic: with its mid-circuit measurements and feed-forward) leaves
    # (R, decrypted clone) in |Φ+⟩ in every shot; without its last CZ it does not
    # (lowered at level 1, which keeps every one-qubit run a Clifford, so stim can read it whole)
    comp = compile_variant(name, torino, 9, 4, optimization_level=1)
    assert _bell_errors(comp) == 0
    assert _bell_errors(comp, drop_last_cz=True) > 0


def test_variant_circuit_names_its_qubits(fez):
    qc = variant_circuit("dynamic", fez, 4, 1)
    meta = qc.metadata
    assert meta["variant"] == "dynamic" and meta["clone_qubit"] == meta["final_physical"]["S1"]
    assert set(meta["initial_physical"]) >= {"R", "A", "S1", "N1", "S4", "N4"}
    assert qc.count_ops()["if_else"] == 2 and qc.count_ops()["measure"] == 2
    isa = set(fez.target.operation_names) | {"barrier"}
    assert set(qc.count_ops()) <= isa


def test_latency_is_a_delay_on_the_waiting_qubits(fez):
    slow = compile_variant("dynamic", fez, 4, 1, latency=2e-6)
    fast = compile_variant("dynamic", fez, 4, 1, latency=0.0)
    delays = [ins for ins in slow.circuit.data if ins.operation.name == "delay"]
    waiting = {slow.final_physical["S1"], slow.final_physical["N1"]}
    assert {slow.circuit.find_bit(q).index for ins in delays for q in ins.qubits} == waiting
    assert slow.duration > fast.duration
    with pytest.raises(InvalidArgumentError, match="latency"):
        compile_variant("dynamic", fez, 4, 1, latency=-1.0)


def test_stim_estimate_noise_free_limit_and_ordering(fez):
    # no errors at all: fidelity 1; the device's errors: below 1 and falling with n
    comp = compile_variant("today", fez, 2, 1)
    est = stim_estimate(comp, fez, shots=4000)
    assert 0.5 < est.average_fidelity < 1 and est.ci_low <= est.average_fidelity <= est.ci_high
    larger = stim_estimate(compile_variant("today", fez, 6, 1), fez, shots=4000)
    assert larger.average_fidelity < est.average_fidelity
    with pytest.raises(InvalidArgumentError, match="input='bell'"):
        stim_estimate(compile_variant("today", fez, 2, 1, input="0"), fez)


def test_isa_to_stim_refuses_what_it_cannot_convert(fez):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2)
    qc.rz(0.3, 0)
    qc.cz(0, 1)
    qc.measure_all()
    with pytest.raises(InvalidArgumentError, match="Clifford"):
        isa_to_stim(qc, (0, 1))
    qc = QuantumCircuit(2)
    qc.cx(0, 1)
    with pytest.raises(InvalidArgumentError, match="no stim form"):
        isa_to_stim(qc, (0, 1))
    qc = QuantumCircuit(3)
    qc.cz(0, 2)
    with pytest.raises(InvalidArgumentError, match="outside its wires"):
        isa_to_stim(qc, (0, 1))


def test_isa_to_stim_matches_qiskit_on_a_clifford_circuit():
    # an independent check of the converter: random Clifford circuit in native gates, stabilizers
    # from qiskit.quantum_info against stim's
    import stim
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Clifford, Pauli, StabilizerState

    rng = np.random.default_rng(5)
    qc = QuantumCircuit(3)
    for _ in range(30):
        k = rng.integers(4)
        q = int(rng.integers(3))
        if k == 0:
            qc.sx(q)
        elif k == 1:
            qc.rz(np.pi / 2 * int(rng.integers(1, 4)), q)
        elif k == 2:
            qc.x(q)
        else:
            a, b = rng.choice(3, 2, replace=False)
            qc.cz(int(a), int(b))
    ours = stim.TableauSimulator()
    ours.do_circuit(isa_to_stim(qc, (0, 1, 2)))
    theirs = StabilizerState(Clifford(qc))
    for p in ours.canonical_stabilizers():
        label = str(p)
        sign = -1 if label[0] == "-" else 1
        pauli = label[1:].replace("_", "I")[::-1]  # qiskit: qubit 0 rightmost
        assert theirs.expectation_value(Pauli(pauli)) == sign


@pytest.mark.slow
def test_the_comb_from_aer_counts_agrees_with_the_model(fez):
    """The comb's decrypted clone from Aer's counts (stabilizer method, the device's twirled noise,
    six inputs, the clone alone read out) against the scheduled stim model: an independent engine on
    the same circuit and schedule; the model must lie inside Aer's 95 % interval."""
    from qclone.hardware.backends import AerRunner
    from qclone.hardware.predict import predict
    from qclone.hardware.variants import measure_variant

    r = measure_variant(fez, "tree", 4, shots=4000, runner=AerRunner(fez, method="stabilizer", noise="twirled"),
                        bootstrap=200, seed=3)
    model = predict(fez, 4, variant="tree").average_fidelity
    assert r.circuits == 18 and r.ci_low <= r.average_fidelity <= r.ci_high
    assert r.ci_low <= model <= r.ci_high, (model, r)
    with pytest.raises(InvalidArgumentError):
        measure_variant(fez, "dynamic", 4, shots=10, runner=AerRunner(fez, method="stabilizer", noise="twirled"))
