import pytest

from qclone.analysis.scaling import CLASSICAL_LIMIT
from qclone.errors import InvalidArgumentError
from qclone.hardware.backends import AerRunner
from qclone.hardware.experiment import measure_fidelity


def test_noiseless_run_of_the_device_circuits_gives_one(fez):
    r = measure_fidelity(fez, 2, shots=200, runner=AerRunner(), bootstrap=20, seed=1)
    assert r.average_fidelity == pytest.approx(1, abs=1e-9)
    assert r.ci_low == pytest.approx(1, abs=1e-9) and r.ci_high == pytest.approx(1, abs=1e-9)
    assert r.bell_fidelity == pytest.approx(1, abs=1e-9)
    assert r.concurrence > 0.9  # the physical fit of a finite sample is slightly mixed
    assert set(r.state_fidelities) == {"0", "1", "+", "-", "+i", "-i"}
    assert r.two_qubit_gates > 0 and len(r.physical_qubits) == 6
    d = r.to_dict()
    assert {"clones", "shots", "average_fidelity", "ci_low", "ci_high"} <= set(d)


def test_device_noise_lowers_fidelity_but_stays_quantum(fez):
    r = measure_fidelity(fez, 1, shots=400, runner=AerRunner(fez), bootstrap=30, seed=2)
    assert CLASSICAL_LIMIT < r.ci_low <= r.average_fidelity <= r.ci_high < 1
    assert r.bell_ci_low <= r.bell_fidelity <= r.bell_ci_high < 1
    assert 0 < r.concurrence < 1


def test_bad_arguments(fez):
    with pytest.raises(InvalidArgumentError):
        measure_fidelity(fez, 2, shots=10, runner=AerRunner(), inputs=("0", "2"))
    with pytest.raises(InvalidArgumentError):
        measure_fidelity(fez, 2, shots=10, runner=AerRunner(), confidence=1.5)
    with pytest.raises(InvalidArgumentError):
        measure_fidelity(fez, 2, shots=10, runner=AerRunner(), bootstrap=1)
