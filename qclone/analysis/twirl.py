"""The Pauli-twirled stim model of the scale issue, for comparison with full-device simulation.

:mod:`qclone.sim.noise` and :mod:`qclone.sim.stabilizer` model noise as Pauli
channels (depolarizing gates, readout flips, twirled T1/T2 memory) and read the
decrypted clone's Pauli channel exactly off stim's error model. The
``heron`` preset uses the medians of the same device calibration. Two
predictions per n:

* ``textbook``: the scale issue's own figure, the textbook circuit (7n + 1
  two-qubit gates, no routing) — :func:`qclone.sim.stabilizer.fidelity_circuit`;
* ``routed``: the same noise on the heavy-hex schedule actually run on the
  device (:mod:`qclone.hardware.schedule`), so routing overhead is counted
  (every SWAP as three noisy CNOTs; on hardware a SWAP next to a controlled
  gate merges into two CZ, so this errs slightly on the noisy side).

* ``routed_idle`` (with a ``backend``): the routed circuit with, in addition,
  the twirled T1/T2 relaxation (heron medians) of the *whole* scheduled
  duration of the device circuit (:func:`schedule_duration`) on every qubit
  but R, once, between encryption and decryption. Every qubit of the device
  circuit idles for less than that, so this one errs on the noisy side: the
  two routed predictions bracket what idle relaxation can do.

Against the Aer simulation of the device (per-qubit calibration, thermal
relaxation, which is not a Pauli channel, relaxation of waiting qubits) the
difference shows what the Pauli model leaves out.

Examples:
    >>> from qclone.sim.noise import noise_model
    >>> t = twirled_prediction(10, noise=noise_model("depolarizing", p=1e-3))
    >>> t.routed < t.textbook < 1
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import stim

from qiskit.providers import BackendV2

from qclone.hardware.compile import compile_protocol
from qclone.hardware.schedule import protocol_schedule
from qclone.protocol import Circuit
from qclone.sim.noise import HERON_R2_MEDIANS, NoiseModel, noise_model, noisy_stim_text
from qclone.sim.stabilizer import average_fidelity, exact_pauli_channel, fidelity_circuit


@dataclass(frozen=True)
class TwirledPrediction:
    """Average fidelities predicted by the Pauli-twirled model (exact, no sampling)."""

    clones: int
    noise: str
    textbook: float
    routed: float
    routed_idle: float | None = None
    duration: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def expand_swaps(circuit: Circuit) -> Circuit:
    """Every SWAP as the three CNOTs hardware runs (each then gets its own gate noise)."""
    out = Circuit(circuit.registers)
    for ins in circuit.instructions:
        if ins.name != "SWAP":
            out = Circuit(out.registers, out.instructions + (ins,))
            continue
        for a, b in ins.groups:
            out = out.append("CX", [a, b]).append("CX", [b, a]).append("CX", [a, b])
    return out


def routed_fidelity_circuit(clones: int, *, noise: NoiseModel, decrypt: int = 1) -> stim.Circuit:
    """Like :func:`~qclone.sim.stabilizer.fidelity_circuit`, on the heavy-hex schedule's slots."""
    sched = protocol_schedule(clones, decrypt)
    r, s = sched.initial_slots["R"], sched.final_slots[f"S{sched.decrypt}"]
    body = sched.encryption + expand_swaps(sched.decryption)
    storage = len(sched.encryption.instructions)
    idle = np.arange(1, sched.num_slots, dtype=np.int64)  # every qubit but R waits in storage
    q = noise.readout_flip
    mpp = f"MPP({q!r})" if q > 0 else "MPP"
    text = "\n".join(
        (
            f"H {r}\nCX {r} {sched.initial_slots['A']}",
            noisy_stim_text(body, noise, storage_after=storage, idle_qubits=idle),
            f"{mpp} X{r}*X{s} Z{r}*Z{s}\nOBSERVABLE_INCLUDE(0) rec[-2]\nOBSERVABLE_INCLUDE(1) rec[-1]",
        )
    )
    return stim.Circuit(text)


def schedule_duration(backend: BackendV2, clones: int, decrypt: int = 1) -> float:
    """Seconds the device circuit of the protocol lasts (critical path, the target's gate durations)."""
    comp = compile_protocol(backend, clones, decrypt, input=None, seed=0)
    return float(comp.circuit.estimate_duration(backend.target, unit="s"))


def twirled_prediction(
    clones: int, *, noise: NoiseModel | None = None, decrypt: int = 1, backend: BackendV2 | None = None
) -> TwirledPrediction:
    """Exact average fidelity of the Pauli model (default ``heron``) for the textbook and the routed circuit,
    and, with a ``backend``, for the routed circuit with idle relaxation over the whole schedule."""
    noise = noise_model("heron") if noise is None else noise
    textbook = exact_pauli_channel(fidelity_circuit(clones, noise=noise, decrypt=decrypt))["p_I"]
    routed = exact_pauli_channel(routed_fidelity_circuit(clones, noise=noise, decrypt=decrypt))["p_I"]
    idle = duration = None
    if backend is not None:
        duration = schedule_duration(backend, clones, decrypt)
        h = HERON_R2_MEDIANS
        with_idle = noise + noise_model("memory", time=duration, t1=float(h["t1"]), t2=float(h["t2"]))
        idle = average_fidelity(exact_pauli_channel(routed_fidelity_circuit(clones, noise=with_idle, decrypt=decrypt))["p_I"])
    return TwirledPrediction(clones, noise.name, average_fidelity(textbook), average_fidelity(routed), idle, duration)
