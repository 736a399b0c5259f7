"""The Clifford + core engine (``qclone.sim.core``) beside its peers, in the same run.

1. Small registers, arbitrary entangled input: CoreState against the dense
   engines that can hold them (``qclone.sim.exact`` and
   ``qiskit.quantum_info.Statevector``): encrypt a k = 2 register entangled
   with a 2-qubit reference, decrypt clone n, fidelity of (clone, R). Same
   answers, time ratios.
2. Large registers: CoreState with an arbitrary (random, entangled) input
   against stim's ``TableauSimulator`` on the same circuit, which can only
   take a stabilizer input (|0…0⟩): wall time and peak memory of each in its
   own process. stim keeps one tableau of all k(2n+1) qubits; CoreState keeps
   one tableau per register qubit, so k = 12, n = 10^4 (240 012 qubits) fits
   (stim's single tableau would need about 29 GB and is not attempted).

Targets: exact for any input with k <= 12 and n up to 10^4 on the
24 GiB, 2-core machine; ``qclone verify --clones 10000 --qubits 2 --engine
core`` in seconds (timed here too).

Run: ``.venv/bin/python bench/core_engine.py``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

CORE_JOB = r"""
import json, sys, time
import numpy as np
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.sim.core import CoreState
from qclone.sim.exact import fidelity, random_state
k, n = int(sys.argv[1]), int(sys.argv[2])
lay = Layout(n, qubits=k)
psi = random_state(k, np.random.default_rng(0))
t0 = time.perf_counter()
st = CoreState.from_input(lay.num_qubits, psi, list(lay.inputs))
st.apply(protocol_circuit(lay))
st.apply(decryption(lay, n))
f = fidelity(st.reduced_density_matrix(list(lay.clone(n))), psi)
print(json.dumps({"seconds": time.perf_counter() - t0, "fidelity": f}))
"""

STIM_JOB = r"""
import json, sys, time
import stim
from qclone.protocol import Layout, decryption, protocol_circuit, to_stim
k, n = int(sys.argv[1]), int(sys.argv[2])
lay = Layout(n, qubits=k)
t0 = time.perf_counter()
sim = stim.TableauSimulator()
sim.set_num_qubits(lay.num_qubits)
sim.do_circuit(to_stim(protocol_circuit(lay) + decryption(lay, n)))
z = [sim.peek_z(q) for q in lay.clone(n)]
print(json.dumps({"seconds": time.perf_counter() - t0, "z": z}))
"""


def child(code: str, *args: str) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS (MiB, that process only, via wait4) and the JSON a child process prints."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read()  # type: ignore[union-attr]  # stdout=PIPE
    err = proc.stderr.read()  # type: ignore[union-attr]  # stderr=PIPE
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"child failed: {err}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, json.loads(out)


def small_registers() -> None:
    from qiskit.quantum_info import Statevector, partial_trace

    from qclone.protocol import Layout, protocol_circuit, to_qiskit
    from qclone.sim.core import CoreState
    from qclone.sim.exact import StateVector, fidelity, random_state

    print("1. k = 2 register entangled with a 2-qubit reference: encrypt, decrypt clone n, fidelity of (clone, R)")
    print(f"{'n':>3} {'qubits':>6} | {'core s':>8} {'exact s':>8} {'qiskit s':>9} | {'exact/core':>10} {'qiskit/core':>11} | fidelities")
    for n in (2, 3, 4):
        lay = Layout(n, qubits=2, references=2)
        psi = random_state(4, np.random.default_rng(n))
        qubits = list(lay.inputs) + list(lay.reference_qubits)
        circ = protocol_circuit(lay, decrypt=n)
        out = list(lay.clone(n)) + list(lay.reference_qubits)
        t = time.perf_counter()
        st = CoreState.from_input(lay.num_qubits, psi, qubits)
        st.apply(circ)
        f_core = fidelity(st.reduced_density_matrix(out), psi)
        t_core = time.perf_counter() - t
        t = time.perf_counter()
        sv = StateVector.from_input(psi, lay.num_qubits, input_qubits=qubits)
        sv.apply_circuit(circ)
        f_exact = fidelity(sv.reduced_density_matrix(out), psi)
        t_exact = time.perf_counter() - t
        t = time.perf_counter()
        full = StateVector.from_input(psi, lay.num_qubits, input_qubits=qubits).vector
        # qiskit orders qubits little-endian: reverse the axes of our big-endian vector
        m = lay.num_qubits
        qsv = Statevector(full.reshape((2,) * m).transpose(list(range(m))[::-1]).ravel()).evolve(to_qiskit(circ))
        dm = partial_trace(qsv, [q for q in range(m) if q not in out]).data
        # partial_trace keeps qubits in increasing order, little-endian: reorder to `out`, big-endian
        order = sorted(out)
        axes = [len(out) - 1 - order.index(q) for q in out]
        dm = dm.reshape((2,) * (2 * len(out))).transpose(axes + [a + len(out) for a in axes]).reshape(2 ** len(out), -1)
        f_qiskit = fidelity(dm, psi)
        t_qiskit = time.perf_counter() - t
        print(f"{n:>3} {lay.num_qubits:>6} | {t_core:8.3f} {t_exact:8.3f} {t_qiskit:9.3f} | {t_exact / t_core:10.1f} "
              f"{t_qiskit / t_core:11.1f} | {f_core:.12f} {f_exact:.12f} {f_qiskit:.12f}")


def large_registers() -> None:
    print("\n2. random k-qubit input (CoreState) beside stim on the same circuit with input |0...0> (each in its own process)")
    print(f"{'k':>3} {'n':>6} {'qubits':>7} | {'core s':>7} {'core MiB':>9} | {'stim s':>7} {'stim MiB':>9} | {'time core/stim':>14} | fidelity")
    for k, n in ((2, 1000), (2, 10_000), (12, 1000), (12, 10_000)):
        wall_c, peak_c, out_c = child(CORE_JOB, str(k), str(n))
        qubits = k * (2 * n + 1)
        if qubits <= 50_000:
            wall_s, peak_s, out_s = child(STIM_JOB, str(k), str(n))
            stim_cols = f"{out_s['seconds']:7.2f} {peak_s:9.0f} | {out_c['seconds'] / out_s['seconds']:14.1f}"
        else:
            est = 4 * qubits * qubits / 8 / 2**30
            stim_cols = f"{'—':>7} {'~' + format(est, '.0f') + ' GiB':>9} | {'(not run)':>14}"
        print(f"{k:>3} {n:>6} {qubits:>7} | {out_c['seconds']:7.2f} {peak_c:9.0f} | {stim_cols} | {out_c['fidelity']:.12f}")


def verify_command() -> None:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "qclone", "verify", "--clones", "10000", "--qubits", "2",
                           "--engine", "core", "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    report = json.loads(proc.stdout)
    print(f"\n3. qclone verify --clones 10000 --qubits 2 --engine core: {wall:.1f} s wall, "
          f"passed = {report['passed']}, {len(report['checks'])} checks")


def main() -> int:
    small_registers()
    large_registers()
    verify_command()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
