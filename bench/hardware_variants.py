"""Schedule variants on Heron devices: two-qubit gates, depth, two-qubit depth, duration, and a stim estimate.

For each device and n, every variant of :mod:`qclone.hardware.variants` (``today``
is the heavy-hex schedule as it is; ``tree`` the comb layout, up to the n it fits) and Qiskit's own level-3 transpile of the
logical circuit (layout and routing its own, best of three seeds) are lowered to
the device's native gates, with the same input (R Bell-paired with A) and stage
barriers. Duration: the critical path with the Target's gate durations (ALAP;
for the dynamic variant the mid-circuit measurement and the feed-forward
latency, one more measurement duration unless ``--latency`` says otherwise).
With ``--shots N`` each variant also gets the stim estimate of the decrypted
clone's average fidelity under the device's gate, readout and idle errors
(:func:`qclone.hardware.variants.stim_estimate`, 95 % interval), the largest n
above 2/3 per variant is printed at the end.

Run: .venv/bin/python bench/hardware_variants.py [--clones 1-20] [--shots 20000] [--latency SECONDS] [backend ...]
     (default backends: fake_fez fake_torino)
"""

from __future__ import annotations

import argparse
import sys
import time

from qclone.hardware.compile import logical_circuit, merge_first_stages, preset_pass_manager
from qclone.hardware.devices import get_backend
from qclone.hardware.dynamic import max_dynamic_clones
from qclone.hardware.variants import VARIANTS, GateStats, compile_variant, stim_estimate, variant_max_clones

CLASSICAL_LIMIT = 2 / 3


def parse_clones(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def qiskit_logical(backend, n: int) -> tuple[GateStats, float]:  # noqa: ANN001 - a BackendV2
    """Qiskit's level-3 transpile of the logical circuit: best of three seeds (fewest 2q gates, then depth)."""
    best = None
    for seed in range(3):
        isa = preset_pass_manager(backend, seed=seed, fixed_layout=False).run(merge_first_stages(logical_circuit(n, 1, input="bell")))
        stats = GateStats.of(isa)
        key = (stats.two_qubit_gates, stats.depth)
        if best is None or key < best[0]:
            best = (key, stats, float(isa.estimate_duration(backend.target, unit="s")))
    assert best is not None
    return best[1], best[2]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backends", nargs="*", default=["fake_fez", "fake_torino"])
    parser.add_argument("--clones", default="1-20", help="n values, e.g. 1-20 or 3,10,40")
    parser.add_argument("--shots", type=int, default=0, help="stim shots per estimate (0: no estimate)")
    parser.add_argument("--latency", type=float, default=None, help="feed-forward latency in seconds")
    args = parser.parse_args(argv)
    clones = parse_clones(args.clones)
    for name in args.backends:
        backend = get_backend(name)
        top = max_dynamic_clones(backend)
        print(f"\n{name}: 2q gates / depth / 2q depth / duration µs" + (" / stim F_avg [95 %]" if args.shots else ""))
        head = f"{'n':>3} | " + " | ".join(f"{v:^{38 if args.shots else 24}}" for v in (*VARIANTS, "qiskit-l3"))
        print(head)
        largest = {v: 0 for v in VARIANTS}
        fits = {v: variant_max_clones(v, backend) for v in VARIANTS}  # the comb (tree) holds fewer clones
        started = time.perf_counter()
        for n in clones:
            if n > top + 1:
                continue
            cells = []
            for v in VARIANTS:
                if n > fits[v]:
                    cells.append(f"{'(does not fit)':<{38 if args.shots else 24}}")
                    continue
                comp = compile_variant(v, backend, n, 1, input="bell", latency=args.latency)
                s = comp.stats
                cell = f"{s.two_qubit_gates:>4} {s.depth:>4} {s.two_qubit_depth:>4} {comp.duration * 1e6:>6.2f}"
                if args.shots:
                    est = stim_estimate(comp, backend, shots=args.shots)
                    cell += f" {est.average_fidelity:.3f} [{est.ci_low:.3f},{est.ci_high:.3f}]"
                    if est.ci_low > CLASSICAL_LIMIT:
                        largest[v] = max(largest[v], n)
                cells.append(f"{cell:<{38 if args.shots else 24}}")
            if n <= 25:
                qs, qd = qiskit_logical(backend, n)
                cells.append(f"{qs.two_qubit_gates:>4} {qs.depth:>4} {qs.two_qubit_depth:>4} {qd * 1e6:>6.2f}")
            else:
                cells.append("(not run above n = 25)")
            print(f"{n:>3} | " + " | ".join(cells), flush=True)
        if args.shots:
            print("largest n with the whole 95 % interval above 2/3: "
                  + ", ".join(f"{v} {largest[v]}" for v in VARIANTS))  # fmt: skip
        print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
