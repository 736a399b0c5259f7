"""The Pauli-twirled stim prediction for a device: the device's schedule and the compiled circuit's duration.

The model itself is :mod:`qclone.analysis.twirl`; this module only supplies
what is device-specific: the heavy-hex schedule (:func:`protocol_schedule`)
and how long the compiled protocol lasts on a backend.

Examples:
    >>> from qclone.sim.noise import noise_model
    >>> t = device_prediction(10, noise=noise_model("depolarizing", p=1e-3))
    >>> t.routed < t.textbook < 1
    True
"""

from __future__ import annotations

from qiskit.providers import BackendV2

from qclone.analysis.twirl import TwirledPrediction, twirled_prediction
from qclone.hardware.compile import compile_protocol
from qclone.hardware.schedule import protocol_schedule
from qclone.sim.noise import NoiseModel


def schedule_duration(backend: BackendV2, clones: int, decrypt: int = 1) -> float:
    """Seconds the device circuit of the protocol lasts (critical path, the target's gate durations)."""
    comp = compile_protocol(backend, clones, decrypt, input=None, seed=0)
    return float(comp.circuit.estimate_duration(backend.target, unit="s"))


def device_prediction(
    clones: int, *, noise: NoiseModel | None = None, decrypt: int = 1, backend: BackendV2 | None = None
) -> TwirledPrediction:
    """The twirled prediction on the heavy-hex schedule; with a ``backend``, also with idle relaxation over
    the whole duration of its compiled circuit."""
    duration = None if backend is None else schedule_duration(backend, clones, decrypt)
    return twirled_prediction(clones, schedule=protocol_schedule(clones, decrypt), noise=noise, idle_time=duration)
