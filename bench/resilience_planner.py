"""The placement planner over 10^4 candidate placements, beside naive enumeration and the Monte Carlo.

A failure model with 10 providers (every one different: no two are
interchangeable, so the planner cannot group them) in 4 zones, 3 vaults (in
zones too) and 2 custodians. The planner's candidate family within a budget
of 13 qubits (n = 1..6) has about 3·10^4 placements; ``--candidates`` of
them, evenly spaced, are evaluated three ways in the same run:

* qclone: the class table, the secrecy check and the exact durability
  (enumeration of zones and hub parties, binomial groups), for every candidate;
* peer 1, naive enumeration: the same probability summed over every pattern of
  parties and zones (vectorised numpy), on every ``--every``-th candidate,
  with its time per candidate projected to all candidates;
* peer 2, Monte Carlo (vectorised, ``--samples`` draws, Wilson 95 % interval)
  on the same sample.

Then one large placement (n = 48 clones at 48 providers in 6 zones, a vault
and a custodian: 2^56 patterns) that naive enumeration cannot sum.

Exits non-zero if naive and exact disagree (beyond 1e-12) or a Monte Carlo
estimate is more than 5 standard deviations (+ 3 draws) from the exact value.

Run: .venv/bin/python bench/resilience_planner.py [--candidates 10000] [--every 25] [--samples 100000] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time

from qclone.analysis.leakage import Placement
from qclone.analysis.planner import Trust, candidate_placements
from qclone.analysis.resilience import (
    FailureModel,
    Party,
    coalition_information,
    encrypted_scheme,
    exact_durability,
    monte_carlo_durability,
    naive_durability,
    pair_class_table,
)


def bench_model(providers: int) -> FailureModel:
    zones = {f"zone-{z}": 0.002 * (z + 1) for z in range(4)}
    parties = [Party(f"provider-{i}", 0.01 + 0.003 * i, f"zone-{i % 4}") for i in range(providers)]
    parties += [Party(f"vault-{v}", 0.001 * (v + 1), f"zone-{v}", "vault") for v in range(3)]
    parties += [Party(f"custodian-{c}", 0.02 + 0.01 * c, None, "custodian") for c in range(2)]
    return FailureModel(tuple(parties), zones)


def secret(scheme, trust: Trust) -> bool:
    return not any(coalition_information(scheme, c)
                   for size in range(1, trust.max_coalition + 1)
                   for c in itertools.combinations(scheme.holders, size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=25, help="the peers run on every k-th candidate")
    parser.add_argument("--samples", type=int, default=100_000, help="Monte Carlo draws per candidate")
    parser.add_argument("--budget", type=int, default=13)
    parser.add_argument("--providers", type=int, default=10)
    parser.add_argument("--large-clones", type=int, default=48)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    model = bench_model(args.providers)
    trust = Trust(1)
    family = list(candidate_placements(model, args.budget))
    picks = sorted({round(i * (len(family) - 1) / max(1, args.candidates - 1)) for i in range(min(args.candidates, len(family)))})
    candidates = [family[i] for i in picks]  # evenly spaced over the whole family (it is ordered by n)
    clones = sorted({n for n, _ in candidates})
    t = time.perf_counter()
    for n in clones:
        pair_class_table(n)
    table_s = time.perf_counter() - t

    t = time.perf_counter()
    values: list[float | None] = []
    for n, placement in candidates:
        scheme = encrypted_scheme(placement, n, model)
        values.append(exact_durability(scheme, model) if secret(scheme, trust) else None)
    exact_s = time.perf_counter() - t
    kept = sum(v is not None for v in values)

    sample = list(range(0, len(candidates), args.every))
    naive_s = mc_s = 0.0
    worst = 0.0
    outside = far = 0
    for i in sample:
        n, placement = candidates[i]
        scheme = encrypted_scheme(placement, n, model)
        exact = exact_durability(scheme, model)
        t = time.perf_counter()
        naive = naive_durability(scheme, model)
        naive_s += time.perf_counter() - t
        worst = max(worst, abs(naive - exact))
        t = time.perf_counter()
        mc = monte_carlo_durability(scheme, model, args.samples, seed=i)
        mc_s += time.perf_counter() - t
        outside += not (mc["ci"][0] <= exact <= mc["ci"][1])
        far += abs(mc["durability"] - exact) > 5 * math.sqrt(exact * (1 - exact) / args.samples) + 3 / args.samples
    per_exact = exact_s / len(candidates)
    per_naive = naive_s / len(sample)
    per_mc = mc_s / len(sample)

    n = args.large_clones
    large = FailureModel(tuple(Party(f"p{i}", 0.2, f"z{i % 6}") for i in range(n))
                         + (Party("vault", 0.01, None, "vault"), Party("tenant", 0.05, None, "custodian")),
                         {f"z{z}": 0.01 for z in range(6)})
    t = time.perf_counter()
    pair_class_table(n)
    large_table_s = time.perf_counter() - t
    placement = Placement({f"p{j - 1}": [f"S{j}"] for j in range(1, n + 1)} | {"vault": ["N*"], "tenant": ["A"]})
    t = time.perf_counter()
    large_value = exact_durability(encrypted_scheme(placement, n, large), large)
    large_s = time.perf_counter() - t

    ok = worst <= 1e-12 and far == 0
    out = {
        "candidates": len(candidates), "family": len(family), "clones": clones, "secret_under_trust": kept,
        "class_tables_s": table_s,
        "qclone_exact": {"total_s": exact_s, "per_candidate_ms": per_exact * 1e3},
        "naive_enumeration": {"sample": len(sample), "per_candidate_ms": per_naive * 1e3,
                              "projected_total_s": per_naive * len(candidates), "max_abs_difference": worst},
        "monte_carlo": {"sample": len(sample), "samples": args.samples, "per_candidate_ms": per_mc * 1e3,
                        "exact_outside_ci": outside, "beyond_5_sigma": far},
        "ratio_naive_to_qclone": per_naive / per_exact, "ratio_monte_carlo_to_qclone": per_mc / per_exact,
        "large": {"clones": n, "parties": n + 2, "zones": 6, "patterns": f"2^{n + 2 + 6}",
                  "durability": large_value, "exact_s": large_s, "class_table_s": large_table_s},
        "agree": ok,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{len(candidates):,} of {len(family):,} candidate placements (n = {clones[0]}..{clones[-1]}), "
              f"{kept:,} meet trust c = 1; "
              f"class tables built in {table_s:.2f} s")
        print(f"  qclone exact (hubs + binomial groups): {exact_s:.2f} s, {per_exact * 1e3:.3f} ms per candidate")
        print(f"  naive enumeration (every pattern, numpy): {per_naive * 1e3:.3f} ms per candidate on {len(sample)} "
              f"candidates -> {per_naive * len(candidates):.1f} s projected; ratio naive/qclone "
              f"{per_naive / per_exact:.1f}x; largest difference {worst:.1e}")
        print(f"  Monte Carlo ({args.samples:,} draws): {per_mc * 1e3:.3f} ms per candidate; ratio MC/qclone "
              f"{per_mc / per_exact:.1f}x; exact outside the 95 % interval on {outside} of {len(sample)}")
        print(f"  large placement: n = {n} clones, {n + 2} parties, 6 zones (2^{n + 8} patterns): exact "
              f"{large_value:.12f} in {large_s * 1e3:.1f} ms (its class table, once per n: {large_table_s:.2f} s); "
              "naive enumeration cannot run")
        print("agree: yes" if ok else "agree: NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
