"""Error-corrected retrieval: the numbers and figures of docs/error-correction.md, and decoder throughput.

Every number is sampled with stim in this run (fixed seeds), plain retrieval beside corrected
retrieval of the same stored state:

* ``table``: depolarizing storage noise p on every stored
  qubit, n = 4, 8, 16, p = 1e-3, 1e-2; plain; corrected with ideal syndrome (lookup and exact ML);
  corrected with one syndrome round whose every ancilla outcome flips with probability q = p
  (encryption, decryption and the final Bell measurement are noiseless in every column).
* ``figures``: 1 − F_e and the average fidelity against n: (a) ideal syndrome, depolarizing and
  T1/T2 (T2 = 0.6 T1, Heron's median ratio) storage noise; (b) circuit-level extraction (ancillas,
  two-qubit depolarizing gate noise p_g after every gate, readout flips p_g, 1 or 3 rounds) after
  depolarizing storage noise 1e-3, with noiseless encryption and decryption so only the extraction
  adds noise. Writes ``docs/img/error_correction_ideal.png`` and ``..._circuit.png``.
* ``throughput``: decoder shots per second at n = 16 and 256: exact ML (structured), lookup, and the
  peer, the plain Pauli-frame read-out (no decoding: what plain retrieval costs).

Run: ``.venv/bin/python bench/error_correction.py table|figures|throughput [--shots S]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from qclone.analysis.code import Decoder, syndrome_of
from qclone.analysis.code_sim import CorrectedSampler, corrected_circuit
from qclone.sim.noise import NoiseModel, noise_model
from qclone.sim.stabilizer import count_outcomes, fidelity_circuit


def plain_rate(n: int, noise: NoiseModel, shots: int, seed: int) -> float:
    _, obs = fidelity_circuit(n, noise=noise).compile_detector_sampler(seed=seed).sample(shots, separate_observables=True)
    return 1 - count_outcomes(obs)["p_I"] / shots


def corrected_rate(n: int, noise: NoiseModel, shots: int, seed: int, *, decoder: str = "ml", rounds: int = 1,
                   extraction: NoiseModel | None = None) -> float:
    circuit = corrected_circuit(n, noise=noise, rounds=rounds, extraction_noise=extraction)
    sampler = CorrectedSampler(circuit, {"clones": n, "decrypt": 1, "decoder": decoder}, seed=seed, noise=noise,
                               extraction_noise=extraction)
    stats = sampler.sample(shots)
    return stats.errors / stats.shots


def table(shots: int) -> None:
    print(f"| n | p | plain | ideal syndrome, lookup | ideal syndrome, ML | one round, outcomes flipped q = p |  ({shots} shots each)")
    print("|---|---|---|---|---|---|")
    for n, p in ((4, 1e-3), (8, 1e-3), (16, 1e-3), (4, 1e-2), (8, 1e-2), (16, 1e-2)):
        mem = noise_model("memory", p=p)
        flips = noise_model("readout", p=p)
        row = [plain_rate(n, mem, shots, 1), corrected_rate(n, mem, shots, 2, decoder="lookup"),
               corrected_rate(n, mem, shots, 3, decoder="ml"), corrected_rate(n, mem, shots, 4, extraction=flips)]
        print(f"| {n} | {p:g} | " + " | ".join(f"{x:.5f}" for x in row) + " |", flush=True)


CLONES = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)


def _plot(path: str, title: str, curves: dict[str, list[float]], clones: tuple[int, ...], shots: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, rates in curves.items():
        r = np.array(rates)
        shown = np.where(r > 0, r, np.nan)
        ax1.plot(clones, shown, marker="o", ms=3, label=label)
        ax2.plot(clones, 1 - 2 * r / 3, marker="o", ms=3, label=label)  # F_avg = (2 F_e + 1) / 3
    ax1.set(xscale="log", yscale="log", xlabel="clones n", ylabel="1 − F_e (entanglement infidelity)")
    ax1.axhline(1 / shots, color="grey", lw=0.5, ls=":")
    ax2.set(xscale="log", xlabel="clones n", ylabel="average fidelity")
    ax2.axhline(2 / 3, color="grey", lw=0.8, ls="--")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.set_xticks(clones)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax1.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def figures(shots: int) -> None:
    p = 1e-3
    models = {"depolarizing": noise_model("memory", p=p), "T1/T2 (T2 = 0.6 T1)": noise_model("memory", p=p, t2_over_t1=0.6)}
    ideal: dict[str, list[float]] = {}
    for name, mem in models.items():
        ideal[f"plain, {name}"] = [plain_rate(n, mem, shots, 10 + n) for n in CLONES]
        ideal[f"corrected (lookup), {name}"] = [corrected_rate(n, mem, shots, 20 + n, decoder="lookup") for n in CLONES]
        ideal[f"corrected (ML), {name}"] = [corrected_rate(n, mem, shots, 30 + n) for n in CLONES]
        print(name, {k: [f"{x:.2e}" for x in v] for k, v in ideal.items() if name in k}, flush=True)
    _plot("docs/img/error_correction_ideal.png", f"storage noise p = {p:g} per qubit, ideal syndrome measurement", ideal, CLONES, shots)
    small = CLONES[:-2]  # the circuit-level lookup table grows with the detection patterns: up to n = 32
    mem = noise_model("memory", p=p)
    circ: dict[str, list[float]] = {"plain": [plain_rate(n, mem, shots, 40 + n) for n in small]}
    for pg in (1e-4, 1e-3):
        ext = noise_model("depolarizing", p=pg) + noise_model("readout", p=pg)
        for rounds in (1, 3):
            circ[f"corrected, p_g = {pg:g}, {rounds} round{'s' if rounds > 1 else ''}"] = [
                corrected_rate(n, mem, shots, 50 + n, rounds=rounds, extraction=ext) for n in small]
    print({k: [f"{x:.2e}" for x in v] for k, v in circ.items()}, flush=True)
    _plot("docs/img/error_correction_circuit.png",
          f"storage noise {p:g}; circuit-level extraction (gate noise p_g, readout p_g)", circ, small, shots)


def throughput(shots: int) -> None:
    rng = np.random.default_rng(0)
    p = 1e-2
    print("| n | decoder | shots/s | peer: plain read-out, shots/s | ratio |")
    print("|---|---|---|---|---|")
    for n in (16, 256):
        m = 2 * n + 1
        letter = rng.choice(4, size=(shots, m), p=[1 - p, p / 3, p / 3, p / 3])
        xs, zs = np.isin(letter, (1, 2)), np.isin(letter, (2, 3))
        syn = syndrome_of(xs, zs, n)
        # the peer: what plain retrieval does with the same errors (read the two output flips off the key)
        t0 = time.perf_counter()
        plain = Decoder(n, erasures=frozenset([0, *range(2, n + 1)]))
        plain.code.logical_flips(xs & plain.code.live, zs & plain.code.live)
        peer = shots / (time.perf_counter() - t0)
        for method in ("lookup", "ml"):
            dec = Decoder(n, method=method, noise=np.array([1 - p, p / 3, p / 3, p / 3]))
            t0 = time.perf_counter()
            dec.decode(syn)
            rate = shots / (time.perf_counter() - t0)
            print(f"| {n} | {method} | {rate:,.0f} | {peer:,.0f} | {rate / peer:.3f} |", flush=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("table", "figures", "throughput"))
    ap.add_argument("--shots", type=int, default=None)
    args = ap.parse_args(argv)
    if args.what == "table":
        table(args.shots or 200_000)
    elif args.what == "figures":
        figures(args.shots or 100_000)
    else:
        throughput(args.shots or 100_000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
