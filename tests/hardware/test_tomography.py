import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector
from qiskit_aer.noise import NoiseModel, depolarizing_error

from qclone.hardware.backends import AerRunner
from qclone.hardware.compile import CARDINAL_STATES, cardinal_vector
from qclone.hardware.tomography import run_tomography


def _prepare(label, qubits=1):
    qc = QuantumCircuit(qubits)
    for g in CARDINAL_STATES[label][0]:
        getattr(qc, g)(0)
    return qc


def _depolarized(p):
    nm = NoiseModel(basis_gates=["id", "x", "h", "s", "sdg", "cx"])
    nm.add_all_qubit_quantum_error(depolarizing_error(p, 1), ["id"])
    return nm


@pytest.mark.parametrize("label", list(CARDINAL_STATES))
def test_noiseless_fidelity_is_one(label):
    fit = run_tomography(_prepare(label), [0], AerRunner(), target=cardinal_vector(label), shots=200, seed=1, bootstrap=10)
    assert fit.fidelity == pytest.approx(1, abs=1e-9)
    assert all(f == pytest.approx(1, abs=1e-9) for f in fit.bootstrap)


def test_known_depolarizing_channel_gives_its_average_fidelity():
    p = 0.3  # ρ → (1-p)ρ + p I/2 has fidelity 1 - p/2 = 0.85 for every pure input
    fids, spread = [], []
    for label in CARDINAL_STATES:
        qc = _prepare(label)
        qc.id(0)
        fit = run_tomography(qc, [0], AerRunner(noise_model=_depolarized(p)), target=cardinal_vector(label), shots=4000, seed=7, bootstrap=50)
        fids.append(fit.fidelity)
        spread.append(np.std(fit.bootstrap))
    mean = np.mean(fids)
    err = np.sqrt(np.sum(np.square(spread))) / len(fids)
    assert abs(mean - (1 - p / 2)) < 4 * err + 1e-3
    assert 0.002 < err < 0.01


def test_bell_pair_with_local_depolarizing():
    p = 0.2  # isotropic state: Bell fidelity 1 - 3p/4 = 0.85, concurrence 2F - 1 = 0.7
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 2)
    qc.id(2)
    bell = np.array([1, 0, 0, 1]) / np.sqrt(2)
    fit = run_tomography(qc, [0, 2], AerRunner(noise_model=_depolarized(p)), target=bell, shots=4000, seed=5, bootstrap=50)
    assert fit.fidelity == pytest.approx(1 - 3 * p / 4, abs=4 * np.std(fit.bootstrap) + 1e-3)
    assert fit.concurrence == pytest.approx(1 - 3 * p / 2, abs=0.05)
    assert np.linalg.eigvalsh(fit.physical_state).min() > -1e-9


@pytest.mark.slow
def test_readout_mitigation_brings_the_estimate_back_to_the_ideal(fez):
    """Readout errors only: raw = 1 − (flips averaged), mitigated ≈ the ideal that qiskit.quantum_info computes."""
    from qiskit.quantum_info import partial_trace
    from qiskit_aer.noise import NoiseModel, ReadoutError

    from qclone.hardware.backends import AerRunner, renumber
    from qclone.hardware.compile import cardinal_vector, compile_protocol
    from qclone.hardware.experiment import measure_fidelity

    comp = compile_protocol(fez, 1, input="+")
    path = list(comp.layout.path)
    state = Statevector(renumber(comp.circuit, path))
    clone = partial_trace(state, [i for i, q in enumerate(path) if q != comp.clone_qubit])
    ideal = float(np.real(cardinal_vector("+").conj() @ clone.data @ cardinal_vector("+")))
    assert ideal == pytest.approx(1.0, abs=1e-9)  # the compiled protocol returns the input exactly
    model = NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]))
    r = measure_fidelity(fez, 1, shots=4000, runner=AerRunner(noise_model=model), mitigate=True, bootstrap=20, idle_noise=False, seed=5)
    assert r.average_fidelity == pytest.approx(0.85, abs=0.02)  # 1 − (0.1 + 0.2)/2
    assert abs(r.mitigated_fidelity - ideal) < abs(r.average_fidelity - ideal)
    assert r.mitigated_fidelity == pytest.approx(ideal, abs=0.03)
    assert r.mitigated_bell_fidelity is not None and r.mitigated_bell_fidelity > r.bell_fidelity + 0.2
