"""State tomography from counts, with qiskit-experiments doing the fitting.

qiskit-experiments' ``StateTomography`` builds the measurement circuits (Pauli
bases on the chosen qubits) and its analysis fits the density matrix (linear
inversion, then rescaled to the nearest physical state) and the fidelity with a
target; with ``target_bootstrap_samples`` it also refits B resampled data sets
(multinomial resampling of every basis' counts) and returns the B fidelities.
Here the circuits are lowered to the device's native gates without touching
the protocol (layout fixed, no routing), run by any runner of
:mod:`qclone.hardware.backends`, and the counts handed back to that analysis.

Examples:
    >>> from qiskit import QuantumCircuit
    >>> from qclone.hardware.backends import AerRunner
    >>> qc = QuantumCircuit(2); _ = qc.x(1)
    >>> fit = run_tomography(qc, [1], AerRunner(), target=[0, 1], shots=500, seed=3)
    >>> round(fit.fidelity, 6)
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import DensityMatrix, Statevector, concurrence
from qiskit.transpiler import generate_preset_pass_manager

from qclone.hardware.backends import Runner, check_shots

#: Gates tomography circuits are unrolled to when no device is given.
GENERIC_BASIS = ["id", "x", "y", "z", "h", "s", "sdg", "sx", "sxdg", "rz", "cx", "cz", "swap", "measure", "delay"]


@dataclass(frozen=True)
class TomographyFit:
    """A fitted state and its fidelity with the target.

    Attributes:
        state: linear-inversion fit, trace one but not necessarily positive (qiskit order: first
            measured qubit least significant); :attr:`physical_state` is the nearest physical state.
        fidelity: fidelity of the fit with the target.
        bootstrap: fidelities of the bootstrap refits (empty without bootstrapping).
        shots: shots per measurement basis.
    """

    state: np.ndarray
    fidelity: float
    bootstrap: tuple[float, ...]
    shots: int

    @property
    def physical_state(self) -> np.ndarray:
        """The fit rescaled to a positive semidefinite state (qiskit-experiments' post-processing)."""
        from qiskit_experiments.library.tomography.fitters.postprocess_fit import postprocess_fitter

        states, _ = postprocess_fitter([self.state], {}, make_positive=True, trace=1, qpt=False)
        return np.asarray(states[0].data)

    @property
    def concurrence(self) -> float:
        """Wootters concurrence of the physical two-qubit fit."""
        return float(concurrence(DensityMatrix(self.physical_state)))


def tomography_experiment(circuit: QuantumCircuit, qubits: Sequence[int], target: np.ndarray | Statevector | DensityMatrix):
    """The qiskit-experiments experiment measuring ``qubits`` of ``circuit`` (which has no measurements)."""
    from qiskit_experiments.library import StateTomography

    t = target if isinstance(target, (Statevector, DensityMatrix)) else Statevector(np.asarray(target, dtype=complex))
    return StateTomography(circuit, measurement_indices=list(qubits), target=t)


def lower(circuits: Sequence[QuantumCircuit], backend: BackendV2 | None) -> list[QuantumCircuit]:
    """Native gates for ``backend`` with every qubit kept where it is (no layout, no routing)."""
    if backend is None:  # a simulator without a device: only unroll the basis-change instructions
        from qiskit import transpile

        return list(transpile(list(circuits), basis_gates=GENERIC_BASIS, optimization_level=0))
    pm = generate_preset_pass_manager(
        optimization_level=1,
        backend=backend,
        initial_layout=list(range(backend.num_qubits)),
        routing_method="none",
        seed_transpiler=0,
    )
    out = pm.run(list(circuits))
    return out if isinstance(out, list) else [out]


def readout_calibration_circuits(num_qubits: int, qubits: Sequence[int]) -> list[QuantumCircuit]:
    """The two circuits of local readout calibration: ``qubits`` prepared all in |0⟩, then all in |1⟩, and measured
    (classical bit i ↔ ``qubits[i]``)."""
    out = []
    for bit in (0, 1):
        qc = QuantumCircuit(num_qubits, len(qubits), name=f"readout_calibration_{bit}", metadata={"prepared": bit})
        if bit:
            qc.x(list(qubits))
        qc.measure(list(qubits), list(range(len(qubits))))
        out.append(qc)
    return out


def readout_mitigator(qubits: Sequence[int], counts: Sequence[dict[str, int]]):  # noqa: ANN201 - LocalReadoutMitigator
    """qiskit-experiments' ``LocalReadoutMitigator`` from the counts of :func:`readout_calibration_circuits`:
    per qubit the assignment matrix ``A`` whose entry in row i, column j is P(read i | prepared j)."""
    from qiskit_experiments.data_processing import LocalReadoutMitigator

    matrices = []
    for pos in range(len(qubits)):
        a = np.zeros((2, 2))
        for prepared, c in enumerate(counts):
            total = sum(c.values())
            ones = sum(v for k, v in c.items() if k[len(k) - 1 - pos] == "1")
            a[1, prepared] = ones / total
            a[0, prepared] = 1 - ones / total
        matrices.append(a)
    return LocalReadoutMitigator(assignment_matrices=matrices, qubits=list(qubits))


def analyse(experiment, circuits: Sequence[QuantumCircuit], counts: Sequence[dict[str, int]], *, bootstrap: int = 0,  # noqa: ANN001 - a qiskit-experiments StateTomography
            seed: int | None = None, mitigator=None) -> TomographyFit:  # noqa: ANN001 - a LocalReadoutMitigator
    """Fit the counts of an experiment's circuits with the experiment's own analysis.

    ``mitigator``: a ``LocalReadoutMitigator`` of the measured (physical) qubits; the fit then uses the
    measured assignment matrices as the measurement's POVM (qiskit-experiments' readout-mitigated tomography).
    """
    from qiskit_experiments.framework import ExperimentData

    data = ExperimentData(experiment=experiment)
    data.add_data(
        [{"counts": dict(c), "metadata": dict(qc.metadata or {}), "shots": int(sum(c.values()))} for qc, c in zip(circuits, counts)]
    )
    analysis = experiment.analysis.copy()
    # linear inversion without rescaling to a physical state: the fidelity with a pure target is then
    # linear in the frequencies, hence unbiased, and so are its bootstrap resamples
    analysis.set_options(target_bootstrap_samples=int(bootstrap), target_bootstrap_seed=seed, rescale_positive=False)
    if mitigator is not None:
        from qiskit_experiments.library.tomography.basis import PauliMeasurementBasis

        analysis.set_options(measurement_basis=PauliMeasurementBasis(mitigator=mitigator))
    analysis.run(data, replace_results=True).block_for_results()
    fid = data.analysis_results("state_fidelity", dataframe=True).iloc[0]
    state = data.analysis_results("state", dataframe=True).iloc[0]["value"]
    value = fid["value"]
    nominal = float(getattr(value, "nominal_value", value))
    extra = fid.get("bootstrap_samples", None)
    samples = tuple(float(x) for x in extra) if extra is not None and not (isinstance(extra, float) and np.isnan(extra)) else ()
    shots = int(sum(counts[0].values())) if counts else 0
    return TomographyFit(state=np.asarray(state.data), fidelity=nominal, bootstrap=samples, shots=shots)


def run_tomography(
    circuit: QuantumCircuit,
    qubits: Sequence[int],
    runner: Runner,
    *,
    target,  # noqa: ANN001 - vector, Statevector or DensityMatrix
    shots: int,
    backend: BackendV2 | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
) -> TomographyFit:
    """Build, lower, run and fit the tomography of ``qubits`` of ``circuit`` in one call."""
    check_shots(shots)
    exp = tomography_experiment(circuit, qubits, target)
    circuits = lower(exp.circuits(), backend)
    counts = runner.run(circuits, shots=shots, seed=seed)
    return analyse(exp, circuits, counts, bootstrap=bootstrap, seed=seed)
