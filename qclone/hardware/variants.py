"""Variants of the heavy-hex schedule: the same protocol with fewer sequential steps.

Every variant is the protocol of :mod:`qclone.hardware.schedule` (R, A, then the
pairs along one path of the coupling map, the decrypted pair last) with a
different gate schedule, and is checked exact the same way
(:func:`qclone.hardware.check.check_schedule`: the dense engine for n ≤ 5,
stim tableaux above). Names are stable:

* ``today``: the schedule of :mod:`qclone.hardware.schedule` as it is (for comparison).
* ``middle-out``: the encryption starts in the middle of the path and copies the
  two branch bits towards both ends at once, so it takes about half the
  sequential steps (2q depth ≈ n instead of ≈ 2n) with the same number of
  gates; the decryption is today's walk. Details in :func:`middle_out_encryption`.
* ``dynamic``: the decrypted pair in the middle of the path; computational-basis
  copies of its two controls walk the key on one side while the pair walks the
  other, and two mid-circuit X measurements with feed-forward (``if_test``) undo
  the copies: the decryption's walk is half as long. The encryption is seeded at
  the decrypted pair and copied both ways (middle-out). n ≥ 3; for n ≤ 2 the
  variant is today's schedule. See :mod:`qclone.hardware.dynamic`.
* ``tree``: a comb instead of a path: the key qubits on one path of the lattice (the
  spine), every other clone on a branch off it, so the decrypted pair walks key
  qubits only (4 CNOTs per key instead of 10 per pair); the encryption makes the
  Bell pairs along the branches and walks the spine once. n ≥ 2 (n = 1 is
  today's). See :mod:`qclone.hardware.tree`.

:func:`variant_schedule` gives the slot schedule, :func:`compile_variant` the
native-gate circuit on a backend (the same lowering as
:func:`~qclone.hardware.compile.compile_protocol`: Qiskit's level-3 pass manager
with the layout fixed and routing off), :func:`variant_circuit` just the circuit.

Examples:
    >>> from qclone.hardware.check import check_schedule
    >>> check_schedule(variant_schedule("middle-out", None, 4, decrypt=2)).passed
    True
    >>> variant_schedule("middle-out", None, 30).encryption.two_qubit_depth < protocol_schedule(30).encryption.two_qubit_depth
    True
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import stim
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2

from qclone.errors import InvalidArgumentError, is_int
from qclone.hardware.check import ScheduleCheck, check_schedule
from qclone.hardware.compile import FinalQubits, GateStats, device_circuit, preset_pass_manager
from qclone.hardware.dynamic import (
    DEFAULT_LATENCY,
    MIN_DYNAMIC_CLONES,
    DynamicCheck,
    DynamicLayout,
    DynamicSchedule,
    check_dynamic,
    dynamic_device_circuit,
    dynamic_duration,
    dynamic_layout,
    dynamic_schedule,
    measurement_duration,
    schedule_dynamic,
)
from qclone.hardware.layout import DeviceLayout, device_layout, max_clones
from qclone.hardware.schedule import SLOT_REGISTER, Schedule, protocol_schedule
from qclone.hardware.tree import TreeLayout, max_tree_clones, tree_layout, tree_schedule
from qclone.protocol import Circuit
from qclone.protocol.layout import check_clones

#: Variant names (stable).
VARIANTS: tuple[str, ...] = ("today", "middle-out", "dynamic", "tree")
#: Variants whose circuits contain mid-circuit measurements and feed-forward.
DYNAMIC_VARIANTS: tuple[str, ...] = ("dynamic",)


def check_variant(name: object) -> str:
    if name not in VARIANTS:
        raise InvalidArgumentError(f"unknown schedule variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return str(name)


def middle_out_encryption(clones: int) -> Circuit:
    """Bell pairs + U_enc on the slots of a path (R = 0, A = 1, pairs from slot 2), from the middle out.

    The same isometry as :func:`~qclone.hardware.schedule.encryption_schedule` (the B-frame picture of
    that docstring): before the last layer B = CX(S→N)·H(S) on every pair, pair k holds the computational
    bits (a, b) of the branch, the same on every pair, and A holds X^b Z^a applied to the input.

    1. a pair near the middle of the path (a little towards A, whose gates come after the chain) gets two
       fresh bits, H on both: (a, b);
    2. the bits are copied outwards in both directions at once, each direction with the
       difference trick of the linear schedule (c = a ⊕ b copied onto fresh qubits, then a prefix-sum
       CNOT ladder): two CNOTs per slot, about one layer per slot, so ≈ n layers in all;
    3. the first pair (slots 2, 3, next to A) applies X^b (as X^a · X^(a⊕b), four CNOTs) and Z^a to A;
       S† on both its qubits and (even n) a CZ between them give each branch its phase;
    4. B on every pair.

    n = 1 is the textbook circuit (as in the linear schedule).
    """
    n = check_clones(clones)
    if n == 1:
        return protocol_schedule(1).encryption
    m = 2 * n + 2
    last = m - 1
    c = Circuit(((SLOT_REGISTER, m),))
    # S slot of the seed pair: the left chain ends with the constant-depth work on A, so it is the shorter
    u = 2 + 2 * max(0, (n - 4) // 2)
    c = c.append("H", [u, u + 1])
    right: list[list[int]] = []
    if u + 1 < last:
        right.append([u, u + 1])  # slot u + 1 holds c
        for i in range(u + 1, last):
            right += [[i, i + 1], [i - 1, i]]  # copy c one further; slot i becomes its bit
        right.append([last - 1, last])
    left: list[list[int]] = []
    if u > 2:
        left.append([u + 1, u])  # the mirror image: slot u holds c
        for i in range(u, 2, -1):
            left += [[i, i - 1], [i + 1, i]]
        left.append([3, 2])
    # the right chain leaves the seed after three gates; then both chains advance together
    order, r = right[:3], right[3:]
    while r or left:
        order += r[:2] + left[:2]
        r, left = r[2:], left[2:]
    for targets in order:
        c = c.append("CX", targets)
    a = 1
    c = c.append("CX", [2, a]).append("CX", [3, 2]).append("CX", [2, a]).append("CX", [3, 2]).append("CZ", [2, a])
    c = c.append("S_DAG", [2, 3])
    if n % 2 == 0:
        c = c.append("CZ", [2, 3])
    signals = list(range(2, last, 2))
    return c.append("H", signals).append("CX", [q for s in signals for q in (s, s + 1)])


def variant_max_clones(name: str, backend: BackendV2) -> int:
    """The largest n :func:`~qclone.hardware.predict.largest_clones` searches for a variant: ``tree``,
    :func:`~qclone.hardware.tree.max_tree_clones`; the others, the device's path
    (:func:`~qclone.hardware.layout.max_clones`)."""
    return max_tree_clones(backend) if check_variant(name) == "tree" else max_clones(backend)


def _pair_order(backend: BackendV2 | None, clones: int, decrypt: int) -> tuple[int, ...]:
    if backend is not None:
        return device_layout(backend, clones, decrypt).pair_order
    return tuple(k for k in range(1, clones + 1) if k != decrypt) + (decrypt,)


def uses_dynamic(name: str, clones: int) -> bool:
    """Whether the variant's circuit for n clones has mid-circuit measurements (``dynamic``, n ≥ 3)."""
    return check_variant(name) in DYNAMIC_VARIANTS and check_clones(clones) >= MIN_DYNAMIC_CLONES


def variant_schedule(name: str, backend: BackendV2 | None, clones: int, decrypt: int = 1) -> Schedule | DynamicSchedule:
    """The slot schedule of a variant (pairs in the order the backend's layout puts them; without a
    backend, 1..n with ``decrypt`` last). A :class:`Schedule` is checked by
    :func:`~qclone.hardware.check.check_schedule`, a :class:`DynamicSchedule` by
    :func:`~qclone.hardware.dynamic.check_dynamic`; :func:`check_variant_schedule` takes both."""
    name = check_variant(name)
    n = check_clones(clones)
    if not is_int(decrypt) or not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    if uses_dynamic(name, n):
        return dynamic_schedule(n, decrypt)
    if name == "tree":
        if backend is None:
            return tree_schedule(n, decrypt)
        tree = tree_layout(backend, n, decrypt)
        return tree_schedule(n, decrypt, tree.pair_order, tree.branches)
    base = protocol_schedule(n, pair_order=_pair_order(backend, n, decrypt))
    if name == "middle-out":
        return replace(base, encryption=middle_out_encryption(n))
    return base


def check_variant_schedule(schedule: Schedule | DynamicSchedule, *, method: str = "auto") -> ScheduleCheck | DynamicCheck:
    """:func:`~qclone.hardware.check.check_schedule` or :func:`~qclone.hardware.dynamic.check_dynamic`."""
    if isinstance(schedule, DynamicSchedule):
        return check_dynamic(schedule, method=method)
    return check_schedule(schedule, method=method)


@dataclass(frozen=True)
class CompiledVariant(FinalQubits):
    """A variant in native gates on one device (the attributes of
    :class:`~qclone.hardware.compile.CompiledProtocol`, plus the variant's name, whether it is a
    dynamic circuit, and its duration on the device in seconds)."""

    variant: str
    circuit: QuantumCircuit
    layout: DeviceLayout | DynamicLayout
    schedule: Schedule | DynamicSchedule
    final_physical: Mapping[str, int]
    stats: GateStats
    duration: float
    dynamic: bool



def default_latency(backend: BackendV2) -> float:
    """The feed-forward latency assumed for a device that states none: :data:`DEFAULT_LATENCY` times
    its measurement duration (seconds; 1.56 µs on FakeFez and FakeTorino)."""
    return DEFAULT_LATENCY * measurement_duration(backend)


def compile_variant(
    name: str,
    backend: BackendV2,
    clones: int,
    decrypt: int = 1,
    *,
    input: str | None = "bell",
    seed: int | None = 0,
    latency: float | None = None,
    optimization_level: int | None = None,
    layout: TreeLayout | None = None,
) -> CompiledVariant:
    """A variant placed on the device and lowered to native gates (layout fixed, no routing).

    ``latency``: the feed-forward wait of a dynamic variant in seconds (default :func:`default_latency`).
    ``optimization_level``: of Qiskit's preset pass manager (3, as :mod:`~qclone.hardware.compile`; 1
    keeps every one-qubit run a Clifford, which :func:`stim_estimate` needs when level 3's two-qubit
    resynthesis leaves non-Clifford runs it cannot merge). Default: 3, but 1 for ``tree``, whose
    two-qubit blocks level 3 resynthesises into non-Clifford one-qubit pieces the stim models cannot
    take, for the same two-qubit gates (93 at n = 9 on FakeFez at both levels).
    ``layout``: for ``tree``, this placement of the comb instead of :func:`~qclone.hardware.tree.tree_layout`'s.
    """
    name = check_variant(name)
    if optimization_level is None:
        optimization_level = 1 if name == "tree" else 3
    if layout is not None and (name != "tree" or layout.clones != clones or layout.decrypt != decrypt):
        raise InvalidArgumentError("a layout is given for the tree variant only, with its n and decrypted clone")
    schedule = variant_schedule(name, None, clones, decrypt)
    placed: DeviceLayout | DynamicLayout
    if isinstance(schedule, DynamicSchedule):
        wait = default_latency(backend) if latency is None else float(latency)
        if not wait >= 0:
            raise InvalidArgumentError(f"the feed-forward latency must be >= 0 seconds, got {latency!r}")
        placed = dynamic_layout(backend, clones, decrypt)
        qc = dynamic_device_circuit(schedule, placed, backend.num_qubits, input=input, latency=wait)
    else:
        if layout is not None and clones > 1:
            placed = layout
            static: Schedule | DynamicSchedule = tree_schedule(clones, decrypt, layout.pair_order, layout.branches)
        else:
            placed = tree_layout(backend, clones, decrypt) if name == "tree" else device_layout(backend, clones, decrypt)
            static = variant_schedule(name, backend, clones, decrypt)
        if not isinstance(static, Schedule):  # pragma: no cover - only dynamic variants give a DynamicSchedule
            raise InvalidArgumentError(f"variant {name!r} has no static schedule")
        schedule = static
        qc = device_circuit(schedule, placed, backend.num_qubits, input=input)
    final = {label: placed.path[slot] for label, slot in schedule.final_slots.items()}
    qc.metadata = {**(qc.metadata or {}), "variant": name, "clone_qubit": final[f"S{decrypt}"], "reference_qubit": final["R"]}
    if optimization_level == 3:
        isa = preset_pass_manager(backend, seed=seed, fixed_layout=True).run(qc)
    else:
        from qiskit.transpiler import generate_preset_pass_manager

        isa = generate_preset_pass_manager(optimization_level=optimization_level, backend=backend,
                                           initial_layout=list(range(backend.num_qubits)), routing_method="none",
                                           seed_transpiler=seed).run(qc)
    dynamic = isinstance(schedule, DynamicSchedule)
    duration = dynamic_duration(isa, backend) if dynamic else float(isa.estimate_duration(backend.target, unit="s"))
    return CompiledVariant(variant=name, circuit=isa, layout=placed, schedule=schedule, final_physical=final,
                           stats=GateStats.of(isa), duration=duration, dynamic=dynamic)


def variant_circuit(
    name: str,
    backend: BackendV2,
    clones: int,
    decrypt: int = 1,
    *,
    input: str | None = "bell",
    seed: int | None = 0,
    latency: float | None = None,
) -> QuantumCircuit:
    """The device-ready (ISA) circuit of a variant; ``metadata`` names where R, A, S_k, N_k start
    (``initial_physical``) and end (``final_physical``), the ``clone_qubit`` and ``reference_qubit``.
    Dynamic variants carry a two-bit classical register ``ff`` (the mid-circuit measurements) and
    ``if_else`` blocks: schedule them with :func:`~qclone.hardware.dynamic.schedule_dynamic`."""
    return compile_variant(name, backend, clones, decrypt, input=input, seed=seed, latency=latency).circuit


# --- a quick stim estimate of the decrypted clone's fidelity under the device's errors --------------


def _gate_error(backend: BackendV2, name: str, qubits: tuple[int, ...]) -> float:
    props = backend.target[name].get(qubits) if name in backend.target.operation_names else None
    if props is None and len(qubits) == 2 and name in backend.target.operation_names:
        props = backend.target[name].get(qubits[::-1])
    return float(props.error or 0.0) if props is not None else 0.0


def _relaxation(backend: BackendV2, qubit: int, seconds: float) -> tuple[float, float, float]:
    """Pauli-twirled relaxation of an idle window: p_X = p_Y = (1 − e^(−t/T1))/4,
    p_Z = (1 − e^(−t/T2))/2 − p_X, with T2 capped at 2·T1 (as Aer's device noise does)."""
    props = backend.target.qubit_properties[qubit] if backend.target.qubit_properties else None
    t1 = getattr(props, "t1", None)
    t2 = getattr(props, "t2", None)
    if not t1 or not t2 or seconds <= 0:
        return 0.0, 0.0, 0.0
    t2 = min(t2, 2 * t1)
    px = (1 - np.exp(-seconds / t1)) / 4
    pz = max(0.0, (1 - np.exp(-seconds / t2)) / 2 - px)
    return float(px), float(px), float(pz)


_CZ = np.diag([1, 1, 1, -1]).astype(complex)


class _StimWriter:
    """Native gates in, stim out: runs of one-qubit gates are merged into one Clifford; a run that is
    not a Clifford on its own (Qiskit's two-qubit resynthesis leaves such runs between CZs) is merged
    with the CZ after it into a two-qubit block, closed when the block is a Clifford again. Noise of
    the gates and idle windows inside a run or block is emitted right after it."""

    def __init__(self, out: stim.Circuit, num_qubits: int) -> None:
        self.out = out
        self.run = [np.eye(2, dtype=complex) for _ in range(num_qubits)]
        self.noise: list[list[tuple[str, tuple[int, ...], object]]] = [[] for _ in range(num_qubits)]
        # qubit -> [(a, b), core (4x4, a least significant, up to the last CZ), noise, [tail a, tail b]]
        self.block: dict[int, list] = {}

    @staticmethod
    def _clifford(matrix: np.ndarray) -> stim.Circuit | None:
        """The Clifford ``matrix`` is (up to a global phase) as stim gates, or ``None`` if it is none
        (stim's conversion is checked back: it does not reject every non-Clifford matrix itself)."""
        try:
            tableau = stim.Tableau.from_unitary_matrix(matrix, endian="little")
        except ValueError:
            return None
        back = tableau.to_unitary_matrix(endian="little")
        k = int(np.argmax(np.abs(matrix)))
        if abs(back.flat[k]) < 1e-9 or not np.allclose(back * (matrix.flat[k] / back.flat[k]), matrix, atol=1e-7):
            return None
        return tableau.to_circuit(method="elimination")

    def _emit(self, gates: stim.Circuit, qubits: tuple[int, ...]) -> None:
        for ins in gates:
            self.out.append(ins.name, [qubits[t.value] for t in ins.targets_copy()])

    def _emit_noise(self, noise: list) -> None:
        for name, qs, arg in noise:
            self.out.append(name, list(qs), arg)

    def one(self, q: int, matrix: np.ndarray, noise: list) -> None:
        if q in self.block:
            entry = self.block[q]
            side = 0 if q == entry[0][0] else 1
            entry[3][side] = matrix @ entry[3][side]  # the block's tail on q (after its last CZ)
            entry[2] += noise
        else:
            self.run[q] = matrix @ self.run[q]
            self.noise[q] += noise

    def flush(self, q: int, *, strict: bool = True) -> bool:
        if q in self.block:
            return self.close(q, strict=strict)
        gates = self._clifford(self.run[q])
        if gates is None:
            if strict:
                raise InvalidArgumentError("a run of one-qubit gates is not a Clifford")
            return False
        self._emit(gates, (q,))
        self._emit_noise(self.noise[q])
        self.run[q] = np.eye(2, dtype=complex)
        self.noise[q] = []
        return True

    def close(self, q: int, *, strict: bool = True) -> bool:
        """Emit the block holding ``q``: with both tails if that is a Clifford, else with fewer (a tail
        left out goes back to its qubit's run: it may start the next block)."""
        (a, b), core, nl, tails = self.block[q]
        eye = np.eye(2, dtype=complex)
        for keep_a, keep_b in ((True, True), (True, False), (False, True), (False, False)):
            ta, tb = (tails[0] if keep_a else eye), (tails[1] if keep_b else eye)
            gates = self._clifford(np.kron(tb, ta) @ core)
            if gates is not None:
                break
        else:
            if strict:
                raise InvalidArgumentError("a two-qubit block of native gates is not a Clifford")
            return False
        self._emit(gates, (a, b))
        self._emit_noise(nl)
        del self.block[a], self.block[b]
        self.run[a] = eye if keep_a else tails[0]
        self.run[b] = eye if keep_b else tails[1]
        return True

    def cz(self, a: int, b: int, noise: list) -> None:
        if a in self.block and self.block[a] is self.block.get(b):
            entry = self.block[a]
            entry[1] = _CZ @ np.kron(entry[3][1], entry[3][0]) @ entry[1]
            entry[3] = [np.eye(2, dtype=complex), np.eye(2, dtype=complex)]
            entry[2] += noise
            return
        for q in (a, b):
            if q in self.block:
                self.close(q)
        if self.flush(a, strict=False) & self.flush(b, strict=False):
            self.out.append("CZ", [a, b])
            self._emit_noise(noise)
            return
        # a run is not a Clifford alone: open a block with this CZ (a flushed run is the identity now)
        core = _CZ @ np.kron(self.run[b], self.run[a])
        entry = [(a, b), core, self.noise[a] + self.noise[b] + noise, [np.eye(2, dtype=complex), np.eye(2, dtype=complex)]]
        self.run[a] = np.eye(2, dtype=complex)
        self.run[b] = np.eye(2, dtype=complex)
        self.noise[a], self.noise[b] = [], []
        self.block[a] = self.block[b] = entry

    def idle(self, q: int, noise: list) -> None:
        if q in self.block:
            self.block[q][2] += noise
        else:
            self.noise[q] += noise

    def finish(self) -> None:
        for q in range(len(self.run)):
            if q in self.block:
                self.close(q)
        for q in range(len(self.run)):
            self.flush(q)


def isa_to_stim(circuit: QuantumCircuit, wires: Sequence[int], backend: BackendV2 | None = None) -> stim.Circuit:
    """A native-gate Clifford circuit (rz, sx, x, cz, measure, delay, barrier, and ``if_else`` blocks
    holding a Z) as a stim circuit on ``wires`` (physical qubit ``wires[i]`` → stim qubit i).

    With a ``backend``, its errors are added: a depolarizing channel after every gate with the
    Target's error as its average infidelity (2q: 5/4 of it, 1q: 3/2 of it, as process infidelity), a
    bit flip of the Target's readout error before every measurement, and the twirled relaxation of
    every ``delay`` (:func:`_relaxation`). One-qubit runs are merged (see :class:`_StimWriter`).
    Raises ``InvalidArgumentError`` for a gate outside that set or a non-Clifford circuit.
    """
    from qiskit.quantum_info import Operator

    index = {q: i for i, q in enumerate(wires)}
    out = stim.Circuit()
    w = _StimWriter(out, len(wires))
    clbits: list[int] = []  # clbit of each measurement, in record order

    def phys(qc_qubit) -> int:  # noqa: ANN001 - a qiskit Qubit
        p = circuit.find_bit(qc_qubit).index
        if p not in index:
            raise InvalidArgumentError(f"the circuit acts on qubit {p} outside its wires")
        return index[p]

    for ins in circuit.data:
        name = ins.operation.name
        if name == "barrier" or (name == "delay" and circuit.find_bit(ins.qubits[0]).index not in index):
            continue  # idle qubits outside the wires do not matter
        qs = [phys(q) for q in ins.qubits]
        if name in ("rz", "sx", "x", "id"):
            noise: list = []
            if backend is not None and name in ("sx", "x"):
                p = _gate_error(backend, name, (wires[qs[0]],))
                if p > 0:
                    noise.append(("DEPOLARIZE1", (qs[0],), min(0.75, 1.5 * p)))
            w.one(qs[0], Operator(ins.operation).data, noise)
        elif name == "cz":
            noise = []
            if backend is not None:
                p = _gate_error(backend, "cz", (wires[qs[0]], wires[qs[1]]))
                if p > 0:
                    noise.append(("DEPOLARIZE2", (qs[0], qs[1]), min(15 / 16, 1.25 * p)))
            w.cz(qs[0], qs[1], noise)
        elif name == "delay":
            if ins.operation.unit not in ("dt", "s"):
                raise InvalidArgumentError(f"delay in unit {ins.operation.unit!r}; schedule the circuit first")
            if backend is not None:
                seconds = float(ins.operation.duration) * (backend.target.dt if ins.operation.unit == "dt" else 1.0)
                px, py, pz = _relaxation(backend, wires[qs[0]], seconds)
                if px + py + pz > 0:
                    w.idle(qs[0], [("PAULI_CHANNEL_1", (qs[0],), [px, py, pz])])
        elif name == "measure":
            w.flush(qs[0])
            if backend is not None:
                out.append("X_ERROR", qs, _gate_error(backend, "measure", (wires[qs[0]],)))
            out.append("M", qs)
            clbits.append(circuit.find_bit(ins.clbits[0]).index)
        elif name == "if_else":
            bit, value = ins.operation.condition
            body = ins.operation.blocks[0]
            if len(ins.operation.blocks) > 1 and ins.operation.blocks[1] is not None and len(ins.operation.blocks[1].data):
                raise InvalidArgumentError("only if-blocks without else are converted")
            k = circuit.find_bit(bit).index
            if k not in clbits:
                raise InvalidArgumentError("a condition on a bit not measured before")
            last = max(i for i, c in enumerate(clbits) if c == k)
            rec = stim.target_rec(-(len(clbits) - last))
            for sub in body.data:
                angle = float(sub.operation.params[0]) if sub.operation.name == "rz" else None
                if sub.operation.name not in ("rz", "z") or (angle is not None and not np.isclose(abs(angle), np.pi)):
                    raise InvalidArgumentError("only Z corrections are converted from if-blocks")
                target = qs[body.find_bit(sub.qubits[0]).index]
                w.flush(target)
                if bool(value):
                    out.append("CZ", [rec, target])
                else:
                    out.append("Z", [target])
                    out.append("CZ", [rec, target])
        else:
            raise InvalidArgumentError(f"gate {name!r} has no stim form here")
    w.finish()
    return out


@dataclass(frozen=True)
class StimEstimate:
    """Average fidelity of the decrypted clone under the device's errors, from stim shots."""

    variant: str
    clones: int
    shots: int
    process_fidelity: float
    average_fidelity: float
    ci_low: float
    ci_high: float
    seconds: float
    optimization_level: int


def scheduled(compiled: CompiledVariant, backend: BackendV2) -> QuantumCircuit:
    """The compiled circuit scheduled as late as possible with explicit delays (idle windows)."""
    from qiskit.transpiler import PassManager
    from qiskit.transpiler.passes import ALAPScheduleAnalysis, PadDelay

    if compiled.dynamic:
        return schedule_dynamic([compiled.circuit], backend)[0]
    pm = PassManager([ALAPScheduleAnalysis(target=backend.target), PadDelay(target=backend.target)])
    return pm.run(compiled.circuit)


def stim_estimate(compiled: CompiledVariant, backend: BackendV2, *, shots: int = 100_000, seed: int = 0,
                  confidence: float = 0.95) -> StimEstimate:
    """Average fidelity of a variant compiled with ``input="bell"``: the scheduled native-gate circuit
    in stim with the device's gate, readout and idle errors (:func:`isa_to_stim`), then a noiseless Bell
    measurement of (R, decrypted clone). The Pauli-twirled output channel's process fidelity is the
    share of shots in |Φ+⟩; the average fidelity is (2 F_pro + 1)/3, with a normal interval."""
    from statistics import NormalDist

    if compiled.circuit.metadata.get("input") != "bell":
        raise InvalidArgumentError("the estimate needs a variant compiled with input='bell'")
    start = time.perf_counter()
    wires = tuple(compiled.layout.path)
    try:
        circ = isa_to_stim(scheduled(compiled, backend), wires, backend)
        level = 3
    except InvalidArgumentError:  # level 3 resynthesised a block into non-Clifford pieces: lower at level 1
        again = compile_variant(compiled.variant, backend, compiled.schedule.clones, compiled.schedule.decrypt,
                                input="bell", latency=compiled.circuit.metadata.get("feedforward_latency_s"),
                                optimization_level=1)
        circ = isa_to_stim(scheduled(again, backend), wires, backend)
        level = 1
    r, c = wires.index(compiled.reference_qubit), wires.index(compiled.clone_qubit)
    circ.append("CX", [r, c])
    circ.append("H", [r])
    circ.append("M", [r, c])
    sample = circ.compile_sampler(seed=seed).sample(shots)
    ok = ~(sample[:, -1] | sample[:, -2])
    f = float(ok.mean())
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    half = z * np.sqrt(max(f * (1 - f), 1.0 / shots) / shots)
    avg = (2 * f + 1) / 3
    return StimEstimate(compiled.variant, compiled.schedule.clones, shots, f, avg,
                        max(1 / 3, avg - 2 * half / 3), min(1.0, avg + 2 * half / 3), time.perf_counter() - start, level)


class _RunCost:
    """The simulator's (or device's) seconds per shot of a run of ``circuits`` circuits."""

    shots: int
    run_seconds: float
    circuits: int

    @property
    def seconds_per_shot(self) -> float:
        return self.run_seconds / (self.circuits * self.shots) if self.circuits else float("nan")


@dataclass(frozen=True)
class VariantBellResult(_RunCost):
    """Two-qubit tomography of (R, decrypted clone) for one variant: fidelity with |Φ+⟩ from counts."""

    variant: str
    clones: int
    shots: int
    bell_fidelity: float
    ci_low: float
    ci_high: float
    concurrence: float
    run_seconds: float
    circuits: int

    @property
    def average_fidelity(self) -> float:
        """Average fidelity of the decrypted clone's channel, (2 F_Bell + 1)/3 (F_Bell is its entanglement
        fidelity); the interval maps the same way."""
        return (2 * self.bell_fidelity + 1) / 3


def measure_variant_bell(
    backend: BackendV2,
    name: str,
    clones: int,
    *,
    shots: int,
    runner,  # noqa: ANN001 - a qclone.hardware.backends Runner
    decrypt: int = 1,
    bootstrap: int = 100,
    confidence: float = 0.95,
    seed: int | None = 0,
    latency: float | None = None,
    idle_noise: bool = True,
) -> VariantBellResult:
    """Run a variant (Aer with the device's noise, or SamplerV2) and fit the (R, clone) Bell state.

    Circuits are the variant's ISA circuit plus the tomography's basis changes (lowered at level 1 with
    the layout fixed), scheduled as late as possible with explicit delays when ``idle_noise`` (dynamic
    circuits with :func:`~qclone.hardware.dynamic.schedule_dynamic`). The tomography's analysis reads
    only its own classical bits (the mid-circuit measurements' bits are summed over). For a dynamic
    circuit under Aer use ``method="statevector"``: every shot is its own trajectory anyway, and the
    density-matrix method would simulate 4^n amplitudes shot by shot.
    """
    from qiskit.quantum_info import Statevector

    from qclone.hardware.experiment import BELL_TARGET, check_confidence, percentile_interval
    from qclone.hardware.tomography import analyse, lower, tomography_experiment

    confidence = check_confidence(confidence)
    comp = compile_variant(name, backend, clones, decrypt, input="bell", seed=0, latency=latency)
    exp = tomography_experiment(comp.circuit, [comp.reference_qubit, comp.clone_qubit], Statevector(BELL_TARGET))
    circuits = lower(exp.circuits(), backend)
    if idle_noise:
        from qiskit.transpiler import PassManager
        from qiskit.transpiler.passes import ALAPScheduleAnalysis, PadDelay

        if comp.dynamic:
            circuits = schedule_dynamic(circuits, backend)
        else:
            pm = PassManager([ALAPScheduleAnalysis(target=backend.target), PadDelay(target=backend.target)])
            out = pm.run(circuits)
            circuits = out if isinstance(out, list) else [out]
    started = time.perf_counter()
    counts = runner.run(circuits, shots=shots, seed=seed, order=comp.layout.path)
    run_seconds = getattr(runner, "last_simulate_seconds", None) or (time.perf_counter() - started)
    fit = analyse(exp, circuits, counts, bootstrap=bootstrap, seed=seed)
    lo, hi = percentile_interval(np.array(fit.bootstrap), confidence) if fit.bootstrap else (float("nan"), float("nan"))
    return VariantBellResult(name, comp.schedule.clones, shots, fit.fidelity, lo, hi, fit.concurrence, float(run_seconds), len(circuits))


@dataclass(frozen=True)
class VariantResult(_RunCost):
    """The decrypted clone's six-input average fidelity for one variant, from counts: each cardinal
    input prepared on A, the clone alone read out (the quantity :func:`qclone.hardware.predict.predict`
    gives), with a bootstrap interval."""

    variant: str
    clones: int
    shots: int
    average_fidelity: float
    ci_low: float
    ci_high: float
    run_seconds: float
    circuits: int


def measure_variant(
    backend: BackendV2,
    name: str,
    clones: int,
    *,
    shots: int,
    runner,  # noqa: ANN001 - a qclone.hardware.backends Runner
    decrypt: int = 1,
    bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> VariantResult:
    """Run a static variant on ``runner`` (Aer with the device's noise, or SamplerV2) for the six
    cardinal inputs, scheduled as late as possible with explicit delays, and fit the decrypted clone
    of each (three bases): the same quantity as the model's, with no reference qubit R in the reading.

    :func:`measure_variant_bell` reads R as well, so its figure also carries R's readout error and
    R's relaxation while it waits for the whole circuit beside A; this one compares with the model
    like for like. With a Pauli-twirled noise model (``AerRunner(..., method="stabilizer",
    noise="twirled")``) Aer's stabilizer method runs 32 active qubits at milliseconds a shot.
    """
    from qiskit.quantum_info import Statevector

    from qclone.hardware.compile import CARDINAL_STATES, cardinal_vector
    from qclone.hardware.experiment import check_confidence, percentile_interval, prepare_for_device
    from qclone.hardware.tomography import analyse, tomography_experiment

    confidence = check_confidence(confidence)
    if uses_dynamic(name, clones):
        raise InvalidArgumentError(f"measure_variant takes static variants; {name!r} is dynamic at n = {clones}")
    experiments, batches, order = [], [], None
    for label in CARDINAL_STATES:
        comp = compile_variant(name, backend, clones, decrypt, input=label, seed=0)
        order = comp.layout.path
        exp = tomography_experiment(comp.circuit, [comp.clone_qubit], Statevector(cardinal_vector(label)))
        experiments.append(exp)
        batches.append(prepare_for_device(backend, exp.circuits(), True))
    flat = [qc for batch in batches for qc in batch]
    started = time.perf_counter()
    counts = runner.run(flat, shots=shots, seed=seed, order=order)
    run_seconds = getattr(runner, "last_simulate_seconds", None) or (time.perf_counter() - started)
    rng = np.random.default_rng(seed)
    fits, pos = [], 0
    for exp, batch in zip(experiments, batches, strict=True):
        fits.append(analyse(exp, batch, counts[pos:pos + len(batch)], bootstrap=bootstrap,
                            seed=int(rng.integers(2**31))))
        pos += len(batch)
    fidelity = float(np.mean([f.fidelity for f in fits]))
    lo, hi = float("nan"), float("nan")
    if bootstrap:
        samples = np.array([f.bootstrap for f in fits])  # (inputs, rounds): independent resamples per input
        rounds = min(len(s) for s in samples)
        lo, hi = percentile_interval(samples[:, :rounds].mean(axis=0), confidence)
    return VariantResult(name, clones, shots, fidelity, float(lo), float(hi), float(run_seconds), len(flat))
