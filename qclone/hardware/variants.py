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

from collections.abc import Mapping
from dataclasses import dataclass, replace

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2

from qclone.errors import InvalidArgumentError
from qclone.hardware.compile import GateStats, device_circuit, preset_pass_manager
from qclone.hardware.layout import DeviceLayout, device_layout
from qclone.hardware.schedule import SLOT_REGISTER, Schedule, protocol_schedule
from qclone.protocol import Circuit
from qclone.protocol.layout import check_clones

#: Variant names (stable).
VARIANTS: tuple[str, ...] = ("today", "middle-out")


def check_variant(name: object) -> str:
    if name not in VARIANTS:
        raise InvalidArgumentError(f"unknown schedule variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return str(name)


def middle_out_encryption(clones: int) -> Circuit:
    """Bell pairs + U_enc on the slots of a path (R = 0, A = 1, pairs from slot 2), from the middle out.

    The same isometry as :func:`~qclone.hardware.schedule.encryption_schedule` (the B-frame picture of
    that docstring): before the last layer B = CX(S→N)·H(S) on every pair, pair k holds the computational
    bits (a, b) of the branch, the same on every pair, and A holds X^b Z^a applied to the input.

    1. the pair in the middle of the path gets two fresh bits, H on both: (a, b);
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
    u = 2 + 2 * ((n - 1) // 2)  # S slot of the seed pair
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


def _pair_order(backend: BackendV2 | None, clones: int, decrypt: int) -> tuple[int, ...]:
    if backend is not None:
        return device_layout(backend, clones, decrypt).pair_order
    return tuple(k for k in range(1, clones + 1) if k != decrypt) + (decrypt,)


def variant_schedule(name: str, backend: BackendV2 | None, clones: int, decrypt: int = 1) -> Schedule:
    """The slot schedule of a variant (pairs in the order the backend's layout puts them; without a
    backend, 1..n with ``decrypt`` last). :func:`~qclone.hardware.check.check_schedule` accepts it."""
    name = check_variant(name)
    n = check_clones(clones)
    if backend is None and not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    base = protocol_schedule(n, pair_order=_pair_order(backend, n, decrypt))
    if name == "middle-out":
        return replace(base, encryption=middle_out_encryption(n))
    return base


@dataclass(frozen=True)
class CompiledVariant:
    """A variant in native gates on one device (the attributes of
    :class:`~qclone.hardware.compile.CompiledProtocol`, plus the variant's name)."""

    variant: str
    circuit: QuantumCircuit
    layout: DeviceLayout
    schedule: Schedule
    final_physical: Mapping[str, int]
    stats: GateStats

    @property
    def clone_qubit(self) -> int:
        return self.final_physical[f"S{self.schedule.decrypt}"]

    @property
    def reference_qubit(self) -> int:
        return self.final_physical["R"]

    @property
    def active_qubits(self) -> tuple[int, ...]:
        return tuple(sorted(self.layout.path))


def compile_variant(
    name: str, backend: BackendV2, clones: int, decrypt: int = 1, *, input: str | None = "bell", seed: int | None = 0
) -> CompiledVariant:
    """A variant placed on the device and lowered to native gates (layout fixed, no routing)."""
    name = check_variant(name)
    layout = device_layout(backend, clones, decrypt)
    schedule = variant_schedule(name, backend, clones, decrypt)
    qc = device_circuit(schedule, layout, backend.num_qubits, input=input)
    qc.metadata = {**(qc.metadata or {}), "variant": name}
    isa = preset_pass_manager(backend, seed=seed, fixed_layout=True).run(qc)
    final = {label: layout.path[slot] for label, slot in schedule.final_slots.items()}
    isa.metadata = {**(isa.metadata or {}), "clone_qubit": final[f"S{schedule.decrypt}"], "reference_qubit": final["R"]}
    return CompiledVariant(variant=name, circuit=isa, layout=layout, schedule=schedule, final_physical=final, stats=GateStats.of(isa))


def variant_circuit(
    name: str, backend: BackendV2, clones: int, decrypt: int = 1, *, input: str | None = "bell", seed: int | None = 0
) -> QuantumCircuit:
    """The device-ready (ISA) circuit of a variant; ``metadata`` names where R, A, S_k, N_k start
    (``initial_physical``) and end (``final_physical``), the ``clone_qubit`` and ``reference_qubit``."""
    return compile_variant(name, backend, clones, decrypt, input=input, seed=seed).circuit
