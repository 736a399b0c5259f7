"""Fidelity of the decrypted clone, measured the way an experiment measures it: from counts.

For each n, :func:`measure_fidelity` compiles the protocol for the device
(:mod:`qclone.hardware.compile`) and runs two tomography experiments
(:mod:`qclone.hardware.tomography`):

* **average fidelity**: for each of the six cardinal input states
  (|0⟩, |1⟩, |±⟩, |±i⟩, a 2-design, so their mean is the average fidelity over
  all pure inputs) the input is prepared on A, the protocol runs, and
  single-qubit tomography of the decrypted clone gives F_ψ = ⟨ψ|ρ|ψ⟩. The
  reported value is the mean of the six. Its confidence interval is a
  percentile bootstrap: every bootstrap round resamples the counts of every
  measurement basis of every input (multinomially, inside qiskit-experiments'
  analysis) and refits; the interval holds the central ``confidence`` share of
  the round means.
* **entanglement**: A starts maximally entangled with the reference R (which
  the protocol never touches); two-qubit tomography of (R, decrypted clone)
  gives the fidelity with |Φ+⟩ (bootstrap interval as above) and the
  concurrence. Pre-existing entanglement survives when the concurrence is > 0.

The classical limit of the average fidelity (measure and re-prepare) is 2/3
(:data:`qclone.analysis.scaling.CLASSICAL_LIMIT`).

Circuits are lowered to native gates with the layout fixed, and (for a
simulated device, ``idle_noise=True``) scheduled as late as possible with
explicit delays, so the simulator's thermal relaxation also acts on qubits that
wait, as they do on hardware.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import Statevector

from qclone.errors import InvalidArgumentError, is_int
from qclone.hardware.backends import Runner, check_shots
from qclone.hardware.compile import CARDINAL_STATES, CompiledProtocol, cardinal_vector, compile_protocol
from qclone.hardware.tomography import (
    TomographyFit,
    analyse,
    lower,
    readout_calibration_circuits,
    readout_mitigator,
    tomography_experiment,
)

#: |Φ+⟩ in qiskit's order for measurement_indices [R, clone] (symmetric, so the order does not matter).
BELL_TARGET = np.array([1, 0, 0, 1], dtype=complex) / np.sqrt(2)


@dataclass(frozen=True)
class FidelityResult:
    """Everything measured for one n (JSON-ready with :meth:`to_dict`)."""

    backend: str
    runner: str
    clones: int
    decrypt: int
    shots: int
    average_fidelity: float
    ci_low: float
    ci_high: float
    confidence: float
    bootstrap: int
    state_fidelities: dict[str, float]
    bell_fidelity: float | None
    bell_ci_low: float | None
    bell_ci_high: float | None
    concurrence: float | None
    two_qubit_gates: int
    depth: int
    two_qubit_depth: int
    physical_qubits: tuple[int, ...]
    seconds: float
    circuits: int = 0
    run_seconds: float = 0.0
    #: readout-error-mitigated estimates (``mitigate=True``): the same counts fitted with the measured
    #: assignment matrices of the read-out qubits as the measurement's POVM
    mitigated_fidelity: float | None = None
    mitigated_ci_low: float | None = None
    mitigated_ci_high: float | None = None
    mitigated_bell_fidelity: float | None = None
    dd: str | None = None

    @property
    def seconds_per_shot(self) -> float:
        """Simulation (or device) time per shot of one circuit (``run_seconds`` / circuits / shots)."""
        return self.run_seconds / (self.circuits * self.shots) if self.circuits else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["physical_qubits"] = list(self.physical_qubits)
        d["seconds_per_shot"] = self.seconds_per_shot
        return d


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap ``samples`` (their quantiles)."""
    lo, hi = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def _schedule_idle(circuits: list[QuantumCircuit], backend: BackendV2) -> list[QuantumCircuit]:
    from qiskit.transpiler import PassManager
    from qiskit.transpiler.passes import ALAPScheduleAnalysis, PadDelay

    pm = PassManager([ALAPScheduleAnalysis(target=backend.target), PadDelay(target=backend.target)])
    out = pm.run(circuits)
    return out if isinstance(out, list) else [out]


def prepare_for_device(backend: BackendV2, circuits: list[QuantumCircuit], idle_noise: bool,
                       dd: str | None = None) -> list[QuantumCircuit]:
    """``circuits`` lowered to the device's native gates, with idle delays scheduled when ``idle_noise``;
    with ``dd`` (``XX``, ``XY4``) the idle windows hold that dynamical-decoupling sequence
    (:mod:`qclone.hardware.idle`)."""
    lowered = lower(circuits, backend)
    if dd is not None:
        from qclone.hardware.idle import schedule

        return list(schedule(lowered, backend.target, policy="alap", dd=dd))
    return _schedule_idle(lowered, backend) if idle_noise else lowered


def check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"confidence must be between 0 and 1, got {confidence}")
    return float(confidence)


def check_run_arguments(shots: object, confidence: float, bootstrap: object,
                        inputs: Sequence[str]) -> tuple[float, tuple[str, ...]]:
    """Check the arguments every tomography run takes; the confidence and the inputs as a tuple."""
    check_shots(shots)
    confidence = check_confidence(confidence)
    if not is_int(bootstrap) or bootstrap < 2:
        raise InvalidArgumentError(f"bootstrap must be an integer >= 2, got {bootstrap!r}")
    inputs = tuple(inputs)
    if not inputs or any(s not in CARDINAL_STATES for s in inputs):
        raise InvalidArgumentError(f"inputs must be cardinal states among {', '.join(CARDINAL_STATES)}, got {inputs!r}")
    return confidence, inputs


def measure_fidelity(
    backend: BackendV2,
    clones: int,
    *,
    shots: int,
    runner: Runner,
    decrypt: int = 1,
    inputs: Sequence[str] = tuple(CARDINAL_STATES),
    entangled: bool = True,
    bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int | None = 0,
    idle_noise: bool = True,
    name: str | None = None,
    mitigate: bool = False,
    dd: str | None = None,
) -> FidelityResult:
    """Average fidelity (and Bell fidelity, concurrence) of the decrypted clone from counts.

    Args:
        backend: the device the circuits are compiled for.
        clones: n.
        shots: shots per measurement basis and input.
        runner: what runs the circuits (:mod:`qclone.hardware.backends`).
        decrypt: which clone is decrypted.
        inputs: cardinal input states (default: all six).
        entangled: also run the (R, clone) two-qubit tomography.
        bootstrap: bootstrap rounds for the confidence intervals.
        confidence: central probability of the intervals.
        seed: seed of the simulator and of the bootstrap.
        idle_noise: schedule with explicit delays (thermal relaxation of waiting qubits).
        name: backend name to report (default: ``backend.name``).
        mitigate: also run the local readout calibration of the read-out qubits (two circuits) and report the
            readout-error-mitigated fidelities beside the raw ones.
        dd: dynamical decoupling in the idle windows (``XX`` or ``XY4``; :mod:`qclone.hardware.idle`).
    """
    confidence, inputs = check_run_arguments(shots, confidence, bootstrap, inputs)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    compiled: dict[str, CompiledProtocol] = {}
    experiments, batches = [], []
    for label in inputs:
        comp = compile_protocol(backend, clones, decrypt, input=label, seed=0, name=name)
        compiled[label] = comp
        exp = tomography_experiment(comp.circuit, [comp.clone_qubit], Statevector(cardinal_vector(label)))
        experiments.append(exp)
        batches.append(prepare_for_device(backend, exp.circuits(), idle_noise, dd))
    if entangled:
        comp = compile_protocol(backend, clones, decrypt, input="bell", seed=0, name=name)
        compiled["bell"] = comp
        exp = tomography_experiment(comp.circuit, [comp.reference_qubit, comp.clone_qubit], Statevector(BELL_TARGET))
        experiments.append(exp)
        batches.append(prepare_for_device(backend, exp.circuits(), idle_noise, dd))
    read_out = []
    if mitigate:
        first = next(iter(compiled.values()))
        read_out = [first.clone_qubit] + ([compiled["bell"].reference_qubit] if entangled else [])
        calibration = readout_calibration_circuits(backend.num_qubits, read_out)
        batches.append(prepare_for_device(backend, calibration, idle_noise))

    flat = [qc for batch in batches for qc in batch]
    order = next(iter(compiled.values())).layout.path
    started = time.perf_counter()
    counts = runner.run(flat, shots=shots, seed=seed, order=order)
    run_seconds = time.perf_counter() - started
    simulated = getattr(runner, "last_simulate_seconds", None)  # without building the noise model
    run_seconds = run_seconds if simulated is None else simulated
    fits: list[TomographyFit] = []
    mitigated: list[TomographyFit] = []
    mitigator = readout_mitigator(read_out, counts[len(counts) - 2 :]) if mitigate else None
    pos = 0
    for exp, batch in zip(experiments, batches):
        part = counts[pos : pos + len(batch)]
        fit_seed = int(rng.integers(2**31))
        fits.append(analyse(exp, batch, part, bootstrap=bootstrap, seed=fit_seed))
        if mitigator is not None:
            mitigated.append(analyse(exp, batch, part, bootstrap=bootstrap, seed=fit_seed, mitigator=mitigator))
        pos += len(batch)
    mit_fields: dict = {}
    if mitigated:
        m_states = mitigated[: len(inputs)]
        m_samples = np.array([f.bootstrap for f in m_states])
        m_rounds = min(len(x) for x in m_samples)
        m_lo, m_hi = percentile_interval(m_samples[:, :m_rounds].mean(axis=0), confidence)
        mit_fields = {"mitigated_fidelity": float(np.mean([f.fidelity for f in m_states])), "mitigated_ci_low": m_lo,
                      "mitigated_ci_high": m_hi, "mitigated_bell_fidelity": mitigated[-1].fidelity if entangled else None}

    state_fits = fits[: len(inputs)]
    samples = np.array([f.bootstrap for f in state_fits])  # (inputs, rounds): independent resamples per input
    rounds = min(len(s) for s in samples) if len(samples) else 0
    means = samples[:, :rounds].mean(axis=0)
    lo, hi = percentile_interval(means, confidence)
    bell = fits[-1] if entangled else None
    bell_lo = bell_hi = None
    if bell is not None:
        bell_lo, bell_hi = percentile_interval(np.array(bell.bootstrap), confidence)
    ref = compiled.get("bell") or compiled[inputs[0]]
    return FidelityResult(
        backend=str(name or getattr(backend, "name", "device")),
        runner=runner.name,
        clones=clones,
        decrypt=decrypt,
        shots=shots,
        average_fidelity=float(np.mean([f.fidelity for f in state_fits])),
        ci_low=lo,
        ci_high=hi,
        confidence=confidence,
        bootstrap=bootstrap,
        state_fidelities={label: f.fidelity for label, f in zip(inputs, state_fits)},
        bell_fidelity=None if bell is None else bell.fidelity,
        bell_ci_low=bell_lo,
        bell_ci_high=bell_hi,
        concurrence=None if bell is None else bell.concurrence,
        two_qubit_gates=ref.stats.two_qubit_gates,
        depth=ref.stats.depth,
        two_qubit_depth=ref.stats.two_qubit_depth,
        physical_qubits=tuple(ref.layout.path),
        seconds=time.perf_counter() - start,
        circuits=len(flat),
        run_seconds=run_seconds,
        dd=dd,
        **mit_fields,
    )
