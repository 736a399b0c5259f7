"""Heavy-hex schedule vs Qiskit's preset pass manager (level 3): two-qubit gates and depth in native gates.

Same logical protocol (R Bell-paired with A, Bell pairs, encryption, decryption
of clone 1; stage barriers in both), same device, lowered to CZ/√X/RZ. Qiskit
gets its best of three transpiler seeds. Prints both side by side and the
reduction; exits 1 if ours is ever worse or if the n = 20 reduction in
two-qubit gates is under 30 %.

Run: .venv/bin/python bench/hardware_routing.py [backend ...]   (default: fake_fez fake_torino)
"""

from __future__ import annotations

import sys
import time

from qclone.hardware.compile import compile_protocol, qiskit_baseline
from qclone.hardware.devices import get_backend
from qclone.hardware.layout import max_clones

CLONES = (1, 2, 3, 5, 10, 20, 30, 40, 55, 63)


def main(names: list[str]) -> int:
    ok = True
    for name in names:
        backend = get_backend(name)
        top = max_clones(backend)
        print(f"\n{name}: up to n = {top} clones on adjacent Bell pairs ({2 * top + 2} qubits)")
        print(f"{'n':>3} | {'2q ours':>7} {'2q qiskit':>9} {'fewer':>6} | {'depth ours':>10} {'depth qiskit':>12} | "
              f"{'2q-depth ours':>13} {'2q-depth qiskit':>15} | {'s ours':>6} {'s qiskit':>8}")
        for n in [c for c in CLONES if c <= top] + ([top] if top not in CLONES else []):
            t0 = time.perf_counter()
            ours = compile_protocol(backend, n, input="bell").stats
            t1 = time.perf_counter()
            base = min((qiskit_baseline(backend, n, input="bell", seed=s) for s in range(3)), key=lambda g: (g.two_qubit_gates, g.depth))
            t2 = time.perf_counter()
            fewer = 1 - ours.two_qubit_gates / base.two_qubit_gates
            print(f"{n:>3} | {ours.two_qubit_gates:>7} {base.two_qubit_gates:>9} {fewer:>6.0%} | {ours.depth:>10} {base.depth:>12} | "
                  f"{ours.two_qubit_depth:>13} {base.two_qubit_depth:>15} | {t1 - t0:>6.2f} {(t2 - t1) / 3:>8.2f}")  # fmt: skip
            worse = ours.two_qubit_gates > base.two_qubit_gates or ours.depth > base.depth or ours.two_qubit_depth > base.two_qubit_depth
            if worse or (n == 20 and fewer < 0.30):
                ok = False
                print("   ^ target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["fake_fez", "fake_torino"]))
