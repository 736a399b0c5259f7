"""The device glue of the twirled prediction: the heavy-hex schedule and the compiled circuit's duration."""

import pytest

from qclone.analysis.twirl import routed_fidelity_circuit, twirled_prediction
from qclone.hardware.prediction import device_prediction, schedule_duration
from qclone.hardware.schedule import protocol_schedule
from qclone.sim.noise import noise_model
from qclone.sim.stabilizer import exact_pauli_channel


def _routed(n, noise):
    return routed_fidelity_circuit(protocol_schedule(n, 1), noise=noise)


def test_the_decrypted_clone_is_the_schedules():
    t = twirled_prediction(4, schedule=protocol_schedule(4, 3), noise=noise_model("depolarizing", p=1e-3))
    assert t == device_prediction(4, noise=noise_model("depolarizing", p=1e-3), decrypt=3)


def test_idle_over_the_schedule_brackets_from_below(fez):
    """Idle relaxation over the whole schedule lowers the routed prediction; with no idle time it is the routed one."""
    from qclone.sim.noise import HERON_R2_MEDIANS

    short, long = device_prediction(2, backend=fez), device_prediction(6, backend=fez)
    assert 0 < short.duration < long.duration < 1e-4
    assert short.routed_idle < short.routed and long.routed_idle < long.routed
    assert schedule_duration(fez, 6) == pytest.approx(long.duration)
    h = HERON_R2_MEDIANS
    zero = noise_model("heron") + noise_model("memory", time=0.0, t1=float(h["t1"]), t2=float(h["t2"]))
    assert exact_pauli_channel(_routed(4, zero))["p_I"] == pytest.approx(
        exact_pauli_channel(_routed(4, noise_model("heron")))["p_I"], abs=1e-12)
    assert device_prediction(2).routed_idle is None
