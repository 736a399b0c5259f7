"""Finding a recovery Clifford from an authorized set: the code's structure against GF(2) elimination.

For n = 10^2, 10^3, 10^4 clones (``--clones``) and a few authorized sets
(A with every clone, i.e. the vault lost; one qubit of every pair plus one
whole pair, no A; a random authorized set with about 3/4 of the qubits), times
``find_recovery`` by the structured route (the code's explicit logical
operators, O(n)) and by the generic route (the leakage engine's GF(2)
elimination, which grows as |C|² · n) where it fits (``--generic-max``, default
n <= 1000), and prints both times and their ratio in the same run. Times are
medians of ``--repeat`` runs.

Every recovery found is checked exactly, independently of how it was built:
``X_t`` and ``Z_t`` of each target, pulled back through the recovery and the
whole protocol circuit (Bell pairs and encryption) with stim, must be ``+X_A``
and ``+Z_A`` times Z's on qubits that start in |0⟩. Both routes must accept the
same sets. Any failure exits with status 1.

Run: .venv/bin/python bench/recovery.py [--clones 100 1000 10000] [--repeat 5] [--json]
Short form (the test suite runs it): --clones 20 60 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import stim

from qclone.analysis.recovery import Recovery, find_recovery, is_authorized, output_images
from qclone.protocol import Circuit, Layout, protocol_circuit, to_stim


def sets_for(lay: Layout, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = lay.clones
    every_clone = np.array([lay.A(), *lay.signals])
    # one qubit of every pair (S for odd j, N for even j) and the whole pair 1, without A
    one_each = np.array([lay.S(j) if j % 2 else lay.N(j) for j in range(1, n + 1)] + [lay.N(1)])
    while True:
        random = np.flatnonzero(rng.random(lay.num_qubits) < 0.75)
        if is_authorized(lay, random):
            break
    return {"{A, S1..Sn} (vault lost)": every_clone, "one qubit per pair + pair 1": one_each,
            "random 3/4 of the qubits": random}


def check(lay: Layout, rec: Recovery, protocol: stim.Circuit) -> str | None:
    """None if every target's X and Z pull back to +X_A_i, +Z_A_i (times Z's on |0⟩ qubits), else why not."""
    recover = to_stim(rec.circuit)
    inputs = np.zeros(lay.num_qubits, dtype=bool)
    inputs[list(lay.inputs)] = True
    for i, t in enumerate(rec.targets):
        for letter in "XZ":
            p = stim.PauliString(lay.num_qubits)
            p[t] = letter
            back = p.before(recover).before(protocol)
            xs, zs = back.to_numpy()
            want = stim.PauliString(lay.num_qubits)
            want[lay.A(i)] = letter
            others = inputs.copy()
            others[lay.A(i)] = False
            if back.sign != 1 or xs[~inputs].any() or (xs | zs)[others].any() or back[lay.A(i)] != want[lay.A(i)]:
                return f"{letter} on target {t} pulls back to the wrong operator"
    return None


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall time and median CPU time of ``repeat`` calls (on a shared machine the wall time
    includes waiting for a core; the CPU time is the work done), and the last result."""
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--generic-max", type=int, default=1000, help="largest n for the generic route (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    parser.add_argument("--corrupt", action="store_true",
                        help="for the tests: spoil every recovery with an X on its target, which the check must catch")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    failures = []
    for n in args.clones:
        lay = Layout(n)
        protocol = to_stim(protocol_circuit(lay))
        for name, subset in sets_for(lay, rng).items():
            row: dict[str, object] = {"clones": n, "set": name, "set_size": int(subset.size)}
            _, t_auth, _ = timed(lambda s=subset, lay=lay: is_authorized(lay, s), args.repeat)
            w_struct, t_struct, rec = timed(lambda s=subset, lay=lay: find_recovery(lay, s, route="structured", plain=False),
                                            args.repeat)
            assert isinstance(rec, Recovery)
            _, t_images, _ = timed(lambda r=rec: output_images(r), args.repeat)
            if args.corrupt:
                rec = Recovery(lay, rec.qubits, rec.circuit + Circuit(lay.registers).append("X", rec.targets),
                               rec.targets, None, rec.route)
            row.update(authorize_cpu_s=t_auth, structured_cpu_s=t_struct, structured_wall_s=w_struct,
                       output_images_cpu_s=t_images,
                       recovery_qubits=len(rec.qubits), recovery_gates=rec.circuit.num_gates)
            problem = check(lay, rec, protocol)
            if problem:
                failures.append(f"n = {n}, {name}, structured: {problem}")
            if n <= args.generic_max:
                w_gen, t_gen, gen = timed(lambda s=subset, lay=lay: find_recovery(lay, s, route="generic", plain=False),
                                          args.repeat)
                assert isinstance(gen, Recovery)
                row.update(generic_cpu_s=t_gen, generic_wall_s=w_gen, cpu_ratio=t_gen / max(t_struct, 1e-9))
                problem = check(lay, gen, protocol)
                if problem:
                    failures.append(f"n = {n}, {name}, generic: {problem}")
            rows.append(row)
    if args.json:
        print(json.dumps({"rows": rows, "failures": failures}, indent=2))
    else:
        print("CPU times (median of --repeat; wall times in --json):")
        print(f"{'n':>6}  {'set':<28} {'|C|':>6} {'gates':>6} {'authorize':>10} {'structured':>11} "
              f"{'images':>9} {'generic GF(2)':>14} {'ratio':>8}")
        for r in rows:
            gen = f"{r['generic_cpu_s'] * 1e3:11.2f} ms" if "generic_cpu_s" in r else f"{'(not run)':>14}"
            ratio = f"{r['cpu_ratio']:7.0f}x" if "cpu_ratio" in r else f"{'':>8}"
            print(f"{r['clones']:>6}  {r['set']:<28} {r['set_size']:>6} {r['recovery_gates']:>6} "
                  f"{r['authorize_cpu_s'] * 1e3:7.3f} ms {r['structured_cpu_s'] * 1e3:8.2f} ms "
                  f"{r['output_images_cpu_s'] * 1e3:6.2f} ms {gen} {ratio}")
        print(f"every recovery checked exactly (stim pull-back through the protocol): "
              f"{'all correct' if not failures else f'{len(failures)} WRONG'}")
        for f in failures:
            print("WRONG:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
