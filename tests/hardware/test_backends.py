import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit

from qclone.errors import InvalidArgumentError
from qclone.hardware.backends import AerRunner, RestrictedBackend, SamplerRunner, active_qubits, renumber, restricted_target
from qclone.hardware.tomography import lower


def _bell_on(num_qubits, a, b):
    qc = QuantumCircuit(num_qubits)
    qc.h(a)
    qc.cx(a, b)
    qc.barrier()
    cr = ClassicalRegister(2, "m")
    qc.add_register(cr)
    qc.measure([a, b], cr)
    return qc


def test_restricted_target_keeps_the_device_numbers(fez):
    qubits = (3, 4, 16, 23)
    sub = restricted_target(fez.target, qubits)
    assert sub.num_qubits == 4
    for i, q in enumerate(qubits):
        assert sub.qubit_properties[i].t1 == fez.target.qubit_properties[q].t1
        assert sub["sx"][(i,)].error == fez.target["sx"][(q,)].error
        assert sub["measure"][(i,)].error == fez.target["measure"][(q,)].error
    assert sub["cz"][(0, 1)].error == fez.target["cz"][(3, 4)].error
    assert sub["cz"][(0, 2)].duration == fez.target["cz"][(3, 16)].duration
    assert (1, 2) not in sub["cz"]  # 4 and 16 are not coupled


def test_renumber_and_active_qubits():
    qc = _bell_on(10, 7, 2)
    assert active_qubits([qc]) == (2, 7)
    small = renumber(qc, (7, 2))
    assert small.num_qubits == 2 and small.cregs == qc.cregs


def test_noiseless_aer_runner_counts():
    counts = AerRunner().run([_bell_on(6, 4, 5)], shots=200, seed=2)[0]
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 200


def test_device_noise_shows_up(fez):
    # qubits 0 and 1 of fake_fez are coupled; readout and gate noise give some 01/10 outcomes
    counts = AerRunner(fez).run(lower([_bell_on(fez.num_qubits, 0, 1)], fez), shots=4000, seed=1)[0]
    odd = counts.get("01", 0) + counts.get("10", 0)
    assert 0 < odd < 400


def test_sampler_runner_same_path_locally(fez):
    # qiskit-ibm-runtime's SamplerV2 in local mode, on the device's (restricted) noisy simulator
    from qiskit_aer import AerSimulator

    small = RestrictedBackend(fez, (0, 1))
    qc = lower([renumber(_bell_on(fez.num_qubits, 0, 1), (0, 1))], small)[0]
    mode = AerSimulator.from_backend(small)
    counts = SamplerRunner(mode).run([qc], shots=500, seed=3)[0]
    assert sum(counts.values()) == 500 and counts.get("00", 0) + counts.get("11", 0) > 400


@pytest.mark.slow
def test_sampler_runner_with_the_fake_backend_itself(fez):
    counts = SamplerRunner(fez).run(lower([_bell_on(fez.num_qubits, 0, 1)], fez), shots=300, seed=3)[0]
    assert sum(counts.values()) == 300 and counts.get("00", 0) + counts.get("11", 0) > 250


@pytest.mark.slow
def test_restricted_noise_equals_the_full_device_noise(fez):
    # the same density matrix, with Aer's noise model built for all 156 qubits or for the 2 in use
    from qiskit_aer import AerSimulator

    qc = QuantumCircuit(fez.num_qubits)
    qc.sx(0)
    qc.cz(0, 1)
    qc.sx(1)
    qc.save_density_matrix([0, 1])
    full = AerSimulator.from_backend(fez, method="density_matrix").run(qc).result().data()["density_matrix"]
    small = renumber(qc, (0, 1))
    part = AerSimulator.from_backend(RestrictedBackend(fez, (0, 1)), method="density_matrix").run(small).result().data()["density_matrix"]
    assert np.allclose(np.asarray(full), np.asarray(part), atol=1e-12)


def test_bad_arguments(fez):
    with pytest.raises(InvalidArgumentError):
        AerRunner(method="fast")
    with pytest.raises(InvalidArgumentError):
        AerRunner().run([_bell_on(2, 0, 1)], shots=0)
    with pytest.raises(InvalidArgumentError):
        AerRunner(fez, noise_model=object())
