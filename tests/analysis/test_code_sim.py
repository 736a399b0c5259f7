"""Corrected retrieval in stim (code_sim), the sweep and scaling with --retrieval, and the CLI.

The stim circuits are checked against independent computations: the plain part against the
exact channel of ``fidelity_circuit`` (stim's error analysis), the ideal-syndrome decoding against
direct numpy sampling of the same storage channel (which tests the wiring: detector order, the
observables' representatives), and the circuit-level decoder against a case with a known answer.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import stim

from qclone.analysis.code import Decoder, decode_logical
from qclone.analysis.code_sim import (
    CorrectedSampler,
    DemLookup,
    check_retrieval,
    corrected_circuit,
    extraction_is_ideal,
    output_representatives,
)
from qclone.analysis.scaling import largest_clones
from qclone.analysis.sweep import SweepPoint, grid, read_results, run_sweep
from qclone.cli.main import main
from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout
from qclone.sim.noise import parse_noise
from qclone.sim.stabilizer import exact_pauli_channel, fidelity_circuit


def _within(a: float, b: float, shots: int, sigmas: float = 5.0) -> bool:
    sd = math.sqrt(max(a * (1 - a), 1 / shots) / shots) + math.sqrt(max(b * (1 - b), 1 / shots) / shots)
    return abs(a - b) <= sigmas * sd


def test_retrieval_names() -> None:
    assert check_retrieval(" Plain ") == "plain"
    with pytest.raises(InvalidArgumentError, match="unknown retrieval"):
        check_retrieval("fancy")
    assert extraction_is_ideal(parse_noise("memory", 0.01))
    assert not extraction_is_ideal(parse_noise("memory+readout", 0.01))


@pytest.mark.parametrize("n", [2, 5])
def test_plain_part_is_the_plain_circuit(n: int) -> None:
    """Without decoding, the corrected circuit's observables flip exactly as plain retrieval's do."""
    noise = parse_noise("memory", 0.03)
    want = exact_pauli_channel(fidelity_circuit(n, noise=noise))["p_I"]
    shots = 40_000
    _, obs = corrected_circuit(n, noise=noise).compile_detector_sampler(seed=1).sample(shots, separate_observables=True)
    got = 1 - float(obs.any(axis=1).mean())
    assert _within(got, want, shots)


@pytest.mark.parametrize("n", [2, 3, 7])
def test_output_representatives_are_logical_operators(n: int) -> None:
    """What the observables read, pulled back through decryption, acts on the code as X and Z:
    it commutes with every stabilizer and the X and Z rows anticommute."""
    from qclone.analysis.code import stabilizer_bits
    xs, zs = output_representatives(n)
    gx, gz = stabilizer_bits(n)
    sym = (xs.astype(int) @ gz.T.astype(int) + zs.astype(int) @ gx.T.astype(int)) % 2
    assert not sym.any()
    assert (xs[0].astype(int) @ zs[1].astype(int) + zs[0].astype(int) @ xs[1].astype(int)) % 2 == 1


@pytest.mark.parametrize(("n", "method"), [(3, "ml"), (4, "lookup"), (6, "ml")])
def test_ideal_decoding_matches_direct_sampling(n: int, method: str) -> None:
    p, shots = 0.04, 30_000
    noise = parse_noise("memory", p)
    sampler = CorrectedSampler(corrected_circuit(n, noise=noise), {"clones": n, "noise": "memory", "p": p, "decrypt": 1,
                                                                    "decoder": method}, seed=3)
    assert sampler.mode == "ideal"
    stim_rate = sampler.sample(shots).errors / shots
    rng = np.random.default_rng(4)
    letter = rng.choice(4, size=(shots, 2 * n + 1), p=[1 - p, p / 3, p / 3, p / 3])
    xs, zs = np.isin(letter, (1, 2)), np.isin(letter, (2, 3))
    direct = float(decode_logical(Decoder(n, method=method, noise=np.array([1 - p, p / 3, p / 3, p / 3])), xs, zs).any(axis=1).mean())
    assert _within(stim_rate, direct, shots)
    plain = 1 - exact_pauli_channel(fidelity_circuit(n, noise=noise))["p_I"]
    assert stim_rate < plain / 3


def test_circuit_level_decoder_does_not_mistake_measurement_errors() -> None:
    """Readout flips only: ancilla flips are seen and left alone, so corrected retrieval fails exactly
    when the final Bell measurement flips, as plain retrieval does."""
    q, shots, n = 0.05, 20_000, 3
    noise = parse_noise("readout", q)
    for rounds in (1, 3):
        s = CorrectedSampler(corrected_circuit(n, noise=noise, rounds=rounds), {"clones": n, "noise": "readout", "p": q, "decrypt": 1},
                             seed=rounds)
        assert s.mode == "circuit"
        rate = s.sample(shots).errors / shots
        assert _within(rate, 1 - (1 - q) ** 2, shots)


def test_circuit_level_single_data_fault_is_corrected() -> None:
    """A data error before extraction with noisy measurement around it: the lookup of stim's error
    model puts it right whenever it is the only fault."""
    n = 3
    c = corrected_circuit(n, noise=parse_noise("memory+readout", 0.001), rounds=2)
    lookup = DemLookup(c.detector_error_model(approximate_disjoint_errors=True))
    lines = str(c.without_noise()).split("\n")
    first_round = next(i for i, ln in enumerate(lines) if ln.startswith("R "))
    for q in range(2 * n + 1):
        for letter in "XYZ":
            faulty = stim.Circuit("\n".join([*lines[:first_round], f"{letter}_ERROR(1) {q}", *lines[first_round:]]))
            dets, obs = faulty.compile_detector_sampler().sample(1, separate_observables=True, bit_packed=True)
            flips = np.unpackbits(obs, axis=1, bitorder="little", count=2).astype(bool)
            assert (lookup.predict(dets) == flips).all(), (q, letter)


@pytest.mark.slow
def test_sweep_with_corrected_retrieval_and_resume(tmp_path) -> None:
    pts = grid(clones=[3], noise=["memory"], p=[0.03], retrieval=["plain", "corrected"])
    assert "retrieval" not in pts[0].metadata()  # plain points keep their old strong ids
    assert SweepPoint.from_metadata(pts[1].metadata()) == pts[1]
    csv = tmp_path / "s.csv"
    rows = run_sweep(pts, max_shots=4000, workers=1, progress=False, csv=csv)
    assert [r.point.retrieval for r in rows] == ["plain", "corrected"]
    assert rows[1].estimate.entanglement_fidelity > rows[0].estimate.entanglement_fidelity
    again = run_sweep(pts, max_shots=4000, workers=1, progress=False, csv=csv)
    assert [r.shots for r in again] == [4000, 4000]
    assert {r.point for r in read_results(csv)} == set(pts)
    with pytest.raises(InvalidArgumentError, match="at least 2 clones"):
        SweepPoint(1, "memory", 0.01, retrieval="corrected")


@pytest.mark.slow
def test_scaling_corrected_affords_more_clones() -> None:
    plain = largest_clones("memory", 0.05, max_clones=256)
    corr = largest_clones("memory", 0.05, max_clones=256, retrieval="corrected", shots=3000)
    assert corr.shots == 3000 and plain.shots is None
    assert plain.largest_clones is not None and corr.largest_clones is not None
    assert corr.largest_clones > plain.largest_clones


@pytest.mark.slow
def test_cli_sweep_and_scaling_retrieval(capsys) -> None:
    code = main(["sweep", "-n", "3", "--noise", "memory", "-p", "0.03", "--shots", "2000", "--workers", "1",
                 "--retrieval", "plain,corrected", "--json", "--quiet"])
    out, _ = capsys.readouterr()
    rows = json.loads(out)
    assert code == 0 and [r["retrieval"] for r in rows] == ["plain", "corrected"]
    code = main(["scaling", "--noise", "memory", "-p", "0.05", "--depth", "linear", "--retrieval", "plain,corrected",
                 "--shots", "2000", "--max-clones", "64", "--json", "--quiet"])
    out, _ = capsys.readouterr()
    rows = json.loads(out)
    assert code == 0 and [r["retrieval"] for r in rows] == ["plain", "corrected"]
    assert rows[1]["largest_clones"] > rows[0]["largest_clones"]


@pytest.mark.parametrize("command", [["sweep", "-n", "3", "--noise", "memory", "-p", "0.03", "--shots", "10"],
                                     ["scaling", "--noise", "memory", "-p", "0.03"]])
def test_cli_refuses_an_unknown_retrieval(capsys, command: list[str]) -> None:
    code = main([*command, "--retrieval", "best"])
    _, err = capsys.readouterr()
    assert code == 2 and "unknown retrieval" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_layout_order_is_the_code_order() -> None:
    lay = Layout(3)
    assert (lay.A(), lay.S(1), lay.N(1)) == (0, 1, 4)
