"""The route to IBM hardware: SamplerV2 with the device noise, on the real protocol circuits."""

import math

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.providers import QubitProperties
from qiskit.quantum_info import Statevector

from qclone.analysis.scaling import CLASSICAL_LIMIT
from qclone.hardware.backends import (
    AerRunner,
    SamplerRunner,
    local_seed,
    physical_qubit_properties,
    restricted_target,
)
from qclone.hardware.devices import DEVICE_NAMES, get_backend
from qclone.hardware.experiment import measure_fidelity
from qclone.hardware.tomography import lower


def test_every_fake_model_is_capped_to_physical_coherence_times():
    # the calibrations of some fake qubits report T2 > 2 T1; every model qclone builds caps it
    seen = 0
    for name in DEVICE_NAMES:
        props = get_backend(name).target.qubit_properties
        bad = [q for q, p in enumerate(props) if p.t1 is not None and p.t2 is not None and p.t2 > 2 * p.t1]
        seen += len(bad)
        sub = restricted_target(get_backend(name).target, bad or [0])
        for q, p in zip(bad, sub.qubit_properties):
            assert p.t2 == 2 * props[q].t1 and p.t1 == props[q].t1 and p.frequency == props[q].frequency
    assert seen > 0  # the data this guards against is really there (fake_torino alone has five such qubits)
    capped = physical_qubit_properties(QubitProperties(t1=1e-4, t2=3e-4, frequency=5e9))
    assert (capped.t1, capped.t2, capped.frequency) == (1e-4, 2e-4, 5e9)
    fine = QubitProperties(t1=1e-4, t2=1.5e-4)
    assert physical_qubit_properties(fine) is fine
    unknown = QubitProperties(t1=None, t2=None)  # fake_kingston has such a qubit: no relaxation, no cap
    assert physical_qubit_properties(unknown) is unknown and physical_qubit_properties(None) is None


def test_local_seed_is_never_zero_and_seed_zero_is_reproducible():
    assert all(local_seed(s) != 0 for s in range(200))
    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.measure(0, 0)
    from qiskit_aer import AerSimulator

    runs = [SamplerRunner(AerSimulator()).run([qc], shots=400, seed=0)[0] for _ in range(2)]
    assert runs[0] == runs[1]


def _registers_circuit(width):
    # two classical registers; qubits 0 and 3 flipped, measured into a[0], a[1], b[0] = q0, q1, q3
    q = QuantumRegister(width, "q")
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(1, "b")
    qc = QuantumCircuit(q, a, b)
    qc.x([0, 3])
    qc.barrier()
    qc.measure([0, 1, 3], [a[0], a[1], b[0]])
    return qc


def _expected_key(qc):
    # independent: qiskit.quantum_info's probabilities of the measured qubits, qargs in clbit order
    bare = qc.remove_final_measurements(inplace=False)
    probs = Statevector(bare).probabilities_dict(qargs=[0, 1, 3])
    (key,) = [k for k, v in probs.items() if v > 0.5]
    return key


def test_counts_are_little_endian_over_all_registers(fez):
    from qiskit_aer import AerSimulator

    qc = _registers_circuit(4)
    want = _expected_key(qc)
    assert want == "101"  # clbit 0 (q0 = 1) is the rightmost character
    assert AerRunner().run([qc], shots=50, seed=1) == [{want: 50}]
    assert SamplerRunner(AerSimulator()).run([qc], shots=50, seed=1) == [{want: 50}]
    wide = _registers_circuit(fez.num_qubits)
    for runner in (AerRunner(fez), SamplerRunner(fez)):
        counts = runner.run(lower([wide], fez), shots=400, seed=2)[0]
        assert max(counts, key=counts.get) == want and all(len(k) == 3 and " " not in k for k in counts)


@pytest.mark.slow
def test_sampler_and_aer_fidelities_agree_statistically(torino):
    # the same device noise through two code paths (Aer's counts, SamplerV2's bit arrays), other seeds
    kw = dict(shots=2000, bootstrap=200, seed=None)
    aer = measure_fidelity(torino, 2, runner=AerRunner(torino), **{**kw, "seed": 11})
    smp = measure_fidelity(torino, 2, runner=SamplerRunner(torino), **{**kw, "seed": 12})
    assert smp.runner == "sampler:fake_torino" and aer.runner == "aer:fake_torino"

    def sigma(r):
        return (r.ci_high - r.ci_low) / (2 * 1.96)

    z = abs(aer.average_fidelity - smp.average_fidelity) / math.hypot(sigma(aer), sigma(smp))
    assert z < 4, (aer.average_fidelity, smp.average_fidelity, z)
    zb = abs(aer.bell_fidelity - smp.bell_fidelity) / math.hypot(
        (aer.bell_ci_high - aer.bell_ci_low) / 3.92, (smp.bell_ci_high - smp.bell_ci_low) / 3.92)
    assert zb < 4
    # and the noise is really there: both well below 1, both above the classical limit
    for r in (aer, smp):
        assert r.ci_low > CLASSICAL_LIMIT and r.ci_high < 1 - 2 * sigma(r)
