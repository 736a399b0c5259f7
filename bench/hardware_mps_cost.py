"""Cost of one shot of the full-device simulation: Aer MPS with the device noise vs its Pauli twirl.

For each n, one tomography circuit of the protocol on FakeFez (input |+>, Z
basis, ALAP schedule with idle delays, active qubits ordered along the layout
path) is run with Aer's matrix-product-state method, once with the device's
noise model as ``AerSimulator.from_backend`` builds it (thermal relaxation:
general Kraus channels) and once with its Pauli twirl
(:mod:`qclone.hardware.pauli_noise`). Prints seconds per shot (simulation only,
the noise model is built beforehand), for the device noise the time a full
run would take (18 circuits: 6 inputs x 3 bases, x 1000 shots), and the
largest MPS bond dimension along one twirled trajectory.

Run: .venv/bin/python bench/hardware_mps_cost.py [--clones 5,10,20,63] [--device-shots 4] [--twirled-shots 40]
"""

from __future__ import annotations

import argparse
import re

from qiskit.quantum_info import Statevector

from qclone.hardware.backends import AerRunner
from qclone.hardware.compile import cardinal_vector, compile_protocol
from qclone.hardware.devices import get_backend
from qclone.hardware.experiment import prepare_for_device
from qclone.hardware.tomography import tomography_experiment


def per_shot(runner: AerRunner, circuit, order, shots: int) -> float:  # noqa: ANN001 - qiskit circuit and layout
    runner.run([circuit], shots=1, seed=1, order=order)  # builds (and caches) the noise model
    runner.run([circuit], shots=shots, seed=2, order=order)
    return runner.last_simulate_seconds / shots


def max_bond(runner: AerRunner, circuit, order) -> int:  # noqa: ANN001 - qiskit circuit and layout
    """Largest MPS bond dimension along one trajectory (Aer's ``mps_log_data``)."""
    from qclone.hardware.backends import renumber
    from qclone.hardware.pauli_noise import twirl_delays

    qubits = tuple(order)
    sim = runner.simulator(qubits)
    small = renumber(circuit, qubits)
    if runner.noise == "twirled":
        small = twirl_delays([small], runner._restricted(qubits).target)[0]  # noqa: SLF001 - the runner's restricted target
    sim.set_options(mps_log_data=True)
    try:
        log = sim.run(small, shots=1, seed_simulator=3).result().results[0].metadata.get("MPS_log_data", "")
    finally:
        sim.set_options(mps_log_data=False)
    return max(int(d) for block in re.findall(r"BD=\[([0-9 ]+)\]", log) for d in block.split())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clones", default="5,10,20,63")
    ap.add_argument("--device-shots", type=int, default=4)
    ap.add_argument("--twirled-shots", type=int, default=40)
    ap.add_argument("--device-max", type=int, default=20, help="largest n run with the (slow) device noise")
    args = ap.parse_args()
    fez = get_backend("fake_fez")
    print(f"{'n':>3} {'path':>6} {'2q gates':>8} | {'device s/shot':>13} {'18x1000 shots':>13} | {'twirled s/shot':>14} {'ratio':>6} {'max bond':>8}")
    for n in (int(x) for x in args.clones.split(",")):
        comp = compile_protocol(fez, n, input="+", seed=0)
        exp = tomography_experiment(comp.circuit, [comp.clone_qubit], Statevector(cardinal_vector("+")))
        circuit = prepare_for_device(fez, exp.circuits(), True)[0]
        order = comp.layout.path
        twirled = AerRunner(fez, method="mps", noise="twirled")
        tw = per_shot(twirled, circuit, order, args.twirled_shots)
        bond = max_bond(twirled, circuit, order)
        if n <= args.device_max:
            dev = per_shot(AerRunner(fez, method="mps"), circuit, order, args.device_shots)
            full = 18 * 1000 * dev
            print(f"{n:>3} {2 * n + 2:>6} {comp.stats.two_qubit_gates:>8} | {dev:>13.3f} {full / 3600:>11.1f} h | {tw:>14.4f} {dev / tw:>6.0f} {bond:>8}")
        else:
            print(f"{n:>3} {2 * n + 2:>6} {comp.stats.two_qubit_gates:>8} | {'(skipped)':>13} {'':>13} | {tw:>14.4f} {'':>6} {bond:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
