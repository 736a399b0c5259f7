import pytest

from qclone.hardware.twirl import routed_fidelity_circuit, twirled_prediction
from qclone.sim.noise import noise_model
from qclone.sim.stabilizer import exact_pauli_channel, sample_counts


def test_noiseless_routed_circuit_measures_deterministic_bell_observables():
    for n in (1, 2, 7):
        assert exact_pauli_channel(routed_fidelity_circuit(n, noise=noise_model("depolarizing", p=0)))["p_I"] == 1
        assert sample_counts(routed_fidelity_circuit(n, noise=noise_model("readout", p=0)), 100, seed=1)["p_I"] == 100


def test_routing_costs_fidelity_and_readout_does_not_depend_on_it():
    t = twirled_prediction(8, noise=noise_model("depolarizing", p=1e-3))
    assert t.routed < t.textbook < 1
    r = twirled_prediction(8, noise=noise_model("readout", p=0.02))
    assert r.routed == pytest.approx(r.textbook)


def test_sampling_agrees_with_the_exact_channel():
    c = routed_fidelity_circuit(5, noise=noise_model("heron"))
    exact = exact_pauli_channel(c)["p_I"]
    counts = sample_counts(c, 20_000, seed=3)
    assert counts["p_I"] / 20_000 == pytest.approx(exact, abs=0.01)


def test_idle_over_the_schedule_brackets_from_below(fez):
    """Idle relaxation over the whole schedule lowers the routed prediction; with no idle time it is the routed one."""
    from qclone.hardware.twirl import schedule_duration
    from qclone.sim.noise import HERON_R2_MEDIANS

    short, long = twirled_prediction(2, backend=fez), twirled_prediction(6, backend=fez)
    assert 0 < short.duration < long.duration < 1e-4
    assert short.routed_idle < short.routed and long.routed_idle < long.routed
    assert schedule_duration(fez, 6) == pytest.approx(long.duration)
    h = HERON_R2_MEDIANS
    zero = noise_model("heron") + noise_model("memory", time=0.0, t1=float(h["t1"]), t2=float(h["t2"]))
    assert exact_pauli_channel(routed_fidelity_circuit(4, noise=zero))["p_I"] == pytest.approx(
        exact_pauli_channel(routed_fidelity_circuit(4, noise=noise_model("heron")))["p_I"], abs=1e-12)
    assert twirled_prediction(2).routed_idle is None
