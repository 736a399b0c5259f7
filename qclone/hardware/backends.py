"""Running device circuits: Aer with a device's noise, or IBM hardware through SamplerV2.

A *runner* takes ISA circuits (full device width, measured into classical
registers) and returns counts, one dict per circuit, bitstrings as Qiskit
prints them. Two runners share that interface:

* :class:`AerRunner`: ``AerSimulator.from_backend`` of the device, whose noise
  model has depolarizing gate errors, thermal relaxation (T1, T2, gate
  durations) and readout errors. Building that model for all 156 qubits of a
  Heron takes about 15 s and every run re-sends it (another 10 s), so the
  runner builds it for the qubits the circuits touch only: a restricted copy
  of the device target (same gate errors, durations, T1/T2, readout errors on
  those qubits) is handed to ``AerSimulator.from_backend`` and the circuits are
  renumbered onto it. Noiseless runs (``backend=None``) and runs with a
  user-supplied Aer ``NoiseModel`` use the same renumbering. The method is the
  density matrix up to :data:`MAX_DENSITY_MATRIX_QUBITS` active qubits and the
  matrix-product-state method above. The active qubits are numbered in the
  order of the layout path (``order``), so every gate of the schedule is
  between neighbours of the MPS chain and Aer never swaps internally.
  ``noise="twirled"`` uses the Pauli twirl of the same device model
  (:mod:`qclone.hardware.pauli_noise`): about 100 times cheaper per MPS shot,
  which is what makes the whole chip (n = 63) simulable.
* :class:`SamplerRunner`: qiskit-ibm-runtime's ``SamplerV2(mode=...)``. With a
  real backend (``get_backend("ibm_fez")``, needs a saved IBM Quantum account)
  this runs on hardware. With one of qiskit-ibm-runtime's fake backends,
  SamplerV2 runs in local mode; the mode is then the same restricted device
  simulator :class:`AerRunner` uses (the device's gate errors, relaxation and
  readout errors on the qubits the circuits touch, circuits renumbered onto
  them), so the sampler route costs what the Aer route costs instead of a
  156-qubit noise model per run (building that takes about 11 s, and
  simulating full-width circuits whose idle delays cover every qubit costs far
  more). An ``AerSimulator`` mode is used as it is.

Calibrated coherence times: a few qubits of the fake models report
T2 > 2·T1 (fake_fez qubit 87, fake_torino 23, 44, 61, 65, 86, ...), which no
qubit can have (1/T2 = 1/(2·T1) + 1/T_phi with T_phi ≥ 0; the excess is
measurement scatter). qiskit-ibm-runtime's own fake-backend simulator feeds
those raw values to the relaxation of ``delay`` instructions and fails
(``NoiseError: T_2 greater than 2 * T_1``) as soon as an idle delay lands on
such a qubit; every model here caps T2 at 2·T1 instead, as Aer's
``NoiseModel.from_backend`` does (:func:`physical_qubit_properties`),
and a qubit without T1/T2 (fake_kingston 146) has no relaxation.

Counts, from either runner, are Qiskit's: one key per outcome, the classical
bits of all registers as one bitstring, little-endian (classical bit 0 is the
rightmost character), without the spaces Aer puts between registers.

Examples:
    >>> from qiskit import QuantumCircuit
    >>> qc = QuantumCircuit(3, 1); qc.x(2); qc.measure(2, 0)   # doctest: +ELLIPSIS
    <...>
    >>> AerRunner().run([qc], shots=10, seed=1)
    [{'1': 10}]
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, Options, QubitProperties
from qiskit.transpiler import Target

from qclone.errors import InvalidArgumentError, is_int

#: Above this many active qubits Aer's density-matrix method is replaced by matrix product states.
MAX_DENSITY_MATRIX_QUBITS = 12
METHODS = ("auto", "density_matrix", "matrix_product_state", "statevector", "stabilizer")
#: Short names accepted for the methods.
METHOD_ALIASES = {"mps": "matrix_product_state", "dm": "density_matrix", "sv": "statevector"}
#: Device noise as Aer builds it, or its Pauli twirl.
NOISES = ("device", "twirled")

Counts = dict[str, int]


class Runner(Protocol):
    """Anything that runs measured circuits and returns their counts."""

    name: str

    def run(
        self, circuits: Sequence[QuantumCircuit], *, shots: int, seed: int | None = None, order: Sequence[int] | None = None
    ) -> list[Counts]: ...


def check_shots(shots: object) -> int:
    if not is_int(shots) or shots < 1:
        raise InvalidArgumentError(f"shots must be a positive integer, got {shots!r}")
    return shots


def active_qubits(circuits: Sequence[QuantumCircuit]) -> tuple[int, ...]:
    """Qubits any instruction other than a barrier or a delay acts on (sorted)."""
    used: set[int] = set()
    for qc in circuits:
        for ins in qc.data:
            if ins.operation.name not in ("barrier", "delay"):
                used.update(qc.find_bit(q).index for q in ins.qubits)
    return tuple(sorted(used))


def ordered_active_qubits(circuits: Sequence[QuantumCircuit], order: Sequence[int] | None = None) -> tuple[int, ...]:
    """:func:`active_qubits`, those in ``order`` first and in that order (the layout path), then the rest."""
    qubits = active_qubits(circuits)
    if order is None:
        return qubits
    used = set(qubits)
    first = [q for q in order if q in used]
    chosen = set(first)
    return tuple(first + [q for q in qubits if q not in chosen])


def physical_qubit_properties(props: QubitProperties | None) -> QubitProperties | None:
    """``props`` with T2 capped at 2·T1 (the most a qubit can have; see the module docstring)."""
    if props is None or props.t1 is None or props.t2 is None or props.t2 <= 2 * props.t1:
        return props
    return QubitProperties(t1=props.t1, t2=2 * props.t1, frequency=props.frequency)


def renumber(circuit: QuantumCircuit, qubits: Sequence[int]) -> QuantumCircuit:
    """The circuit on ``len(qubits)`` wires, wire i being ``circuit``'s qubit ``qubits[i]``."""
    where = {q: i for i, q in enumerate(qubits)}
    out = QuantumCircuit(len(qubits), name=circuit.name, metadata=dict(circuit.metadata or {}))
    for creg in circuit.cregs:
        out.add_register(creg)
    for ins in circuit.data:
        idx = [circuit.find_bit(q).index for q in ins.qubits]
        if ins.operation.name == "barrier":
            idx = [where[q] for q in idx if q in where]
            if idx:
                out.barrier(idx)
            continue
        if ins.operation.name == "delay" and any(q not in where for q in idx):
            continue  # idle time of a qubit the circuits never use
        out.append(ins.operation, [where[q] for q in idx], ins.clbits)
    return out


def restricted_target(target: Target, qubits: Sequence[int]) -> Target:
    """A copy of ``target`` on ``qubits`` only (renumbered 0..k-1): same errors, durations, T1 and T2
    (T2 capped at 2·T1 by :func:`physical_qubit_properties`)."""
    where = {q: i for i, q in enumerate(qubits)}
    props = target.qubit_properties
    sub = Target(
        description=f"{target.description or 'device'} restricted to {len(qubits)} qubits",
        num_qubits=len(qubits),
        dt=target.dt,
        qubit_properties=[physical_qubit_properties(props[q]) for q in qubits] if props else None,
    )
    for name in target.operation_names:
        op = target.operation_from_name(name)
        if isinstance(op, type):  # control flow is registered as a class, not an instruction
            continue
        kept: dict[tuple[int, ...] | None, Any] = {}
        for qargs, ip in target[name].items():
            if qargs is None:
                kept[None] = ip
            elif all(q in where for q in qargs):
                kept[tuple(where[q] for q in qargs)] = ip
        if kept:
            sub.add_instruction(op, kept, name=name)
    return sub


class RestrictedBackend(BackendV2):
    """A device seen through some of its qubits (for building noise models quickly)."""

    def __init__(self, backend: BackendV2, qubits: Sequence[int]) -> None:
        super().__init__(name=f"{backend.name}[{len(qubits)} qubits]", backend_version="restricted")
        self._target = restricted_target(backend.target, qubits)
        self.qubits = tuple(qubits)

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> None:
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024)

    def run(self, run_input, **options):  # noqa: ANN001, ANN201 - only its noise model is used
        raise NotImplementedError("a restricted backend only describes noise; run through AerRunner")


def _counts_of(result, index: int) -> Counts:  # noqa: ANN001 - qiskit result types
    """Aer's counts of one circuit with the spaces between registers removed (little-endian, as Qiskit)."""
    out: Counts = {}
    for k, v in result.get_counts(index).items():
        key = k.replace(" ", "")
        out[key] = out.get(key, 0) + int(v)
    return out


@dataclass
class AerRunner:
    """Aer simulation, with a device's noise (``backend``), a custom ``noise_model``, or none.

    Args:
        backend: device whose calibrated noise is simulated (``None``: no device noise).
        noise_model: an Aer ``NoiseModel`` to use instead (qubit indices of the renumbered
            circuits, i.e. positions in :func:`active_qubits`).
        method: Aer method (or ``mps``, ``dm``), or ``auto`` (density matrix up to 12 active
            qubits, else MPS).
        noise: ``device`` (Aer's model of the device) or ``twirled`` (its Pauli twirl,
            delays included); only with ``backend``.
        max_bond_dimension: MPS bond-dimension cap (``None``: no cap, exact).
        truncation_threshold: MPS Schmidt coefficients below this are dropped (Aer's default 1e-16).
    """

    backend: BackendV2 | None = None
    noise_model: object | None = None
    method: str = "auto"
    noise: str = "device"
    max_bond_dimension: int | None = None
    truncation_threshold: float | None = None
    name: str = field(default="aer")
    #: seconds of the last :meth:`run` spent simulating (not building noise models)
    last_simulate_seconds: float | None = field(default=None, init=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.method = METHOD_ALIASES.get(self.method, self.method)
        if self.method not in METHODS:
            choices = ", ".join((*METHODS, *METHOD_ALIASES))
            raise InvalidArgumentError(f"unknown Aer method {self.method!r}; choose one of {choices}")
        if self.noise not in NOISES:
            raise InvalidArgumentError(f"unknown noise {self.noise!r}; choose one of {', '.join(NOISES)}")
        if self.backend is not None and self.noise_model is not None:
            raise InvalidArgumentError("give a device backend or a noise model, not both")
        if self.noise != "device" and self.backend is None:
            raise InvalidArgumentError(f"noise={self.noise!r} twirls a device's noise: give a backend")
        if self.max_bond_dimension is not None and (not is_int(self.max_bond_dimension) or self.max_bond_dimension < 1):
            raise InvalidArgumentError(f"the MPS bond dimension cap must be >= 1, got {self.max_bond_dimension!r}")
        if self.truncation_threshold is not None and not 0 < self.truncation_threshold < 1:
            raise InvalidArgumentError(f"the MPS truncation threshold must be in (0, 1), got {self.truncation_threshold!r}")
        if self.backend is not None:
            self.name = f"aer:{self.backend.name}" + ("" if self.noise == "device" else f":{self.noise}")

    def method_for(self, num_active: int) -> str:
        if self.method != "auto":
            return self.method
        return "density_matrix" if num_active <= MAX_DENSITY_MATRIX_QUBITS else "matrix_product_state"

    def simulator(self, qubits: tuple[int, ...]):  # noqa: ANN201 - AerSimulator
        from qiskit_aer import AerSimulator

        method = self.method_for(len(qubits))
        key = (qubits, method)
        if key not in self._cache:
            options: dict[str, Any] = {}
            if method == "matrix_product_state":
                if self.max_bond_dimension is not None:
                    options["matrix_product_state_max_bond_dimension"] = int(self.max_bond_dimension)
                if self.truncation_threshold is not None:
                    options["matrix_product_state_truncation_threshold"] = float(self.truncation_threshold)
            if self.backend is not None and self.noise == "twirled":
                from qclone.hardware.pauli_noise import twirled_noise_model

                sub = self._restricted(qubits)
                self._cache[key] = AerSimulator(method=method, noise_model=twirled_noise_model(sub), **options)
            elif self.backend is not None:
                self._cache[key] = AerSimulator.from_backend(self._restricted(qubits), method=method, **options)
            else:
                self._cache[key] = AerSimulator(method=method, noise_model=self.noise_model, **options)
        return self._cache[key]

    def _restricted(self, qubits: tuple[int, ...]) -> RestrictedBackend:
        key = ("backend", qubits)
        if key not in self._cache:
            self._cache[key] = RestrictedBackend(self.backend, qubits)
        return self._cache[key]

    def run(
        self, circuits: Sequence[QuantumCircuit], *, shots: int, seed: int | None = None, order: Sequence[int] | None = None
    ) -> list[Counts]:
        """Counts of every circuit. ``order``: preferred order of the active qubits (the layout path),
        which keeps every gate between neighbours of the matrix-product-state chain."""
        shots = check_shots(shots)
        circuits = list(circuits)
        if not circuits:
            return []
        qubits = ordered_active_qubits(circuits, order)
        small = [renumber(qc, qubits) for qc in circuits]
        sim = self.simulator(qubits)
        if self.backend is not None and self.noise == "twirled":
            from qclone.hardware.pauli_noise import twirl_delays

            small = twirl_delays(small, self._restricted(qubits).target)
        started = time.perf_counter()
        result = sim.run(small, shots=shots, seed_simulator=seed).result()
        self.last_simulate_seconds = time.perf_counter() - started
        return [_counts_of(result, i) for i in range(len(small))]


def is_fake_device(mode: object) -> bool:
    """Whether ``mode`` is one of qiskit-ibm-runtime's offline device models (a fake backend)."""
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    return isinstance(mode, FakeBackendV2)


def local_seed(seed: int) -> int:
    """The simulator seed handed to SamplerV2's local mode for ``seed``: never 0.

    qiskit-ibm-runtime's local mode drops a ``seed_simulator`` of 0 (it tests
    the value for truth), which would make seed 0 unseeded; every seed is
    therefore mapped through a fixed random draw into 1 .. 2**31 - 1.
    """
    return int(np.random.default_rng(seed).integers(1, 2**31))


@dataclass
class SamplerRunner:
    """qiskit-ibm-runtime ``SamplerV2``: a real IBM backend, or locally a fake backend / AerSimulator.

    Args:
        mode: a real backend (or a runtime ``Session``/``Batch``), a fake backend (run locally on
            the device simulator restricted to the qubits the circuits use, see the module
            docstring), or an ``AerSimulator``.
    """

    mode: object
    name: str = field(default="sampler")
    _aer: AerRunner | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = f"sampler:{getattr(self.mode, 'name', type(self.mode).__name__)}"
        if is_fake_device(self.mode):
            self._aer = AerRunner(self.mode)

    @property
    def local(self) -> bool:
        """Whether SamplerV2 runs locally (a fake backend or a simulator) rather than on IBM hardware."""
        from qiskit_aer import AerSimulator

        return is_fake_device(self.mode) or isinstance(self.mode, AerSimulator)

    def run(
        self, circuits: Sequence[QuantumCircuit], *, shots: int, seed: int | None = None, order: Sequence[int] | None = None
    ) -> list[Counts]:
        """Counts of every circuit (little-endian keys over all classical bits).

        ``order``: preferred order of the active qubits on the restricted simulator (the layout path).
        """
        from qiskit_ibm_runtime import SamplerV2

        shots = check_shots(shots)
        circuits = list(circuits)
        if not circuits:
            return []
        mode = self.mode
        if self._aer is not None:
            qubits = ordered_active_qubits(circuits, order)
            circuits = [renumber(qc, qubits) for qc in circuits]
            mode = self._aer.simulator(qubits)
        with warnings.catch_warnings():
            # qiskit-ibm-runtime 0.50 deprecates SamplerV2 for a client-side Sampler that is not yet the
            # default import; SamplerV2 is what IBM's documentation and this project's users run today
            warnings.filterwarnings("ignore", message="The SamplerV2 class is deprecated", category=DeprecationWarning)
            sampler = SamplerV2(mode=mode)
        if self.local and seed is not None:
            sampler.options.simulator.seed_simulator = local_seed(seed)
        result = sampler.run(circuits, shots=shots).result()
        return [{k: int(v) for k, v in pub.join_data().get_counts().items()} for pub in result]
