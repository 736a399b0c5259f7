"""Durability Monte Carlo against the analytic value; retrieved fidelity against the dense engine."""

import math

import numpy as np
import pytest

from qclone.analysis import durability as sim_module
from qclone.analysis.durability import plot_durability, retrieved_fidelity, simulate, single_copy_fidelity
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.sim.exact import DensityMatrix, StateVector, partial_trace
from qclone.sim.noise import twirled_relaxation


@pytest.mark.parametrize(("n", "p", "q"), [(1, 0.3, 0.0), (3, 0.5, 0.0), (4, 0.2, 0.05), (2, 0.9, 0.1)])
def test_monte_carlo_agrees_with_analytic(n, p, q):
    m = 200_000
    r = simulate(clones=n, failure_rate=p, objects=m, vault_failure_rate=q, seed=12)
    for row in r["by_clones"]:
        expected = (1 - q) * (1 - p ** row["clones"])
        assert row["analytic"] == pytest.approx(expected)
        sigma = math.sqrt(expected * (1 - expected) / m)
        assert abs(row["durability"] - expected) <= 5 * sigma + 1e-12
        assert row["retrievable"] + row["lost"] == m
    one = r["single_copy"]
    assert one["analytic"] == pytest.approx(1 - p)
    assert abs(one["durability"] - (1 - p)) <= 5 * math.sqrt(p * (1 - p) / m)
    assert r["encrypted"] == r["by_clones"][-1]
    survivors = [row["retrievable"] for row in r["by_clones"]]
    assert survivors == sorted(survivors)  # more clones never lose more objects (same draws)


def test_wilson_intervals_cover_the_analytic_value():
    covered = sum(
        simulate(clones=2, failure_rate=0.4, objects=3000, seed=s)["encrypted"]["analytic_in_ci"] for s in range(60)
    )
    # 95 % intervals: 57 expected; below 50 has probability < 1e-3
    assert covered >= 50


def test_clones_beat_a_single_copy():
    r = simulate(clones=3, failure_rate=0.1, objects=50_000, seed=3)
    assert r["encrypted"]["durability"] > r["single_copy"]["ci"][1]
    assert r["encrypted"]["lost"] < r["single_copy"]["lost"] / 20


def test_extremes():
    assert simulate(clones=2, failure_rate=0.0, objects=1000, seed=1)["encrypted"]["lost"] == 0
    assert simulate(clones=2, failure_rate=1.0, objects=1000, seed=1)["encrypted"]["retrievable"] == 0
    assert simulate(clones=5, failure_rate=0.0, objects=1000, vault_failure_rate=1.0, seed=1)["encrypted"]["retrievable"] == 0


def test_reproducible_and_chunked(monkeypatch):
    a = simulate(clones=3, failure_rate=0.3, objects=10_000, seed=9)
    assert a == simulate(clones=3, failure_rate=0.3, objects=10_000, seed=9)
    monkeypatch.setattr(sim_module, "_CHUNK_DRAWS", 50)  # many chunks: still every object counted once
    b = simulate(clones=3, failure_rate=0.3, objects=10_001, seed=9)
    assert b["encrypted"]["retrievable"] + b["encrypted"]["lost"] == 10_001
    assert abs(b["encrypted"]["durability"] - 0.973) < 5 * math.sqrt(0.973 * 0.027 / 10_001)


def _dense_retrieved_fe(k: int, n: int, t: float, t1: float, t2: float) -> float:
    """The same quantity from density matrices: register maximally entangled with k references."""
    lay = Layout(n, qubits=k, references=k)
    d = 2**k
    phi = np.zeros(d * d, dtype=complex)
    for i in range(d):
        phi[i * d + i] = 1 / math.sqrt(d)
    sv = StateVector.from_input(phi, lay.num_qubits, input_qubits=list(lay.inputs) + list(lay.reference_qubits))
    dm = DensityMatrix.from_statevector(sv)
    dm.apply_circuit(protocol_circuit(lay))
    px, py, pz = twirled_relaxation(t, t1, t2)
    for q in list(lay.signals) + list(lay.keys):
        dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [q])
    dm.apply_circuit(decryption(lay, 1))
    rho = partial_trace(dm.matrix, list(lay.clone(1)) + list(lay.reference_qubits))
    return float(np.real(phi.conj() @ rho @ phi))


@pytest.mark.parametrize(("k", "n", "t", "t1", "t2"), [(1, 1, 500.0, 3600.0, 3600.0), (1, 2, 900.0, 3600.0, 2000.0),
                                                       (1, 3, 300.0, 1000.0, 1500.0), (2, 1, 400.0, 2000.0, 1000.0)])
def test_retrieved_fidelity_matches_the_dense_engine(k, n, t, t1, t2):
    got = retrieved_fidelity(k, n, t, t1, t2)
    fe = _dense_retrieved_fe(k, n, t, t1, t2)
    assert got["entanglement_fidelity"] == pytest.approx(fe, abs=1e-10)
    d = 2**k
    assert got["average_fidelity"] == pytest.approx((d * fe + 1) / (d + 1), abs=1e-10)


def test_per_key_memories_and_the_decrypted_clone_match_the_dense_engine():
    n, t, t1, t2 = 3, 600.0, 3600.0, 3000.0
    key_t1, key_t2 = [1000.0, 4000.0, 2500.0], [900.0, 3000.0, 5000.0]
    lay = Layout(n, references=1)
    phi = np.array([1, 0, 0, 1]) / math.sqrt(2)
    sv = StateVector.from_input(phi, lay.num_qubits, input_qubits=[lay.A(), lay.R()])
    dm = DensityMatrix.from_statevector(sv)
    dm.apply_circuit(protocol_circuit(lay))
    for j in range(1, n + 1):
        for q, (a, b) in ((lay.S(j), (t1, t2)), (lay.N(j), (key_t1[j - 1], key_t2[j - 1]))):
            px, py, pz = twirled_relaxation(t, a, b)
            dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [q])
    dm.apply_circuit(decryption(lay, 2))
    fe = float(np.real(phi @ partial_trace(dm.matrix, [lay.S(2), lay.R()]) @ phi))
    got = retrieved_fidelity(1, n, t, t1, t2, key_t1=key_t1, key_t2=key_t2, decrypt=2)
    assert got["entanglement_fidelity"] == pytest.approx(fe, abs=1e-10)
    with pytest.raises(InvalidArgumentError, match="one value per key qubit"):
        retrieved_fidelity(1, n, t, t1, t2, key_t1=[1000.0])


def test_single_copy_fidelity_matches_the_dense_channel():
    t, t1, t2 = 700.0, 3000.0, 2500.0
    px, py, pz = twirled_relaxation(t, t1, t2)
    # one qubit maximally entangled with a reference, the channel on the qubit
    dm = DensityMatrix.from_statevector(np.array([1, 0, 0, 1]) / math.sqrt(2))
    dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [0])
    phi = np.array([1, 0, 0, 1]) / math.sqrt(2)
    fe = float(np.real(phi @ dm.matrix @ phi))
    assert single_copy_fidelity(1, t, t1, t2)["entanglement_fidelity"] == pytest.approx(fe, abs=1e-12)
    assert single_copy_fidelity(2, t, t1, t2)["entanglement_fidelity"] == pytest.approx(fe**2, abs=1e-12)


def test_fidelity_in_the_simulation():
    r = simulate(clones=3, failure_rate=0.2, objects=1000, seed=1, storage_time=600.0, t1=3600.0, t2=3600.0)
    f = r["fidelity"]
    assert f["encrypted"] == retrieved_fidelity(1, 3, 600.0, 3600.0, 3600.0)
    assert r["single_copy"]["fidelity"] == f["single_copy"]["average_fidelity"]
    # the retrieved state went through clone and key memories: worse than one plain copy
    assert f["encrypted"]["average_fidelity"] < f["single_copy"]["average_fidelity"]
    assert [row["fidelity"] for row in r["by_clones"]][-1] == f["encrypted"]["average_fidelity"]
    no_time = simulate(clones=3, failure_rate=0.2, objects=1000, seed=1, storage_time=0.0)
    assert no_time["fidelity"]["encrypted"]["average_fidelity"] == pytest.approx(1, abs=1e-12)
    assert simulate(clones=3, failure_rate=0.2, objects=10, seed=1)["fidelity"] is None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"failure_rate": 1.5}, InvalidArgumentError, "probability"),
        ({"failure_rate": float("nan")}, InvalidArgumentError, "probability"),
        ({"vault_failure_rate": -0.1}, InvalidArgumentError, "vault failure rate"),
        ({"objects": 0}, InvalidArgumentError, "objects must be at least 1"),
        ({"objects": 10**10}, TooLargeError, "objects"),
        ({"clones": 0}, InvalidArgumentError, "clones"),
        ({"clones": 65}, TooLargeError, "clones"),
        ({"clones": 2.5}, InvalidArgumentError, "integer"),
        ({"storage_time": -1.0}, InvalidArgumentError, "storage time"),
        ({"storage_time": 1.0, "t1": 10.0, "t2": 30.0}, InvalidArgumentError, "T2"),
        ({"storage_time": 1.0, "qubits": 7}, TooLargeError, "qubits"),
        ({"seed": -1}, InvalidArgumentError, "seed"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    args = {"clones": 2, "failure_rate": 0.1, "objects": 100} | kwargs
    with pytest.raises(error, match=message):
        simulate(**args)


def test_plot(tmp_path):
    r = simulate(clones=4, failure_rate=0.05, objects=5000, seed=2, storage_time=100.0)
    out = plot_durability(r, [tmp_path / "d.png", tmp_path / "d.svg"])
    assert [p.name for p in out] == ["d.png", "d.svg"]
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "d.svg").read_text()
    assert r["by_clones"][-1]["lost"] == 0  # drawn as an upper bound, not dropped
    plot_durability(simulate(clones=2, failure_rate=0.5, objects=100, seed=1), [tmp_path / "e.svg"])
    with pytest.raises(InvalidArgumentError, match="use one of"):
        plot_durability(r, [tmp_path / "d.jpg"])


@pytest.mark.parametrize(("n", "zones", "r"), [(4, 2, 0.1), (5, 3, 0.05), (3, 1, 0.2)])
def test_zones_monte_carlo_against_the_exact_sum(n, zones, r):
    """Correlated failures: the Monte Carlo, its closed form, and the exact sum over failure patterns agree."""
    from qclone.analysis.leakage import builtin_placement
    from qclone.analysis.resilience import FailureModel, Party, encrypted_scheme, exact_durability

    p, q, m = 0.3, 0.02, 200_000
    res = simulate(clones=n, failure_rate=p, objects=m, vault_failure_rate=q, zones=zones, zone_failure_rate=r, seed=5)
    for row in res["by_clones"]:
        c = row["clones"]
        model = FailureModel(tuple(Party(f"provider-{j}", p, f"z{(j - 1) % zones}") for j in range(1, c + 1))
                             + (Party("vault", q, None, "vault"),), {f"z{i}": r for i in range(zones)})
        exact = exact_durability(encrypted_scheme(builtin_placement("providers-without-client", c), c, model), model)
        assert row["analytic"] == pytest.approx(exact, abs=1e-12)
        assert abs(row["durability"] - exact) <= 5 * math.sqrt(exact * (1 - exact) / m) + 1e-12
    one = res["single_copy"]
    assert one["analytic"] == pytest.approx((1 - r) * (1 - p))
    assert abs(one["durability"] - (1 - r) * (1 - p)) <= 5 * math.sqrt(0.3 / m)
    assert res["parameters"]["zones"] == zones


def test_zone_rate_needs_zones():
    with pytest.raises(InvalidArgumentError, match="zone"):
        simulate(clones=2, failure_rate=0.1, objects=10, zone_failure_rate=0.1)
