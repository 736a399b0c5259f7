"""Encrypted cloning on IBM Heron devices: layout, schedule, backends, fidelity from counts.

* :mod:`~qclone.hardware.devices` — fake Heron models and real IBM backends by name;
* :mod:`~qclone.hardware.layout` — the protocol on one path of the heavy-hex coupling map;
* :mod:`~qclone.hardware.schedule` — a nearest-neighbour gate schedule for that path;
* :mod:`~qclone.hardware.check` — the schedule against the textbook protocol (exact engine, stim);
* :mod:`~qclone.hardware.compile` — native-gate circuits, and Qiskit's level-3 baseline;
* :mod:`~qclone.hardware.passes` — the schedule as a Qiskit pass manager for your own circuit;
* :mod:`~qclone.hardware.backends` — Aer with the device's noise, or SamplerV2;
* :mod:`~qclone.hardware.tomography`, :mod:`~qclone.hardware.experiment` — fidelity from counts;
* :mod:`~qclone.hardware.prediction` — the Pauli-twirled stim prediction (:mod:`qclone.analysis.twirl`) for this device;
* :mod:`~qclone.hardware.pauli_noise` — the device's Aer noise, Pauli-twirled (cheap MPS shots);
* :mod:`~qclone.hardware.idle` — scheduling with the device's durations, idle windows, dynamical decoupling;
* :mod:`~qclone.hardware.predict` — the scheduled stim model: exact fidelity, largest n above 2/3;
* :mod:`~qclone.hardware.composition` — parallel, series and interleaved modules on the device;
* :mod:`~qclone.hardware.report` — CSV and plots.

See ``docs/hardware.md``.
"""

from qclone.hardware.backends import AerRunner, RestrictedBackend, Runner, SamplerRunner
from qclone.hardware.check import ScheduleCheck, check_compiled, check_schedule
from qclone.hardware.compile import CARDINAL_STATES, CompiledProtocol, GateStats, compile_protocol, logical_circuit, qiskit_baseline
from qclone.hardware.composition import MODULE_KINDS, CompiledModules, ModuleResult, compile_modules, measure_modules
from qclone.hardware.devices import DEVICE_NAMES, get_backend, is_fake
from qclone.hardware.experiment import FidelityResult, measure_fidelity
from qclone.hardware.layout import DeviceLayout, device_layout, max_clones
from qclone.hardware.passes import ProtocolLayout, ProtocolRouting, schedule_pass_manager
from qclone.hardware.pauli_noise import twirl_delays, twirl_error, twirled_noise_model
from qclone.hardware.prediction import device_prediction, schedule_duration
from qclone.hardware.report import plot_results, write_csv
from qclone.hardware.schedule import Schedule, protocol_schedule
from qclone.hardware.tomography import TomographyFit, run_tomography

__all__ = [
    "AerRunner", "RestrictedBackend", "Runner", "SamplerRunner",
    "ScheduleCheck", "check_compiled", "check_schedule",
    "CARDINAL_STATES", "CompiledProtocol", "GateStats", "compile_protocol", "logical_circuit", "qiskit_baseline",
    "DEVICE_NAMES", "get_backend", "is_fake",
    "FidelityResult", "measure_fidelity",
    "DeviceLayout", "device_layout", "max_clones",
    "MODULE_KINDS", "CompiledModules", "ModuleResult", "compile_modules", "measure_modules",
    "ProtocolLayout", "ProtocolRouting", "schedule_pass_manager",
    "twirl_delays", "twirl_error", "twirled_noise_model",
    "plot_results", "write_csv",
    "Schedule", "protocol_schedule",
    "TomographyFit", "run_tomography",
    "device_prediction", "schedule_duration",
]
