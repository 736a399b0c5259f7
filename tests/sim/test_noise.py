"""Noise models: names, parameters, composition, the Heron preset's provenance, and the stim rendering."""

import math

import numpy as np
import pytest
import stim

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, protocol_circuit
from qclone.sim.noise import (
    HERON_R2_MEDIANS,
    NOISE_MODELS,
    NoiseModel,
    independent_pauli_errors,
    noise_model,
    noisy_stim_circuit,
    parse_noise,
    twirled_relaxation,
)


def test_heron_medians_are_those_of_the_fake_backend():
    """Recompute the preset from qiskit-ibm-runtime's offline FakeFez (156-qubit Heron r2)."""
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    backend = fake_provider.FakeFez()
    assert backend.num_qubits == 156 and HERON_R2_MEDIANS["backend"] == "FakeFez"
    target, props = backend.target, backend.properties()
    med = {
        "cz_error": np.median([p.error for p in target["cz"].values() if p is not None and p.error is not None]),
        "sx_error": np.median([p.error for p in target["sx"].values() if p is not None and p.error is not None]),
        "readout_error": np.median([props.readout_error(q) for q in range(156)]),
        "t1": np.median([props.t1(q) for q in range(156)]),
        "t2": np.median([props.t2(q) for q in range(156)]),
    }
    for k, v in med.items():
        assert HERON_R2_MEDIANS[k] == pytest.approx(v, rel=1e-12), k
    h = noise_model("heron")
    assert h.gate2 == (pytest.approx(1.25 * med["cz_error"]),) and h.gate1 == (pytest.approx(1.5 * med["sx_error"]),)
    assert h.readout == (pytest.approx(med["readout_error"]),) and h.idle == ()
    assert noise_model("heron", storage_time=1e-5).idle[0] == pytest.approx(twirled_relaxation(1e-5, med["t1"], med["t2"]))


def test_named_models_and_defaults():
    assert set(NOISE_MODELS) == {"depolarizing", "readout", "memory", "heron"}
    d = noise_model("depolarizing", p=0.01)
    assert d.gate2 == (0.01,) and d.gate1 == (0.001,)
    assert noise_model("depolarizing", p=0.01, p1=0.002).gate1 == (0.002,)
    assert noise_model("readout", p=0.02).readout == (0.02,)
    px, py, pz = noise_model("memory", p=0.06, t2_over_t1=0.5).idle[0]
    assert px + py + pz == pytest.approx(0.06) and px == py and pz > px
    t1, t2, t = 1e-4, 6e-5, 2e-5
    px, py, pz = noise_model("memory", time=t, t1=t1, t2=t2).idle[0]
    # twirled amplitude + phase damping: Pauli eigenvalues e^{-t/T2} (X, Y) and e^{-t/T1} (Z)
    assert 1 - 2 * (py + pz) == pytest.approx(math.exp(-t / t2))
    assert 1 - 2 * (px + py) == pytest.approx(math.exp(-t / t1))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("depolarizing", {}),
        ("depolarizing", {"p": 2.0}),
        ("depolarizing", {"p": -0.1}),
        ("depolarizing", {"p": 0.01, "q": 1}),
        ("readout", {"p": 0.7}),
        ("memory", {}),
        ("memory", {"p": 0.8}),
        ("memory", {"p": 0.1, "time": 1.0}),
        ("memory", {"time": 1e-6, "t1": 1e-4}),
        ("memory", {"time": 1e-6, "t1": 1e-4, "t2": 3e-4}),
        ("memory", {"p": 0.1, "t2_over_t1": 3}),
        ("heron", {"p": 0.01}),
        ("thermal", {"p": 0.01}),
    ],
)
def test_bad_parameters_are_refused_with_a_message(name, params):
    with pytest.raises(InvalidArgumentError):
        noise_model(name, **params)


def test_composition_applies_channels_in_turn():
    m = noise_model("depolarizing", p=0.01) + noise_model("readout", p=0.1) + noise_model("readout", p=0.2)
    assert m.name == "depolarizing+readout+readout"
    assert m.readout_flip == pytest.approx(0.1 * 0.8 + 0.2 * 0.9)
    assert (NoiseModel() + m) == m and NoiseModel().is_noiseless and not m.is_noiseless
    assert parse_noise("depolarizing+memory", 0.01).idle and parse_noise("heron").gate2
    with pytest.raises(InvalidArgumentError):
        parse_noise("depolarizing")
    with pytest.raises(InvalidArgumentError):
        parse_noise(" + ")
    assert m.to_dict()["readout"] == [0.1, 0.2]


@pytest.mark.parametrize("ch", [(0.01, 0.02, 0.03), (0.02, 0.01, 0.05), (0.0, 0.0, 0.2)])
def test_independent_flips_compose_to_the_channel(ch):
    a, b, c = independent_pauli_errors(*ch)
    # compose X(a), Y(b), Z(c): the product of independent flips, as Pauli (x, z) bits
    probs = {"I": 0.0, "X": 0.0, "Y": 0.0, "Z": 0.0}
    names = {(0, 0): "I", (1, 0): "X", (1, 1): "Y", (0, 1): "Z"}
    for fx in (0, 1):
        for fy in (0, 1):
            for fz in (0, 1):
                w = (a if fx else 1 - a) * (b if fy else 1 - b) * (c if fz else 1 - c)
                probs[names[((fx + fy) % 2, (fy + fz) % 2)]] += w
    assert (probs["X"], probs["Y"], probs["Z"]) == pytest.approx(ch)
    assert independent_pauli_errors(0.5, 0.4, 0.1) is None
    assert independent_pauli_errors(0.1, 0.0, 0.05) is None  # needs a negative Y flip


def test_noise_follows_every_gate_even_inside_a_ladder():
    lay = Layout(6)
    circ = protocol_circuit(lay, decrypt=3)
    noisy = noisy_stim_circuit(circ, noise_model("depolarizing", p=0.01), measure=[lay.S(3)])
    flat = noisy.flattened()
    after = 0
    for prev, ins in zip(flat, list(flat)[1:]):
        if ins.name == "DEPOLARIZE2":
            # each noise instruction follows a gate instruction on exactly the same qubits
            assert prev.name in ("CX", "CZ") and prev.targets_copy() == ins.targets_copy()
            after += len(ins.targets_copy()) // 2
    assert after == circ.num_two_qubit_gates
    assert sum(len(i.targets_copy()) for i in flat if i.name == "DEPOLARIZE1") == sum(
        i.targets.size for i in circ.instructions if i.arity == 1)
    # the ladder is rendered gate by gate, the Bell-pair layer as one instruction
    assert any(i.name == "CX" and len(i.targets_copy()) == 12 for i in flat)
    assert noisy.num_measurements == 1
    with pytest.raises(InvalidArgumentError):
        noisy_stim_circuit(circ, NoiseModel(), measure=[99])
    with pytest.raises(InvalidArgumentError):
        noisy_stim_circuit(circ, NoiseModel(), storage_after=999)


def test_idle_noise_lands_once_on_every_qubit_but_the_reference():
    lay = Layout(3, references=1)
    circ = protocol_circuit(lay, decrypt=1)
    noisy = noisy_stim_circuit(circ, noise_model("memory", p=0.03), storage_after=4)
    errs = [i for i in noisy.flattened() if i.name.endswith("_ERROR")]
    assert [i.name for i in errs] == ["X_ERROR", "Y_ERROR", "Z_ERROR"]
    for i in errs:
        assert sorted(t.value for t in i.targets_copy()) == list(range(7))
    assert isinstance(noisy, stim.Circuit)
