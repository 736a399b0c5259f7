import pytest

from qclone.analysis.twirl import routed_fidelity_circuit, twirled_prediction
from qclone.hardware.schedule import protocol_schedule
from qclone.sim.noise import noise_model
from qclone.sim.stabilizer import exact_pauli_channel, sample_counts


def _routed(n, noise):
    return routed_fidelity_circuit(protocol_schedule(n, 1), noise=noise)


def test_noiseless_routed_circuit_measures_deterministic_bell_observables():
    for n in (1, 2, 7):
        assert exact_pauli_channel(_routed(n, noise_model("depolarizing", p=0)))["p_I"] == 1
        assert sample_counts(_routed(n, noise_model("readout", p=0)), 100, seed=1)["p_I"] == 100


def test_routing_costs_fidelity_and_readout_does_not_depend_on_it():
    t = twirled_prediction(8, schedule=protocol_schedule(8, 1), noise=noise_model("depolarizing", p=1e-3))
    assert t.routed < t.textbook < 1
    r = twirled_prediction(8, schedule=protocol_schedule(8, 1), noise=noise_model("readout", p=0.02))
    assert r.routed == pytest.approx(r.textbook)


def test_sampling_agrees_with_the_exact_channel():
    c = _routed(5, noise_model("heron"))
    exact = exact_pauli_channel(c)["p_I"]
    counts = sample_counts(c, 20_000, seed=3)
    assert counts["p_I"] / 20_000 == pytest.approx(exact, abs=0.01)
