"""The scheduled stim model against independent computations: Pauli-channel algebra, stim sampling, Aer's density matrix."""

import itertools
import json

import numpy as np
import pytest
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from qclone.cli.main import main
from qclone.errors import InvalidArgumentError
from qclone.hardware.backends import RestrictedBackend, ordered_active_qubits, renumber
from qclone.hardware.compile import CARDINAL_STATES, cardinal_vector, compile_protocol
from qclone.hardware.idle import schedule
from qclone.hardware.pauli_noise import pauli_probabilities, twirl_delays, twirled_noise_model
from qclone.hardware.predict import (
    CLASSICAL_LIMIT,
    DeviceNoise,
    device_circuit,
    device_noise,
    independent_mechanisms,
    largest_clones,
    predict,
    scheduled_stim_circuit,
)
from qclone.sim.stabilizer import average_fidelity, exact_pauli_channel, sample_counts, wilson_interval

PAULIS = "IXYZ"


def _product(a: str, b: str) -> str:
    table = {("I", p): p for p in PAULIS} | {(p, "I"): p for p in PAULIS} | {(p, p): "I" for p in PAULIS}
    table |= {("X", "Y"): "Z", ("Y", "X"): "Z", ("Y", "Z"): "X", ("Z", "Y"): "X", ("Z", "X"): "Y", ("X", "Z"): "Y"}
    return "".join(table[(x, y)] for x, y in zip(a, b))


def _compose(mechs, nq):
    """The Pauli channel of independent mechanisms, by brute-force convolution (no eigenvalues)."""
    dist = {"I" * nq: 1.0}
    for lab, q in mechs:
        out: dict[str, float] = {}
        for k, v in dist.items():
            out[k] = out.get(k, 0.0) + (1 - q) * v
            kk = _product(k, lab)
            out[kk] = out.get(kk, 0.0) + q * v
        dist = out
    return dist


def test_independent_mechanisms_rebuild_every_twirled_device_error(fez):
    model = NoiseModel.from_backend(RestrictedBackend(fez, (10, 11, 12)))
    seen = 0
    for errors in model._local_quantum_errors.values():
        for error in errors.values():
            probs = pauli_probabilities(error)
            nq = len(next(iter(probs)))
            rebuilt = _compose(independent_mechanisms(probs), nq)
            for lab in ("".join(t) for t in itertools.product(PAULIS, repeat=nq)):
                assert rebuilt.get(lab, 0.0) == pytest.approx(probs.get(lab, 0.0), abs=1e-13)
            seen += 1
    assert seen >= 15


def test_an_edge_between_qubits_covered_apart_gets_its_error(fez):
    # the two ends of a coupler covered by two earlier calls: the coupler's CZ error is still there, the
    # same as when both are covered at once (it was left out, which made the model better than the device)
    a, b = (int(q) for q in fez.coupling_map.get_edges()[0])
    apart = DeviceNoise(fez).cover([a]).cover([b]).cover([a, b])
    together = DeviceNoise(fez).cover([a, b])
    assert apart.gate("cz", (a, b)) and apart.gate("cz", (a, b)) == together.gate("cz", (a, b))
    assert apart.probabilities == together.probabilities


def test_a_correlated_channel_that_is_no_product_is_refused():
    from qclone.errors import UnsupportedError

    with pytest.raises(UnsupportedError):  # X and Z only together (never alone) is no product of independent flips
        independent_mechanisms({"I": 0.5, "Y": 0.5 - 1e-3, "X": 1e-3})


def test_noiseless_device_gives_one_and_errors_lower_it(fez):
    dc = device_circuit(fez, 2)
    zero = predict(fez, 2, scale=0.0, circuit=dc)
    assert zero.average_fidelity == pytest.approx(1.0, abs=1e-12)  # the translation to stim is the protocol
    p = predict(fez, 2, circuit=dc)
    worse = predict(fez, 2, scale=2.0, circuit=dc)
    assert 1 > p.average_fidelity > worse.average_fidelity > 0.5
    assert p.stats.two_qubit_gates == compile_protocol(fez, 2, input="bell").stats.two_qubit_gates


def test_dynamic_variant_translates_exactly(fez):
    """Mid-circuit measurements and Z feed-forward become stim feedback: noiseless, the clone is the input."""
    from qclone.hardware.variants import VARIANTS

    if "dynamic" not in VARIANTS:
        pytest.skip("no dynamic variant in this tree")
    zero = predict(fez, 4, variant="dynamic", scale=0.0)
    assert zero.average_fidelity == pytest.approx(1.0, abs=1e-12)
    assert 0.5 < predict(fez, 4, variant="dynamic").average_fidelity < 1


def test_the_exact_channel_is_what_stim_samples(fez):
    """The detector-error-model channel against stim's own sampling of the same circuit (Wilson interval)."""
    dc = device_circuit(fez, 3)
    sched = schedule(dc.circuit, fez.target)
    circ, mechanisms, approximated = scheduled_stim_circuit(sched, device_noise(fez, compile_protocol(fez, 3).layout.path),
                                                            reference=dc.reference, input_qubit=dc.input_qubit, clone=dc.clone)
    assert mechanisms > 500 and approximated == 0
    exact = exact_pauli_channel(circ)["p_I"]
    counts = sample_counts(circ, 200_000, seed=11)
    lo, hi = wilson_interval(counts["p_I"], 200_000, z=4.0)
    assert lo < exact < hi


def test_asap_and_dd_cost_on_the_model(fez):
    alap = predict(fez, 5)
    asap = predict(fez, 5, policy="asap")
    dd = predict(fez, 5, dd="XX")
    assert asap.stats.idle.idle_qubit_seconds > alap.stats.idle.idle_qubit_seconds
    assert asap.average_fidelity < alap.average_fidelity
    assert dd.stats.idle.dd_pulses > 0
    assert dd.average_fidelity < alap.average_fidelity  # Markovian T1/T2: the pulses only add their errors


@pytest.mark.slow
def test_largest_clones_is_the_last_n_above_two_thirds(fez):
    r = largest_clones(fez, limit=12)
    assert r.points[r.clones] > CLASSICAL_LIMIT >= r.points[r.clones + 1]
    assert all(f <= CLASSICAL_LIMIT for n, f in r.points.items() if n > r.clones)
    assert 6 <= r.clones <= 12


def test_bad_arguments(fez):
    with pytest.raises(InvalidArgumentError):
        predict(fez, 0)
    with pytest.raises(InvalidArgumentError):
        predict(fez, 2, variant="teleport")
    with pytest.raises(InvalidArgumentError):
        predict(fez, 2, scale=float("nan"))


def _aer_average_fidelity(backend, n):
    """Aer's density matrix with the twirled device model, the six cardinal inputs, no readout: exact."""
    fids = []
    for label in CARDINAL_STATES:
        comp = compile_protocol(backend, n, 1, input=label)
        sched = schedule(comp.circuit, backend.target)
        qubits = ordered_active_qubits([sched], comp.layout.path)
        sub = RestrictedBackend(backend, qubits)
        small = twirl_delays([renumber(sched, qubits)], sub.target)[0]
        small.save_density_matrix([qubits.index(comp.clone_qubit)])
        rho = AerSimulator(method="density_matrix", noise_model=twirled_noise_model(sub)).run(small).result().data(0)["density_matrix"]
        v = cardinal_vector(label)
        fids.append(float(np.real(v.conj() @ np.asarray(rho) @ v)))
    return float(np.mean(fids))


@pytest.mark.slow
def test_the_model_is_aers_twirled_density_matrix(fez):
    """Same schedule, same twirled errors: the stim model (no readout) against Aer's exact density matrix."""
    n = 2
    dc = device_circuit(fez, n)
    sched = schedule(dc.circuit, fez.target)
    circ, _, _ = scheduled_stim_circuit(sched, device_noise(fez, compile_protocol(fez, n).layout.path), reference=dc.reference,
                                        input_qubit=dc.input_qubit, clone=dc.clone, readout=False)
    ours = average_fidelity(exact_pauli_channel(circ)["p_I"])
    assert ours == pytest.approx(_aer_average_fidelity(fez, n), abs=3e-4)  # measured: 8e-5 (n = 2), 7e-5 (n = 3)


def test_cli_predict_json_and_errors(capsys):
    code = main(["hardware", "predict", "--backend", "fake_fez", "--clones", "1,2", "--variant", "today", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    assert [r["clones"] for r in rows] == [1, 2] and rows[0]["average_fidelity"] > rows[1]["average_fidelity"] > CLASSICAL_LIMIT
    for args in (["--backend", "fake_fez", "--variant", "nope"], ["--backend", "fake_fez", "--timing", "soon"],
                 ["--backend", "ibm_fez"], ["--backend", "fake_fez", "--clones", "64"],
                 ["--backend", "fake_fez", "--max-clones", "99"]):  # fmt: skip
        code = main(["hardware", "predict", *args])
        _, err = capsys.readouterr()
        assert code == 2 and err.count("\n") == 1 and err.startswith("qclone: error:"), (args, err)
