"""The Pauli twirl of the device noise: against Qiskit's channel algebra and closed forms."""

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Delay
from qiskit.quantum_info import average_gate_fidelity
from qiskit_aer.noise import NoiseModel, thermal_relaxation_error

from qclone.errors import InvalidArgumentError
from qclone.hardware.backends import AerRunner, RestrictedBackend
from qclone.hardware.experiment import measure_fidelity
from qclone.hardware.pauli_noise import pauli_probabilities, pauli_probabilities_kraus, twirl_delays, twirl_error, twirled_noise_model


@pytest.fixture(scope="module")
def device_model(fez):
    return NoiseModel.from_backend(RestrictedBackend(fez, (10, 11, 12)))


def test_fast_twirl_equals_the_kraus_twirl_on_every_device_error(device_model):
    seen = 0
    for errors in device_model._local_quantum_errors.values():
        for error in errors.values():
            fast, slow = pauli_probabilities(error), pauli_probabilities_kraus(error)
            assert set(fast) == set(slow)
            assert max(abs(fast[k] - slow[k]) for k in fast) < 1e-12
            seen += 1
    assert seen >= 15  # x, sx, id, reset on 3 qubits and cz both ways on 2 edges


def test_twirl_keeps_the_average_gate_fidelity(device_model):
    """Twirling keeps the PTM diagonal, hence the process fidelity (Qiskit's own computation)."""
    cz = device_model._local_quantum_errors["cz"][(0, 1)]
    tw = twirl_error(cz)
    assert average_gate_fidelity(tw.to_quantumchannel()) == pytest.approx(average_gate_fidelity(cz.to_quantumchannel()), abs=1e-12)
    assert tw.to_quantumchannel() != cz.to_quantumchannel()  # thermal relaxation is not a Pauli channel


@pytest.mark.parametrize("t1, t2, t", [(100e-6, 80e-6, 2e-6), (50e-6, 150e-6, 10e-6)])
def test_twirled_relaxation_matches_the_closed_form(t1, t2, t):
    p = pauli_probabilities(thermal_relaxation_error(t1, min(t2, 2 * t1), t))
    px = (1 - math.exp(-t / t1)) / 4
    pz = (1 - math.exp(-t / min(t2, 2 * t1))) / 2 - px
    assert p["X"] == pytest.approx(px, abs=1e-12) and p["Y"] == pytest.approx(px, abs=1e-12)
    assert p["Z"] == pytest.approx(pz, abs=1e-12)


def test_delays_become_twirled_relaxation(fez):
    sub = RestrictedBackend(fez, (10, 11))
    qc = QuantumCircuit(2)
    qc.sx(1)
    qc.append(Delay(1000, "dt"), [1])
    qc.x(0)
    out = twirl_delays([qc], sub.target)[0]
    assert [ins.operation.name for ins in out.data] == ["sx", "quantum_channel", "x"]
    props = sub.target.qubit_properties[1]
    seconds = 1000 * sub.target.dt
    px = (1 - math.exp(-seconds / props.t1)) / 4
    probs = pauli_probabilities(out.data[1].operation._quantum_error)
    assert probs["X"] == pytest.approx(px, rel=1e-9) and set(probs) == {"I", "X", "Y", "Z"}


def test_a_qubit_still_in_zero_does_not_relax(fez):
    """Aer's thermal relaxation (to the ground state) leaves |0⟩ alone; its twirl would flip it, so a delay
    before a qubit's first operation is dropped, one after it is kept."""
    from qiskit.quantum_info import DensityMatrix

    sub = RestrictedBackend(fez, (10, 11))
    props = sub.target.qubit_properties[0]
    relax = thermal_relaxation_error(props.t1, min(props.t2, 2 * props.t1), 5e-6)
    zero = DensityMatrix.from_label("0").evolve(relax.to_quantumchannel())
    assert np.allclose(zero.data, DensityMatrix.from_label("0").data)
    qc = QuantumCircuit(2)
    qc.append(Delay(1250, "dt"), [0])
    qc.x(0)
    qc.append(Delay(1250, "dt"), [0])
    qc.append(Delay(1250, "dt"), [1])
    out = twirl_delays([qc], sub.target)[0]
    assert [ins.operation.name for ins in out.data] == ["x", "quantum_channel"]


def test_twirled_model_has_pauli_errors_only(fez):
    model = twirled_noise_model(RestrictedBackend(fez, (10, 11)))
    for errors in model._local_quantum_errors.values():
        for error in errors.values():
            names = {ins.operation.name for c in error.circuits for ins in c.data}
            assert names <= {"id", "x", "y", "z", "pauli"}, names
    assert model._local_readout_errors  # readout errors kept


def test_twirled_device_is_close_to_the_device(fez):
    """At n = 1 the twirled and the exact device model give nearly the same fidelity (density matrix)."""
    exact = measure_fidelity(fez, 1, shots=4000, runner=AerRunner(fez), entangled=False, bootstrap=20, seed=5)
    twirled = measure_fidelity(fez, 1, shots=4000, runner=AerRunner(fez, noise="twirled"), entangled=False, bootstrap=20, seed=5)
    assert twirled.runner == "aer:fake_fez:twirled"
    assert abs(exact.average_fidelity - twirled.average_fidelity) < 0.01
    assert 0.9 < twirled.average_fidelity < 1


def test_twirled_mps_runs_the_chain(fez):
    r = measure_fidelity(fez, 3, shots=100, runner=AerRunner(fez, noise="twirled", method="mps"), inputs=("0", "+i"),
                         entangled=False, bootstrap=10, seed=1)  # fmt: skip
    assert 2 / 3 < r.average_fidelity <= 1 and r.circuits == 6 and r.seconds_per_shot > 0


def test_runner_arguments():
    with pytest.raises(InvalidArgumentError):
        AerRunner(noise="twirled")  # nothing to twirl
    with pytest.raises(InvalidArgumentError):
        AerRunner(noise="magic")
    with pytest.raises(InvalidArgumentError):
        AerRunner(method="mps", max_bond_dimension=0)
    with pytest.raises(InvalidArgumentError):
        AerRunner(method="mps", truncation_threshold=2.0)
    assert AerRunner(method="mps").method == "matrix_product_state"
    assert np.isfinite(AerRunner(method="mps", max_bond_dimension=8, truncation_threshold=1e-10).max_bond_dimension)
