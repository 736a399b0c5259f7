"""Modules on hardware: parallel, series and interleaved compositions through the device path.

Modules and compositions are defined in :mod:`qclone.protocol.composition` (see
``docs/modules.md``). Here three of them run the way the single protocol does
in :mod:`qclone.hardware.experiment`: placed on one path of the heavy-hex
coupling map, lowered to native gates, simulated with the device's noise (or
run through SamplerV2) and measured by state tomography of the decrypted data.

Kinds (``n`` clones per module, data qubits ``I0, I1``):

* ``parallel``: two modules side by side, ``parallel_composition([1, 1], n)``,
  with the *sequential* schedule: module 1's Bell pairs and encryption, a
  barrier, module 2's; then module 1's decryption, a barrier, module 2's. The
  device runs the modules one after the other while the other one waits.
* ``interleaved``: the same two modules with ``schedule="interleaved"``: all
  Bell pairs in one wave, the two encryptions merged instruction by
  instruction, and the two decryptions merged, so the device runs them at the
  same time (the same unitary, checked in the protocol tests).
* ``series``: ``series_composition(1, n, levels)``: level 1 encrypts I0, each
  further level re-clones clone 1 of the level before; decryption unwinds the
  layers innermost first (``Composition.unwind``), so the data comes back on
  clone ``decrypt`` of the last level.

Layout: the composition's qubits sit on a window of the device's long path
(:func:`qclone.hardware.layout.long_path`, the window with the smallest summed
CZ error), in an order that keeps every module together: its input, then its
pairs (S_j, N_j), the re-cloned clone's pair last and the module that
re-clones it right after. The modules' textbook circuits are not all
nearest-neighbour (the CNOT ladder runs S_1 → S_2 → …, the decryption reaches
every key qubit), so Qiskit's level-3 pass manager routes them (SABRE) with
that layout fixed as the initial one; the final positions are read from the
transpiled circuit's layout.

Fidelity: for each cardinal state ψ every data qubit is prepared in ψ, and
tomography of the decrypted data register gives F = ⟨ψ…ψ|ρ|ψ…ψ⟩ (linear
inversion, unbiased) with a bootstrap interval, and the average fidelity of
each data qubit from the marginal of the fit (for one data qubit the two
agree). A noiseless run gives exactly 1.

Examples:
    >>> comp, enc, dec, steps = module_circuits("series", clones=2)
    >>> steps, [comp.labels[q] for q in comp.output_qubits(steps)]
    ((('m2', 1), ('m1', 1)), ['m2.S0_1'])
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import DensityMatrix, Statevector, partial_trace
from qiskit.transpiler import generate_preset_pass_manager

from qclone.errors import InvalidArgumentError, TooLargeError, is_int
from qclone.hardware.backends import Runner
from qclone.hardware.compile import CARDINAL_STATES, GateStats, cardinal_vector
from qclone.hardware.experiment import check_run_arguments, percentile_interval, prepare_for_device
from qclone.hardware.layout import coupling_adjacency, long_path
from qclone.hardware.tomography import TomographyFit, analyse, tomography_experiment
from qclone.protocol import Circuit, protocol_circuit, to_qiskit
from qclone.protocol.composition import Composition, DecryptionState, interleave, parallel_composition, remap, series_composition
from qclone.protocol.layout import check_clones

MODULE_KINDS: tuple[str, ...] = ("parallel", "series", "interleaved")


def check_kind(kind: object) -> str:
    if kind not in MODULE_KINDS:
        raise InvalidArgumentError(f"unknown module kind {kind!r}; choose one of {', '.join(MODULE_KINDS)}")
    return str(kind)


def composition_of(kind: str, clones: int, levels: int = 2) -> Composition:
    """The composition a kind runs (see the module doc)."""
    kind, n = check_kind(kind), check_clones(clones)
    if kind == "series":
        if not is_int(levels) or levels < 2:
            raise InvalidArgumentError(f"a series needs at least 2 levels, got {levels!r}")
        return series_composition(1, n, levels)
    return parallel_composition([1, 1], n)


def _steps(comp: Composition, kind: str, decrypt: int) -> tuple[tuple[str, int], ...]:
    if kind == "series":
        return tuple(comp.unwind(comp.modules[-1].name, decrypt))  # type: ignore[arg-type]  # a clone number, never 'A', in a series
    return tuple((m.name, decrypt) for m in comp.modules)


def module_circuits(
    kind: str, clones: int, *, levels: int = 2, decrypt: int = 1
) -> tuple[Composition, list[Circuit], list[Circuit], tuple[tuple[str, int], ...]]:
    """The composition, its encryption stages, its decryption stages and the decryption steps.

    Stages are run with a barrier between them: one per module for ``parallel`` and
    ``series`` (module after module), one for all modules for ``interleaved``.
    """
    comp = composition_of(kind, clones, levels)
    n = comp.modules[-1].clones
    if not is_int(decrypt) or not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    steps = _steps(comp, kind, decrypt)
    state = DecryptionState.start(comp)
    dec: list[Circuit] = []
    for name, target in steps:
        state, c = state.step(name, target)
        dec.append(c)
    if kind == "interleaved":
        return comp, [comp.encryption_circuit(schedule="interleaved")], [interleave(dec)], steps
    enc = [remap(protocol_circuit(m.layout), comp.mapping(m.name), comp.registers) for m in comp.modules]
    return comp, enc, dec, steps


def path_order(comp: Composition) -> list[int]:
    """Composition qubits in path order: each module's input, its pairs, its re-cloned pair last,
    then the module that re-clones it."""
    children: dict[int, str] = {}
    for m in comp.modules:
        for lab in m.inputs:
            children[comp.index_of(lab)] = m.name
    order: list[int] = []

    def place_module(name: str) -> None:
        m = comp.module(name)
        lay = m.layout
        base = comp.mapping(name)
        pairs = []
        for j in range(1, m.clones + 1):
            for i in range(m.qubits):
                s = int(base[lay.index_of(f"S{i}_{j}")])
                k = int(base[lay.index_of(f"N{i}_{j}")])
                pairs.append((s, k))
        pairs.sort(key=lambda p: p[0] in children)  # the re-cloned clone last (stable otherwise)
        for s, k in pairs:
            order.append(s)
            if s in children:
                place_module(children[s])
            order.append(k)

    for m in comp.modules:
        if not comp.parents(m.name):
            order += [int(q) for q in comp.mapping(m.name)[: m.qubits]]  # the module's data qubits
            place_module(m.name)
    missing = [q for q in range(comp.num_qubits) if q not in set(order)]
    return order + missing


def _window(backend: BackendV2, length: int) -> tuple[int, ...]:
    path = long_path(coupling_adjacency(backend))
    if length > len(path):
        raise TooLargeError(f"the composition needs {length} qubits on a path; the device's longest path has {len(path)}")
    target = backend.target
    two_q = next((g for g in ("cz", "ecr", "cx") if g in target.operation_names), None)

    def score(w: tuple[int, ...]) -> float:
        total = 0.0
        for a, b in zip(w, w[1:]):
            props = (target[two_q].get((a, b)) or target[two_q].get((b, a))) if two_q else None
            total += (props.error or 0.0) if props is not None else 0.0
        return total

    windows = [tuple(path[i : i + length]) for i in range(len(path) - length + 1)]
    return min(windows, key=lambda w: (score(w), w))


@dataclass(frozen=True)
class CompiledModules:
    """A composition on the device, in native gates.

    Attributes:
        kind: parallel, series or interleaved.
        composition: the logical composition.
        steps: the decryption steps run.
        circuit: the ISA circuit (full device width, no measurements).
        initial_physical: physical qubit of every composition qubit before any gate.
        output_physical: physical qubits holding the decrypted data register at the end.
        path: the physical qubits in use, in layout order (the MPS order).
        stats: two-qubit gates and depths.
    """

    kind: str
    composition: Composition
    steps: tuple[tuple[str, int], ...]
    circuit: QuantumCircuit
    initial_physical: tuple[int, ...]
    output_physical: tuple[int, ...]
    path: tuple[int, ...]
    stats: GateStats


def _prepare(qc: QuantumCircuit, input: str | None, qubits: Sequence[int]) -> None:
    if input is None:
        return
    for q in qubits:
        for gate in CARDINAL_STATES[input][0]:
            getattr(qc, gate)(q)


def compile_modules(
    backend: BackendV2, kind: str, clones: int, *, levels: int = 2, decrypt: int = 1, input: str | None = None, seed: int | None = 0
) -> CompiledModules:
    """Place, route and lower a composition for ``backend``; ``input`` is a cardinal state on every data qubit."""
    if input is not None and input not in CARDINAL_STATES:
        raise InvalidArgumentError(f"unknown input {input!r}; choose one of {', '.join(CARDINAL_STATES)}")
    comp, enc, dec, steps = module_circuits(kind, clones, levels=levels, decrypt=decrypt)
    order = path_order(comp)
    window = _window(backend, len(order))
    initial = [0] * comp.num_qubits
    for pos, q in enumerate(order):
        initial[q] = window[pos]
    qc = QuantumCircuit(comp.num_qubits, name=f"{kind}_modules_n{clones}")
    _prepare(qc, input, comp.data_qubits)
    qc.barrier()
    for stage in enc + dec:
        qc.compose(to_qiskit(stage), qubits=list(range(comp.num_qubits)), inplace=True)
        qc.barrier()
    encrypt_stages = ["encryption"] if kind == "interleaved" else [f"encryption {m.name}" for m in comp.modules]
    decrypt_stages = ["decryption"] if kind == "interleaved" else [f"decryption {name} {target}" for name, target in steps]
    qc.metadata = {
        "kind": kind, "n": clones, "k": len(comp.data_qubits), "levels": len(comp.modules) if kind == "series" else 1,
        "decrypt": decrypt, "depth": "linear",
        "stages": encrypt_stages + decrypt_stages, "input": input, "device": getattr(backend, "name", "device"),
    }  # fmt: skip
    pm = generate_preset_pass_manager(optimization_level=3, backend=backend, initial_layout=initial, seed_transpiler=seed)
    isa = pm.run(qc)
    final = isa.layout.final_index_layout()  # virtual qubit -> physical qubit at the end
    placed = isa.layout.initial_index_layout()
    if [placed[q] for q in range(comp.num_qubits)] != initial:
        raise RuntimeError("the transpiler moved the initial layout")  # pragma: no cover - a Qiskit change
    outputs = tuple(int(final[q]) for q in comp.output_qubits(steps))
    return CompiledModules(kind, comp, steps, isa, tuple(initial), outputs, tuple(window), GateStats.of(isa))


@dataclass(frozen=True)
class ModuleResult:
    """Fidelities of one composition run (JSON-ready with :meth:`to_dict`)."""

    backend: str
    runner: str
    kind: str
    clones: int
    levels: int
    decrypt: int
    data_qubits: int
    qubits: int
    shots: int
    fidelity: float
    ci_low: float
    ci_high: float
    confidence: float
    qubit_fidelities: tuple[float, ...]
    state_fidelities: dict[str, float]
    two_qubit_gates: int
    depth: int
    two_qubit_depth: int
    physical_qubits: tuple[int, ...]
    seconds: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["physical_qubits"] = list(self.physical_qubits)
        d["qubit_fidelities"] = list(self.qubit_fidelities)
        return d


def _marginal_fidelities(fit: TomographyFit, psi: np.ndarray, k: int) -> list[float]:
    rho = DensityMatrix(fit.state)
    out = []
    for i in range(k):  # measured qubit i is qiskit qubit i of the fit
        keep = partial_trace(rho, [j for j in range(k) if j != i]) if k > 1 else rho
        out.append(float(np.real(np.vdot(psi, keep.data @ psi))))
    return out


def measure_modules(
    backend: BackendV2,
    kind: str,
    clones: int,
    *,
    shots: int,
    runner: Runner,
    levels: int = 2,
    decrypt: int = 1,
    inputs: Sequence[str] = tuple(CARDINAL_STATES),
    bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int | None = 0,
    idle_noise: bool = True,
    name: str | None = None,
) -> ModuleResult:
    """Fidelity of the decrypted data of a composition on ``backend``, from counts (see the module doc)."""
    confidence, inputs = check_run_arguments(shots, confidence, bootstrap, inputs)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    experiments, batches, compiled = [], [], []
    for label in inputs:
        comp = compile_modules(backend, kind, clones, levels=levels, decrypt=decrypt, input=label, seed=0)
        k = len(comp.output_physical)
        psi = cardinal_vector(label)
        target = psi
        for _ in range(k - 1):
            target = np.kron(psi, target)
        exp = tomography_experiment(comp.circuit, list(comp.output_physical), Statevector(target))
        experiments.append(exp)
        batches.append(prepare_for_device(backend, exp.circuits(), idle_noise))
        compiled.append(comp)
    flat = [qc for batch in batches for qc in batch]
    counts = runner.run(flat, shots=shots, seed=seed, order=compiled[0].path)
    fits, pos = [], 0
    for exp, batch in zip(experiments, batches):
        fits.append(analyse(exp, batch, counts[pos : pos + len(batch)], bootstrap=bootstrap, seed=int(rng.integers(2**31))))
        pos += len(batch)
    samples = np.array([f.bootstrap for f in fits])
    rounds = min(len(s) for s in samples)
    lo, hi = percentile_interval(samples[:, :rounds].mean(axis=0), confidence)
    k = len(compiled[0].output_physical)
    per_qubit = np.mean([_marginal_fidelities(f, cardinal_vector(lab), k) for f, lab in zip(fits, inputs)], axis=0)
    ref = compiled[0]
    return ModuleResult(
        backend=str(name or getattr(backend, "name", "device")),
        runner=runner.name,
        kind=ref.kind,
        clones=clones,
        levels=len(ref.composition.modules) if kind == "series" else 1,
        decrypt=decrypt,
        data_qubits=ref.composition.inputs,
        qubits=ref.composition.num_qubits,
        shots=shots,
        fidelity=float(np.mean([f.fidelity for f in fits])),
        ci_low=lo,
        ci_high=hi,
        confidence=confidence,
        qubit_fidelities=tuple(float(x) for x in per_qubit),
        state_fidelities={label: f.fidelity for label, f in zip(inputs, fits)},
        two_qubit_gates=ref.stats.two_qubit_gates,
        depth=ref.stats.depth,
        two_qubit_depth=ref.stats.two_qubit_depth,
        physical_qubits=ref.path,
        seconds=time.perf_counter() - start,
    )
