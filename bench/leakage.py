"""Leakage queries: the exact F2 engine at n = 1000 and 10^4 against the dense exact engine at its largest n.

Prints, for each query, the time of the first (cold: builds the circuit) and
of a repeated (warm, median of 5) classification, and the dense engine's
time (state-vector simulation with a reference qubit, then the query from
reduced density matrices) at the largest n it can hold, with ratios. Both
engines' answers are compared where both run.

Run: .venv/bin/python bench/leakage.py [--dense-clones N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from qclone.analysis.leakage import classify, protocol_encoding
from qclone.analysis.leakage.dense import DenseLeakage
from qclone.analysis.leakage.stages import cached_analyzer
from qclone.protocol import Layout
from qclone.sim.exact import MAX_STATEVECTOR_QUBITS

#: The dense engine holds 2n + 1 protocol qubits and one reference.
LARGEST_DENSE_CLONES = (MAX_STATEVECTOR_QUBITS - 2) // 2


def queries(n: int, rng: np.random.Generator) -> dict[str, list[str]]:
    labels = Layout(n).labels
    clones = [f"S{j}" for j in range(1, n + 1)]
    out = {
        "{A, S7, N7}": ["A", "S7", "N7"],
        "{S1, S2, N3}": ["S1", "S2", "N3"],
        "all but {A, S5, N9}": [q for q in labels if q not in ("A", "S5", "N9")],
    }
    if n <= 1001:
        out["all clones S1..Sn"] = clones
        out["random half"] = [str(q) for q in rng.choice(labels, len(labels) // 2, replace=False)]
    return out


def time_query(n: int, qubits: list[str]) -> tuple[float, float, str]:
    cached_analyzer.cache_clear()
    t = time.perf_counter()
    c = classify(n, qubits)
    cold = time.perf_counter() - t
    warm = []
    for _ in range(5):
        t = time.perf_counter()
        classify(n, qubits)
        warm.append(time.perf_counter() - t)
    return cold, statistics.median(warm), f"{c.kind} {','.join(c.leaked)}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense-clones", type=int, default=LARGEST_DENSE_CLONES,
                        help=f"n for the dense engine (default {LARGEST_DENSE_CLONES}, its limit)")
    args = parser.parse_args()
    rng = np.random.default_rng(1)

    nd = args.dense_clones
    dense_query = ["S1", "S2", "N3"]
    print(f"dense exact engine (qclone.sim.exact), n = {nd}: {2 * nd + 2} qubits with the reference R")
    t = time.perf_counter()
    dense = DenseLeakage(protocol_encoding(nd))
    sim = time.perf_counter() - t
    t = time.perf_counter()
    dense_answer = dense.classify(dense_query)
    dense_q = time.perf_counter() - t
    dense_total = sim + dense_q
    f2_cold, f2_warm, f2_answer = time_query(nd, dense_query)
    agree = (dense_answer.kind, dense_answer.leaked) == tuple(getattr(classify(nd, dense_query), a) for a in ("kind", "leaked"))
    print(f"  simulate {sim:.2f} s + query {dense_q:.2f} s = {dense_total:.2f} s;  answer {dense_answer.kind} "
          f"{','.join(dense_answer.leaked)}; F2 engine same n: cold {f2_cold * 1e3:.2f} ms, warm {f2_warm * 1e3:.3f} ms, "
          f"answers agree: {agree}")
    print(f"  ratio dense / F2 at n = {nd}: {dense_total / f2_cold:,.0f}x (cold), {dense_total / f2_warm:,.0f}x (warm)\n")

    print(f"{'n':>6}  {'query':<22} {'set size':>8} {'cold':>10} {'warm':>10}  {f'dense(n={nd})/warm':>18}  answer")
    worst = {}
    for n in (1000, 10_000):
        for name, qubits in queries(n, rng).items():
            cold, warm, answer = time_query(n, qubits)
            worst[n] = max(worst.get(n, 0.0), cold)
            print(f"{n:>6}  {name:<22} {len(qubits):>8} {cold * 1e3:>8.1f}ms {warm * 1e3:>8.2f}ms  "
                  f"{dense_total / warm:>17,.0f}x  {answer}")
    print(f"\ntarget: one query at n = 1000 under 1 s: worst cold {worst[1000]:.3f} s -> {'met' if worst[1000] < 1 else 'MISSED'}")
    print(f"target: n = 10^4 with a small set or complement under 1 s: worst cold {worst[10_000]:.3f} s -> "
          f"{'met' if worst[10_000] < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
