"""Redundant computation under noise: a sequence of logical gates on encrypted clones beside the same gates after decrypting.

For each n, the exact entanglement fidelity (stim's detector error model, no
sampling) of the decrypted result after ``--gates`` logical gates (alternating the
non-Pauli local gate, H for odd n or C_XYZ for even n, with X), by the two routes of
:mod:`qclone.analysis.compute_noise`: the encrypted route (every holder applies its
local gate, each followed by one-qubit depolarizing noise p1) and the peer, the same
gates applied to the decrypted qubit. Both routes share the noisy encryption and
decryption and the same memory periods. Printed: both fidelities, their infidelity
ratio and the local gates the encrypted route applied; then the same with gate noise
on the logical gates only (noiseless encryption, storage and decryption), which
isolates the cost of touching up to 2n+1 qubits per logical gate.

Run: ``.venv/bin/python bench/compute_noise.py [--clones 2,3,5,10,50,200] [--gates 10] [--p2 1e-3] [--p1 1e-3] [--memory 1e-3]``.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clones", default="2,3,5,10,50,200")
    ap.add_argument("--gates", type=int, default=10)
    ap.add_argument("--p2", type=float, default=1e-3)
    ap.add_argument("--p1", type=float, default=1e-3)
    ap.add_argument("--memory", type=float, default=1e-3)
    args = ap.parse_args()

    from qclone.analysis.compute_noise import compare, non_pauli_sequence
    from qclone.sim.noise import noise_model

    ns = [int(x) for x in args.clones.split(",")]
    full = noise_model("depolarizing", p=args.p2, p1=args.p1) + noise_model("memory", p=args.memory)
    quiet = noise_model("depolarizing", p=0.0, p1=0.0)
    for title, model, logical in ((f"gate noise p2={args.p2}, p1={args.p1}; memory p={args.memory} per period", full, None),
                                  (f"noise on the logical gates only (p1={args.p1})", quiet, args.p1)):
        print(f"# {title}; {args.gates} logical gates")
        print(f"{'n':>6} {'encrypted':>10} {'decrypted':>10} {'infid ratio':>11} {'local gates':>11} {'s':>6}")
        for n in ns:
            t = time.perf_counter()
            c = compare(n, non_pauli_sequence(n, args.gates), noise=model, logical_p1=logical)
            ratio = (1 - c.encrypted) / (1 - c.decrypted) if c.decrypted < 1 else float("inf")
            print(f"{n:>6} {c.encrypted:>10.5f} {c.decrypted:>10.5f} {ratio:>11.2f} {c.qubits_touched:>11} "
                  f"{time.perf_counter() - t:>6.2f}")


if __name__ == "__main__":
    main()
