"""The circuit IR at n clones: build, depth, and the stim / OpenQASM 2 / OpenQASM 3 writers, beside stim's parser.

Every step runs in its own process (so its peak memory is its own): the
process builds the protocol circuit (Bell pairs, encryption, decryption of
clone 1; 7n + 1 two-qubit gates, about 10n gates in all) and times one step,
best of ``--repeat`` runs. The peer, in the same run: ``stim.Circuit(text)``
parsing the same circuit's stim text. Writers write to ``/dev/null`` (the
renderer's cost, not the disk's). Targets: each step within 1.5x of stim's
parse, and under 1 GiB. Wall and CPU time are both shown: on a shared machine
the wall time also counts waiting for a core (build's CPU time is not measured
separately and shows its wall time).

Run: ``.venv/bin/python bench/circuit_ir.py [--clones N] [--repeat R]`` (default N = 1000000, R = 3).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

STEP = r"""
import json, resource, sys, time
import stim
from qclone.protocol import Layout, protocol_circuit
from qclone.protocol.render import stim_text, write_qasm2, write_qasm3, write_stim

step, n, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
best = cpu = float("inf")
for _ in range(repeat):
    t0 = time.perf_counter()
    circ = protocol_circuit(Layout(n), decrypt=1)
    t_build = time.perf_counter() - t0
    if step == "build":
        best = min(best, t_build)
        continue  # (build's CPU time is not separated from the rest of the loop: reported as wall)
    if step == "stim parse":
        text = stim_text(circ)
        t0, c0 = time.perf_counter(), time.process_time()
        stim.Circuit(text)
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
        del text
        continue
    with open("/dev/null", "wb") as sink:
        t0, c0 = time.perf_counter(), time.process_time()
        if step == "depth":
            circ.depth
        elif step == "two-qubit depth":
            circ.two_qubit_depth
        else:
            {"write stim": write_stim, "write OpenQASM 2": write_qasm2, "write OpenQASM 3": write_qasm3}[step](circ, sink)
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
print(json.dumps({"seconds": best, "cpu": cpu if cpu < float("inf") else best, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "gates": circ.num_gates}))
"""

STEPS = ("build", "depth", "two-qubit depth", "write stim", "write OpenQASM 2", "write OpenQASM 3")


def run_step(step: str, n: int, repeat: int) -> dict:
    out = subprocess.run([sys.executable, "-c", STEP, step, str(n), str(repeat)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"step {step!r} failed")
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clones", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.clones
    t0 = time.perf_counter()
    peer = run_step("stim parse", n, args.repeat)
    rows = [(step, run_step(step, n, args.repeat)) for step in STEPS]
    peer_again = run_step("stim parse", n, args.repeat)  # the load may change during the run: both ends
    ref = min(peer["seconds"], peer_again["seconds"])
    ref_cpu = min(peer["cpu"], peer_again["cpu"])
    print(f"n = {n} clones ({2 * n + 1} qubits, {peer['gates']} gates); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores; best of {args.repeat}; {time.perf_counter() - t0:.0f} s in all")
    print(f"{'step':<22} {'wall s':>8} {'/ stim':>7} {'CPU s':>7} {'/ stim':>7} {'peak MiB':>9}  target <= 1.5x, <= 1024 MiB: wall / CPU")
    print(f"{'stim.Circuit(text)':<22} {ref:>8.3f} {1.0:>7.2f} {ref_cpu:>7.3f} {1.0:>7.2f} "
          f"{max(peer['peak_mib'], peer_again['peak_mib']):>9.0f}  (peer; runs {peer['seconds']:.3f} and {peer_again['seconds']:.3f} s)")
    ok = True
    for step, r in rows:
        ratio = r["seconds"] / ref
        small = r["peak_mib"] <= 1024
        met_wall, met_cpu = small and ratio <= 1.5, small and r["cpu"] / ref_cpu <= 1.5
        ok &= met_wall and met_cpu
        print(f"{step:<22} {r['seconds']:>8.3f} {ratio:>7.2f} {r['cpu']:>7.3f} {r['cpu'] / ref_cpu:>7.2f} "
              f"{r['peak_mib']:>9.0f}  {'met' if met_wall else 'NOT met'} / {'met' if met_cpu else 'NOT met'}")
    print("all targets met" if ok else "some targets NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
