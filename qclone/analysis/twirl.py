"""The Pauli-twirled stim model of the protocol, for comparison with full-device simulation.

:mod:`qclone.sim.noise` and :mod:`qclone.sim.stabilizer` model noise as Pauli
channels (depolarizing gates, readout flips, twirled T1/T2 memory) and read the
decrypted clone's Pauli channel exactly off stim's error model. The
``heron`` preset uses the medians of the same device calibration. Predictions
per n:

* ``textbook``: the textbook circuit (7n + 1 two-qubit gates, no routing) —
  :func:`qclone.sim.stabilizer.fidelity_circuit`;
* ``routed`` (with a ``schedule``): the same noise on a nearest-neighbour
  schedule of the protocol (for a device, :func:`qclone.hardware.protocol_schedule`),
  so routing overhead is counted (every SWAP as three noisy CNOTs; on hardware
  a SWAP next to a controlled gate merges into two CZ, so this errs slightly on
  the noisy side);
* ``routed_idle`` (with an ``idle_time``): the routed circuit with, in
  addition, the twirled T1/T2 relaxation (heron medians) of that time on
  every qubit but R, once, between encryption and decryption. Given the whole
  scheduled duration of the device circuit, every qubit idles for less than
  that, so this one errs on the noisy side: the two routed predictions bracket
  what idle relaxation can do.

Against the Aer simulation of the device (per-qubit calibration, thermal
relaxation, which is not a Pauli channel, relaxation of waiting qubits) the
difference shows what the Pauli model leaves out.

This is a stim model built from noise parameters and a circuit, so it lives in
``analysis`` beside the other noise predictions; device-specific glue (which
schedule, how long the compiled circuit lasts on a backend) stays in
:mod:`qclone.hardware.prediction`.

Examples:
    >>> from qclone.sim.noise import noise_model
    >>> from qclone.hardware import protocol_schedule
    >>> t = twirled_prediction(10, noise=noise_model("depolarizing", p=1e-3), schedule=protocol_schedule(10))
    >>> t.routed < t.textbook < 1
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import stim

from qclone.protocol import Circuit
from qclone.sim.noise import HERON_R2_MEDIANS, NoiseModel, noise_model, noisy_stim_text
from qclone.sim.stabilizer import (
    average_fidelity,
    exact_pauli_channel,
    fidelity_circuit,
)


@dataclass(frozen=True)
class TwirledPrediction:
    """Average fidelities predicted by the Pauli-twirled model (exact, no sampling)."""

    clones: int
    noise: str
    textbook: float
    routed: float
    routed_idle: float | None = None
    duration: float | None = None

    def to_dict(self) -> dict[str, object]:
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


class RoutedProtocol(Protocol):
    """What the model reads of a nearest-neighbour schedule (e.g. :class:`qclone.hardware.Schedule`)."""

    @property
    def encryption(self) -> Circuit: ...
    @property
    def decryption(self) -> Circuit: ...
    @property
    def initial_slots(self) -> Mapping[str, int]: ...
    @property
    def final_slots(self) -> Mapping[str, int]: ...
    @property
    def decrypt(self) -> int: ...
    @property
    def num_slots(self) -> int: ...


def routed_fidelity_circuit(schedule: RoutedProtocol, *, noise: NoiseModel) -> stim.Circuit:
    """Like :func:`~qclone.sim.stabilizer.fidelity_circuit`, on the schedule's slots."""
    sched = schedule
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


def twirled_prediction(
    clones: int,
    *,
    schedule: RoutedProtocol,
    noise: NoiseModel | None = None,
    idle_time: float | None = None,
) -> TwirledPrediction:
    """Exact average fidelity of the Pauli model (default ``heron``) for the textbook and the routed circuit
    (decrypting ``schedule.decrypt``), and, with an ``idle_time`` (seconds), for the routed circuit with that
    much idle relaxation between encryption and decryption."""
    noise = noise_model("heron") if noise is None else noise
    decrypt = schedule.decrypt
    textbook = exact_pauli_channel(fidelity_circuit(clones, noise=noise, decrypt=decrypt))["p_I"]
    routed = exact_pauli_channel(routed_fidelity_circuit(schedule, noise=noise))["p_I"]
    idle = None
    if idle_time is not None:
        h = HERON_R2_MEDIANS
        with_idle = noise + noise_model("memory", time=idle_time, t1=float(h["t1"]), t2=float(h["t2"]))
        idle = average_fidelity(exact_pauli_channel(routed_fidelity_circuit(schedule, noise=with_idle))["p_I"])
    return TwirledPrediction(clones, noise.name, average_fidelity(textbook), average_fidelity(routed), idle, idle_time)
