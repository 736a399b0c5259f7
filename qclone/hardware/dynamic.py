"""A dynamic-circuit decryption: the key walked from both ends, one mid-circuit measurement per copy.

The decryption of clone j (``s = S_j``, ``t = N_j``) is CX(s, t) H(s), then
CZ(s, N_k) and CX(t, N_k) for every other key qubit, then S S CZ H CX on (s, t)
(:mod:`qclone.protocol`). After CX(s, t) H(s), s and t act on the keys only as
*controls* in the computational basis (s of CZ, t of CX), so a computational-basis
copy of each does the same to the keys it meets. The heavy-hex schedule
(:mod:`qclone.hardware.schedule`) walks (s, t) down the whole path; here

1. the decrypted pair sits in the middle of the path, with two fresh qubits
   (c_s, c_t) beside it. After CX(s, t) H(s), six CNOTs copy s onto c_s and t
   onto c_t (computational basis);
2. (s, t) walk to one end and (c_s, c_t) to the other, each pair meeting the key
   qubits on its side exactly as today's walk does (CZ, then CX, merged with the
   SWAPs that move them on; two SWAPs past every clone S_k), at the same time;
3. c_s and c_t are measured in the X basis. A copy made with a CNOT and measured
   in the X basis with outcome m leaves Z^m on the qubit it was copied from (and
   nothing else: the CZ/CX it controlled commute with that Z), so ``if m: Z`` on s
   (and on t) — a feed-forward, Heron's ``if_test`` — undoes it exactly;
4. S S CZ H CX on (s, t), which need the corrections first.

So the decryption's sequential walk is about half as long, for two more qubits,
eight more CNOTs, two mid-circuit measurements and one feed-forward wait.

The encryption lays the same B-frame bits as the linear schedule
(:mod:`qclone.hardware.schedule`) on this path, seeded at the decrypted pair and
copied outwards both ways (as :func:`~qclone.hardware.variants.middle_out_encryption`);
c_s and c_t carry the chain through the middle and are returned to |0⟩ before
the barrier, so the state between the stages is exactly the encrypted state with
two qubits in |0⟩. Path order (slots)::

    R, A, S_L1, N_L1, ..., S_Lm, N_Lm, c_s, c_t, N_j, S_j, N_R1, S_R1, ..., N_Rr, S_Rr

(the pairs right of the decrypted one are laid N, S so that s meets their keys
first). m = ⌊(n − 1)/2⌋ pairs on the left, the rest on the right. It needs
n ≥ 3 (at least one key on each side).

Checks (:func:`check_dynamic`): the encryption as an isometry, the decryption
as a channel (its Choi state: every slot maximally entangled with a reference
qubit; for each outcome of the two measurements the post-measurement state,
with the measured copies reset, must be the textbook one: stim tableaux at any n,
the exact engine with the four outcomes projected one by one for n ≤ 5) and
the whole protocol from the Choi input of A.

Renderings: :func:`dynamic_stim` (``MX`` then ``CZ rec[-k] q``: Z on q when the
outcome is 1) and :func:`dynamic_device_circuit` (Qiskit ``measure`` +
``if_test``, a ``delay`` of the feed-forward latency on the waiting qubits s and t).

Feed-forward latency: the device models state none (their configuration's
``conditional_latency`` is empty; their Target gives the measurement's duration,
1.56 µs on FakeFez). The default here, :data:`DEFAULT_LATENCY`, is one further
measurement duration (the measurement itself is in the schedule already);
:func:`break_even_latency` gives the latency at which the dynamic circuit would
last as long as today's, so the reader can put in the number of their device.

Examples:
    >>> sched = dynamic_schedule(5, decrypt=2)
    >>> sched.num_slots, sched.final_slots["S2"] in sched.slots_of_pair
    (14, True)
    >>> check_dynamic(sched).passed
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import stim
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Barrier
from qiskit.providers import BackendV2

from qclone.errors import InvalidArgumentError, TooLargeError, is_int
from qclone.hardware.check import ScheduleCheck
from qclone.hardware.layout import coupling_adjacency, long_path
from qclone.protocol import Circuit, Instruction, Layout, bell_pairs, encryption, to_stim
from qclone.protocol.build import clone_decryption
from qclone.protocol.layout import check_clones
from qclone.sim.exact import StateVector, equal_up_to_global_phase

#: Register name of the slot circuits.
SLOT_REGISTER = "slot"
#: Smallest n the dynamic decryption takes (a key qubit on each side of the decrypted pair).
MIN_DYNAMIC_CLONES = 3
#: Largest n of the dense check (2n + 4 slots and as many reference qubits would not fit; the dense
#: check uses the Choi input of A only for the protocol, and one slot at a time for the channel).
MAX_DENSE_CLONES = 5
#: Labels of the two copies.
COPY_S, COPY_T = "Cs", "Ct"
#: Feed-forward latency assumed when the device states none, in units of the measurement's duration.
DEFAULT_LATENCY = 1.0


def _empty(m: int) -> Circuit:
    return Circuit(((SLOT_REGISTER, m),))


@dataclass(frozen=True)
class DynamicSchedule:
    """The dynamic protocol on the slots of a path.

    Attributes:
        clones: n.
        decrypt: the decrypted clone j.
        left: logical pairs left of the decrypted pair (S, N order), from A outwards.
        right: logical pairs right of it (N, S order), from the decrypted pair outwards.
        encryption: Bell pairs + U_enc (copies end in |0⟩).
        walk: CX(s, t) H(s), the copies, both walks (a unitary on the slots).
        measured: slots of (c_s, c_t) after the walk, measured in the X basis (H then Z measurement).
        corrected: slots of (s, t) after the walk: Z on s if c_s gave 1, Z on t if c_t gave 1.
        finish: S S CZ H CX on (s, t).
        initial_slots: label → slot before any gate.
        final_slots: label → slot at the end.
    """

    clones: int
    decrypt: int
    left: tuple[int, ...]
    right: tuple[int, ...]
    encryption: Circuit
    walk: Circuit
    measured: tuple[int, int]
    corrected: tuple[int, int]
    finish: Circuit
    initial_slots: Mapping[str, int]
    final_slots: Mapping[str, int]

    @property
    def num_slots(self) -> int:
        return 2 * self.clones + 4

    @property
    def slots_of_pair(self) -> tuple[int, int]:
        """Where (S_j, N_j) end."""
        return self.final_slots[f"S{self.decrypt}"], self.final_slots[f"N{self.decrypt}"]

    @property
    def two_qubit_gates(self) -> int:
        return self.encryption.num_two_qubit_gates + self.walk.num_two_qubit_gates + self.finish.num_two_qubit_gates


def dynamic_labels(left: tuple[int, ...], decrypt: int, right: tuple[int, ...]) -> tuple[str, ...]:
    out = ["R", "A"]
    for k in left:
        out += [f"S{k}", f"N{k}"]
    out += [COPY_S, COPY_T, f"N{decrypt}", f"S{decrypt}"]
    for k in right:
        out += [f"N{k}", f"S{k}"]
    return tuple(out)


def _chain(c: Circuit, seed: int, end: int, same: set[int]) -> Circuit:
    """Copy the bits of the seed pair (slots ``seed``, ``seed + step``) towards slot ``end``.

    Every slot ends with the bit of the slot two before it (the alternating pattern) except the
    slots in ``same``, which end with the bit of the slot just before them. The difference trick of
    the linear schedule: ``c`` = the XOR of the two seed bits is copied along, and a prefix-sum
    ladder turns differences into values; a slot in ``same`` gets one more CNOT that takes ``c``
    back out while its successor still holds it. Works in either direction.
    """
    step = 1 if end > seed else -1
    first = seed + step
    if first == end + step:
        return c
    c = c.append("CX", [seed, first])  # first holds c
    i = first
    while i != end:
        c = c.append("CX", [i, i + step])  # copy c one further
        c = c.append("CX", [i - step, i])  # slot i becomes its bit (or: first back to its seed bit)
        if i in same:
            c = c.append("CX", [i + step, i])
        i += step
    return c.append("CX", [end - step, end])


def _interleave(a: Circuit, b: Circuit, skip: int, m: int) -> Circuit:
    """``a``'s first ``skip`` gates, then both circuits two gates at a time (for a shallow ASAP schedule)."""
    out = _empty(m)
    ia, ib = list(a.instructions), list(b.instructions)
    seq = ia[:skip]
    ia = ia[skip:]
    while ia or ib:
        seq += ia[:2] + ib[:2]
        ia, ib = ia[2:], ib[2:]
    return Circuit(out.registers, tuple(seq))


def dynamic_encryption(clones: int, left: int) -> Circuit:
    """Bell pairs + U_enc on the dynamic path (``left`` pairs left of the decrypted one), copies in |0⟩."""
    n = check_clones(clones)
    m = 2 * n + 4
    cs, ct = 2 + 2 * left, 3 + 2 * left
    t, s = cs + 2, cs + 3
    c = _empty(m).append("H", [t, s])  # B-frame: t holds b, s holds a
    right = _chain(_empty(m), t, m - 1, set())  # s, N_R1, S_R1, ...: the alternating pattern
    # leftwards from t: c_t, c_s and N_Lm repeat b, then S_Lm = a, N = b, ...
    leftward = _chain(_empty(m), s, 2, {ct, cs, cs - 1}) if left else _chain(_empty(m), s, cs, {ct, cs})
    c = c + _interleave(right, leftward, 3, m)
    if left:
        # copies back to |0⟩: c_s = N_Lm = b and c_t = t = b
        c = c.append("CX", [cs - 1, cs]).append("CX", [t, ct])
    a = 1
    c = c.append("CX", [2, a]).append("CX", [3, 2]).append("CX", [2, a]).append("CX", [3, 2]).append("CZ", [2, a])
    c = c.append("S_DAG", [2, 3])
    if n % 2 == 0:
        c = c.append("CZ", [2, 3])
    pairs: list[int] = []
    for p in range(left):
        pairs += [2 + 2 * p, 3 + 2 * p]  # (S, N)
    pairs += [s, t]
    for p in range(n - 1 - left):
        pairs += [s + 2 + 2 * p, s + 1 + 2 * p]  # (S, N) of the pairs laid N, S
    signals = pairs[0::2]
    return c.append("H", signals).append("CX", pairs)


class Walker:
    """Slot contents and the circuit of the walks (SWAPs tracked, as in the linear schedule)."""

    def __init__(self, m: int) -> None:
        self.content = list(range(m))
        self.c = _empty(m)

    def add(self, name: str, *targets: int) -> None:
        self.c = self.c.append(name, list(targets))

    def exchange(self, x: int, y: int) -> None:
        self.content[x], self.content[y] = self.content[y], self.content[x]

    def swap(self, x: int, y: int) -> None:
        self.add("SWAP", x, y)
        self.exchange(x, y)

    def cz_swap(self, z: int, key: int) -> None:
        """CZ(z, key) then SWAP, as two CNOTs."""
        self.add("H", key)
        self.add("CX", key, z)
        self.add("CX", z, key)
        self.add("H", z)
        self.exchange(z, key)

    def cx_swap(self, x: int, key: int) -> None:
        """CX(x → key) then SWAP, as two CNOTs."""
        self.add("CX", key, x)
        self.add("CX", x, key)
        self.exchange(x, key)

    def walk(self, z: int, x: int, pairs: int, step: int) -> tuple[int, int]:
        """Walk the controls (Z control at ``z``, X control at ``x = z - step``) past ``pairs`` pairs
        laid (key, clone) in direction ``step``; the last pair is only met. Returns where they end."""
        for p in range(pairs):
            key = z + step
            self.cz_swap(z, key)  # z moves to key's slot
            self.cx_swap(x, z)  # the key is now next to x; x moves on
            z, x = z + step, x + step
            if p == pairs - 1:
                break
            clone = z + step
            self.swap(z, clone)
            self.swap(x, z)
            z, x = z + step, x + step
        return z, x


def dynamic_schedule(clones: int, decrypt: int = 1, pair_order: tuple[int, ...] | None = None) -> DynamicSchedule:
    """The dynamic protocol for n ≥ 3 (``pair_order``: the other pairs along the path, left ones first;
    default 1..n without ``decrypt``)."""
    n = check_clones(clones)
    if n < MIN_DYNAMIC_CLONES:
        raise InvalidArgumentError(f"the dynamic decryption needs n >= {MIN_DYNAMIC_CLONES} (a key on each side), got {n}")
    if not is_int(decrypt) or not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    others = tuple(k for k in range(1, n + 1) if k != decrypt) if pair_order is None else tuple(pair_order)
    if sorted(others) != [k for k in range(1, n + 1) if k != decrypt]:
        raise InvalidArgumentError("pair_order must list every clone but the decrypted one once")
    nl = (n - 1) // 2
    left, right = others[:nl], others[nl:]
    labels = dynamic_labels(left, decrypt, right)
    m = len(labels)
    cs, ct = 2 + 2 * nl, 3 + 2 * nl
    t, s = cs + 2, cs + 3
    w = Walker(m)
    w.add("CX", s, t)
    w.add("H", s)
    # copies: c_t = t, then via t = a ⊕ b, c_s = a; t restored
    for x, y in ((t, ct), (s, t), (t, ct), (ct, cs), (t, ct), (s, t)):
        w.add("CX", x, y)
    # right walk first in the list, left walk after: disjoint slots, so they run at the same time
    s_end, t_end = w.walk(s, t, len(right), +1)
    cs_end, ct_end = w.walk(cs, ct, len(left), -1)
    walk = w.c
    finish = _empty(m).append("S", [s_end, t_end]).append("CZ", [s_end, t_end]).append("H", [s_end]).append("CX", [s_end, t_end])
    final = {labels[start]: slot for slot, start in enumerate(w.content)}
    return DynamicSchedule(
        clones=n,
        decrypt=decrypt,
        left=tuple(left),
        right=tuple(right),
        encryption=dynamic_encryption(n, nl),
        walk=walk,
        measured=(cs_end, ct_end),
        corrected=(s_end, t_end),
        finish=finish,
        initial_slots={lab: i for i, lab in enumerate(labels)},
        final_slots=final,
    )


# --- renderings ------------------------------------------------------------------------------


def dynamic_stim(schedule: DynamicSchedule, *, stages: tuple[str, ...] = ("encryption", "decryption")) -> stim.Circuit:
    """The schedule as a stim circuit with feedback: ``MX`` of the copies, then ``CZ rec[-k] q``."""
    out = stim.Circuit()
    if "encryption" in stages:
        out += to_stim(schedule.encryption)
    if "decryption" in stages:
        out += to_stim(schedule.walk)
        cs, ct = schedule.measured
        s, t = schedule.corrected
        out.append("MX", [cs, ct])
        out.append("CZ", [stim.target_rec(-2), s])
        out.append("CZ", [stim.target_rec(-1), t])
        out += to_stim(schedule.finish)
    return out


# --- checks ----------------------------------------------------------------------------------


#: Outcome of :func:`check_dynamic`: the same record as a static schedule's check (each field exact
#: for every measurement outcome).
DynamicCheck = ScheduleCheck


def _where(schedule: DynamicSchedule) -> np.ndarray:
    """Slot of every textbook qubit (Layout(n, references=1) order)."""
    lay = Layout(schedule.clones, references=1)
    where = np.zeros(lay.num_qubits, dtype=np.int64)
    for label, slot in schedule.initial_slots.items():
        if label not in (COPY_S, COPY_T):
            where[lay.index_of(label)] = slot
    return where


def _on_slots(circuit: Circuit, where: np.ndarray, m: int) -> Circuit:
    return Circuit(((SLOT_REGISTER, m),), tuple(Instruction(ins.name, where[ins.targets]) for ins in circuit.instructions))


def reference_slot_circuits(schedule: DynamicSchedule) -> tuple[Circuit, Circuit]:
    """Textbook Bell pairs + encryption and decryption of clone j, on the schedule's initial slots."""
    lay = Layout(schedule.clones, references=1)
    where, m = _where(schedule), schedule.num_slots
    enc = encryption(lay, circuit=bell_pairs(lay))
    return _on_slots(enc, where, m), _on_slots(clone_decryption(lay, schedule.decrypt), where, m)


def final_permutation(schedule: DynamicSchedule) -> np.ndarray:
    """``perm[i]``: slot where the qubit that started in slot ``i`` ends."""
    perm = np.arange(schedule.num_slots)
    for label, start in schedule.initial_slots.items():
        perm[start] = schedule.final_slots[label]
    return perm


def _permute_pauli(p: stim.PauliString, perm: np.ndarray, size: int) -> stim.PauliString:
    xs, zs = p.to_numpy()
    nx = np.zeros(size, dtype=bool)
    nz = np.zeros(size, dtype=bool)
    full = np.concatenate([perm, np.arange(perm.size, size)])
    nx[full[: xs.size]] = xs
    nz[full[: zs.size]] = zs
    return stim.PauliString.from_numpy(xs=nx, zs=nz, sign=p.sign)


def _canonical(stabilizers: list[stim.PauliString]) -> list[str]:
    sim = stim.TableauSimulator()
    sim.set_state_from_stabilizers(stabilizers)
    return [str(x) for x in sim.canonical_stabilizers()]


def _run_branch(sim: stim.TableauSimulator, schedule: DynamicSchedule, outcome: tuple[int, int]) -> None:
    """The decryption on ``sim`` with the two X measurements forced to ``outcome`` (postselection),
    the feed-forward applied, and the measured copies reset to |0⟩."""
    sim.do_circuit(to_stim(schedule.walk))
    for q, bit, target in zip(schedule.measured, outcome, schedule.corrected):
        sim.postselect_x(q, desired_value=bool(bit))
        if bit:
            sim.z(target)
        sim.h(q)  # |+> → |0>, |−> → |1>
        if bit:
            sim.x(q)
    sim.do_circuit(to_stim(schedule.finish))


OUTCOMES = ((0, 0), (0, 1), (1, 0), (1, 1))


def _stim_check(schedule: DynamicSchedule) -> DynamicCheck:
    m = schedule.num_slots
    enc_ref, dec_ref = reference_slot_circuits(schedule)
    perm = final_permutation(schedule)
    choi = stim.Circuit("H 0\nCX 0 1")

    def state(*circuits: stim.Circuit) -> list[str]:
        sim = stim.TableauSimulator()
        sim.set_num_qubits(m)
        for c in circuits:
            sim.do_circuit(c)
        return [str(x) for x in sim.canonical_stabilizers()]

    enc_ok = state(choi, to_stim(schedule.encryption)) == state(choi, to_stim(enc_ref))

    # the decryption as a channel: every slot but the copies maximally entangled with reference m + slot
    data = [q for q in range(m) if q not in (schedule.initial_slots[COPY_S], schedule.initial_slots[COPY_T])]
    bell = stim.Circuit()
    bell.append("H", [m + q for q in data])
    bell.append("CX", [x for q in data for x in (m + q, q)])
    ref = stim.TableauSimulator()
    ref.set_num_qubits(2 * m)
    ref.do_circuit(bell)
    ref.do_circuit(to_stim(dec_ref))
    want = _canonical([_permute_pauli(p, perm, 2 * m) for p in ref.canonical_stabilizers()])
    dec_ok = True
    for outcome in OUTCOMES:
        sim = stim.TableauSimulator()
        sim.set_num_qubits(2 * m)
        sim.do_circuit(bell)
        _run_branch(sim, schedule, outcome)
        if [str(x) for x in sim.canonical_stabilizers()] != want:
            dec_ok = False
            break

    ref_p = stim.TableauSimulator()
    ref_p.set_num_qubits(m)
    ref_p.do_circuit(choi)
    ref_p.do_circuit(to_stim(enc_ref))
    ref_p.do_circuit(to_stim(dec_ref))
    want_p = _canonical([_permute_pauli(p, perm, m) for p in ref_p.canonical_stabilizers()])
    proto_ok = True
    for outcome in OUTCOMES:
        sim = stim.TableauSimulator()
        sim.set_num_qubits(m)
        sim.do_circuit(choi)
        sim.do_circuit(to_stim(schedule.encryption))
        _run_branch(sim, schedule, outcome)
        if [str(x) for x in sim.canonical_stabilizers()] != want_p:
            proto_ok = False
            break
    return DynamicCheck(schedule.clones, schedule.decrypt, "stim", bool(enc_ok), dec_ok, proto_ok)


def _project_x(vec: np.ndarray, m: int, q: int, bit: int) -> np.ndarray | None:
    """The state projected on X_q = (−1)^bit and normalised (``None`` if that outcome cannot occur)."""
    t = vec.reshape((2,) * m)
    plus = (np.take(t, 0, axis=q) + (-1) ** bit * np.take(t, 1, axis=q)) / np.sqrt(2)
    norm = np.linalg.norm(plus)
    if norm < 1e-9:
        return None
    ket = np.array([1, (-1) ** bit], dtype=complex) / np.sqrt(2)
    out = np.moveaxis(np.multiply.outer(plus / norm, ket), -1, q)
    return out.ravel()


def _dense_branches(start: StateVector, schedule: DynamicSchedule) -> list[np.ndarray]:
    """Final states of the decryption for every possible outcome (copies reset to |0⟩)."""
    m = schedule.num_slots
    after = start.copy()
    after.apply_circuit(schedule.walk)
    out = []
    for outcome in OUTCOMES:
        vec: np.ndarray | None = after.vector
        for q, bit, target in zip(schedule.measured, outcome, schedule.corrected):
            vec = None if vec is None else _project_x(vec, m, q, bit)
            if vec is None:
                break
            sv = StateVector(vec)
            if bit:
                sv.apply_circuit(_empty(m).append("Z", [target]))
            sv.apply_circuit(_empty(m).append("H", [q]))
            if bit:
                sv.apply_circuit(_empty(m).append("X", [q]))
            vec = sv.vector
        if vec is None:
            raise AssertionError("every outcome of an X measurement of a copy has probability 1/2")  # pragma: no cover
        sv = StateVector(vec)
        sv.apply_circuit(schedule.finish)
        out.append(sv.vector)
    return out


def _permute_state(vector: np.ndarray, perm: np.ndarray) -> np.ndarray:
    return np.transpose(vector.reshape((2,) * perm.size), np.argsort(perm)).ravel()


def _dense_check(schedule: DynamicSchedule) -> DynamicCheck:
    m = schedule.num_slots
    enc_ref, dec_ref = reference_slot_circuits(schedule)
    perm = final_permutation(schedule)
    choi = _empty(m).append("H", [0]).append("CX", [0, 1])
    ours, ref = StateVector.zeros(m), StateVector.zeros(m)
    ours.apply_circuit(choi + schedule.encryption)
    ref.apply_circuit(choi + enc_ref)
    enc_ok = equal_up_to_global_phase(ours.vector, ref.vector)

    ref.apply_circuit(dec_ref)
    want = _permute_state(ref.vector, perm)
    proto_ok = all(equal_up_to_global_phase(v, want) for v in _dense_branches(ours, schedule))

    # the decryption as a channel, column by column: every computational input of the data slots
    # (A and R idle, the copies |0⟩) must give U_dec|x⟩ (permuted) in every branch, one common phase
    data = [q for q in range(2, m) if q not in (schedule.initial_slots[COPY_S], schedule.initial_slots[COPY_T])]
    rng = np.random.default_rng(0)
    dec_ok = True
    # a random superposition of all inputs checks the linear map on every input at once (up to the
    # one global phase it also fixes); two independent draws make an accidental pass impossible
    for _ in range(2):
        amp = rng.normal(size=2 ** len(data)) + 1j * rng.normal(size=2 ** len(data))
        amp /= np.linalg.norm(amp)
        full = np.zeros((2,) * m, dtype=complex)
        idx = [slice(None) if q in data else 0 for q in range(m)]
        full[tuple(idx)] = amp.reshape((2,) * len(data))
        start = StateVector(full.ravel())
        r = start.copy()
        r.apply_circuit(dec_ref)
        target = _permute_state(r.vector, perm)
        if not all(equal_up_to_global_phase(v, target) for v in _dense_branches(start, schedule)):
            dec_ok = False
    return DynamicCheck(schedule.clones, schedule.decrypt, "dense", bool(enc_ok), dec_ok, proto_ok)


def check_dynamic(schedule: DynamicSchedule, *, method: str = "auto") -> DynamicCheck:
    """Check the dynamic schedule against the textbook protocol for every measurement outcome
    (``auto``: dense up to n = 5, stim above)."""
    if method not in ("auto", "dense", "stim"):
        raise InvalidArgumentError(f"unknown check method {method!r}; choose one of auto, dense, stim")
    if method == "auto":
        method = "dense" if schedule.clones <= MAX_DENSE_CLONES else "stim"
    if method == "dense":
        if schedule.clones > MAX_DENSE_CLONES:
            raise TooLargeError(f"dense checks go up to n = {MAX_DENSE_CLONES}; use method='stim'")
        return _dense_check(schedule)
    return _stim_check(schedule)


# --- on a device -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DynamicLayout:
    """Physical qubits of the dynamic path: ``path[slot]`` for the slots of :func:`dynamic_labels`."""

    device: str
    clones: int
    decrypt: int
    path: tuple[int, ...]
    labels: tuple[str, ...]

    @property
    def physical(self) -> dict[str, int]:
        return {label: self.path[i] for i, label in enumerate(self.labels)}


def max_dynamic_clones(backend: BackendV2) -> int:
    """The largest n the dynamic path fits on the device: (path length − 4) // 2."""
    return max(0, (len(long_path(coupling_adjacency(backend))) - 4) // 2)


def _error(backend: BackendV2, name: str, qubits: tuple[int, ...]) -> float:
    target = backend.target
    if name not in target.operation_names:
        return 0.0
    props = target[name].get(qubits) or (target[name].get(qubits[::-1]) if len(qubits) == 2 else None)
    return float(props.error or 0.0) if props is not None else 0.0


def dynamic_layout(backend: BackendV2, clones: int, decrypt: int = 1, *, name: str | None = None) -> DynamicLayout:
    """The window of the device's long path with the smallest summed two-qubit error, plus the readout
    error of the qubits measured (R, the copies, the decrypted clone's final place), plus every qubit's
    dephasing over the schedule's estimated duration, t/T2 with t = the schedule's two-qubit depth
    times twice the median CZ duration (qubits wait: a short-T2 qubit in the window costs fidelity)."""
    sched = dynamic_schedule(clones, decrypt)
    path = long_path(coupling_adjacency(backend))
    length = sched.num_slots
    device = str(name or getattr(backend, "name", "device"))
    if length > len(path):
        raise TooLargeError(
            f"{clones} clones need {length} qubits on a path for the dynamic decryption; {device} holds at most "
            f"{max_dynamic_clones(backend)} clones this way"
        )
    two_q = next((g for g in ("cz", "ecr", "cx") if g in backend.target.operation_names), "cz")
    measured = (0, *sched.measured, sched.final_slots[f"S{decrypt}"])

    durations = [p.duration for p in backend.target[two_q].values() if p is not None and p.duration] if two_q in backend.target.operation_names else []
    depth = (sched.encryption + sched.walk + sched.finish).two_qubit_depth
    wait = depth * 2 * float(np.median(durations)) if durations else 0.0
    props = backend.target.qubit_properties or []

    def dephasing(q: int) -> float:
        t2 = getattr(props[q], "t2", None) if q < len(props) else None
        t1 = getattr(props[q], "t1", None) if q < len(props) else None
        t2 = min(t2, 2 * t1) if t2 and t1 else t2
        return wait / t2 if t2 else 0.0

    def score(w: tuple[int, ...]) -> float:
        return (sum(_error(backend, two_q, (a, b)) for a, b in zip(w, w[1:]))
                + sum(_error(backend, "measure", (w[i],)) for i in measured) + sum(dephasing(q) for q in w))

    windows = [tuple(path[i : i + length]) for i in range(len(path) - length + 1)]
    windows += [w[::-1] for w in windows]
    best = min(windows, key=lambda w: (score(w), w))
    labels = dynamic_labels(sched.left, decrypt, sched.right)
    return DynamicLayout(device=device, clones=sched.clones, decrypt=decrypt, path=best, labels=labels)


def measurement_duration(backend: BackendV2, qubits: tuple[int, ...] = ()) -> float:
    """Seconds of the device's measurement (the longest over ``qubits``; all qubits if empty)."""
    if "measure" not in backend.target.operation_names:
        return 0.0
    props = backend.target["measure"]
    keys = [(q,) for q in qubits] or list(props)
    return max((float(props[k].duration or 0.0) for k in keys if k in props and props[k] is not None), default=0.0)


#: Name of the classical register of the two mid-circuit measurements.
FEEDFORWARD_REGISTER = "ff"


def dynamic_device_circuit(
    schedule: DynamicSchedule, layout: DynamicLayout, num_qubits: int, *, input: str | None = "bell", latency: float = 0.0
) -> QuantumCircuit:
    """The dynamic protocol on physical qubits: input | encryption | walk, X measurements of the copies,
    a ``delay`` of ``latency`` seconds on s and t (the feed-forward wait), ``if_test`` corrections, the
    last gates on (s, t). Barriers between the stages, as in :func:`~qclone.hardware.compile.device_circuit`."""
    from qclone.hardware.compile import CARDINAL_STATES, check_input
    from qclone.protocol import to_qiskit

    input = check_input(input)
    ff = ClassicalRegister(2, FEEDFORWARD_REGISTER)
    qc = QuantumCircuit(QuantumRegister(num_qubits, "q"), ff, name=f"encrypted_cloning_dynamic_n{schedule.clones}")
    wires = list(layout.path)
    phys = layout.physical
    final = {label: layout.path[slot] for label, slot in schedule.final_slots.items()}
    qc.metadata = {
        "n": schedule.clones,
        "k": 1,
        "references": 1,
        "decrypt": schedule.decrypt,
        "stages": ["bell_pairs+encryption", "decryption"],
        "schedule": "heavy_hex_path_dynamic",
        "variant": "dynamic",
        "input": input,
        "device": layout.device,
        "initial_physical": dict(phys),
        "final_physical": final,
        "clone_qubit": final[f"S{schedule.decrypt}"],
        "reference_qubit": final["R"],
        "feedforward_latency_s": float(latency),
    }
    if input == "bell":  # as compile.device_circuit prepares its inputs
        qc.h(phys["R"])
        qc.cx(phys["R"], phys["A"])
    elif input is not None:
        for gate in CARDINAL_STATES[input][0]:
            getattr(qc, gate)(phys["A"])
    qc.barrier(wires)
    qc.compose(to_qiskit(schedule.encryption), qubits=wires, inplace=True)
    qc.barrier(wires)
    qc.compose(to_qiskit(schedule.walk), qubits=wires, inplace=True)
    cs, ct = (layout.path[q] for q in schedule.measured)
    s, t = (layout.path[q] for q in schedule.corrected)
    qc.h([cs, ct])
    qc.measure([cs, ct], [ff[0], ff[1]])
    if latency > 0:
        qc.delay(latency, [s, t], unit="s")
    for bit, q in ((ff[0], s), (ff[1], t)):
        with qc.if_test((bit, 1)):
            qc.z(q)
    qc.compose(to_qiskit(schedule.finish), qubits=wires, inplace=True)
    qc.barrier(wires)
    return qc


_MARK = "qclone-feedforward:"


def conditionals_as_barriers(qc: QuantumCircuit) -> tuple[QuantumCircuit, dict[str, object]]:
    """``qc`` with every ``if_else`` replaced by a labelled barrier (zero duration, so Qiskit's
    scheduling passes, which do not take control flow, can run); the ops by label. The barrier also
    spans the qubits whose measurement wrote the condition's bit, so it stays after that measurement."""
    out = qc.copy_empty_like()
    kept: dict[str, object] = {}
    writer: dict[int, list] = {}
    for ins in qc.data:
        if ins.operation.name == "measure":
            writer[qc.find_bit(ins.clbits[0]).index] = list(ins.qubits)
        if ins.operation.name == "if_else":
            label = f"{_MARK}{len(kept)}"
            kept[label] = ins
            extra = [q for c in ins.clbits for q in writer.get(qc.find_bit(c).index, []) if q not in ins.qubits]
            out.append(Barrier(len(ins.qubits) + len(extra), label=label), [*ins.qubits, *extra])
        else:
            out.append(ins)
    return out, kept


def barriers_as_conditionals(qc: QuantumCircuit, kept: Mapping[str, object]) -> QuantumCircuit:
    out = qc.copy_empty_like()
    for ins in qc.data:
        label = getattr(ins.operation, "label", None)
        if ins.operation.name == "barrier" and isinstance(label, str) and label in kept:
            out.append(kept[label])  # a CircuitInstruction on the same bits
        else:
            out.append(ins)
    return out


def schedule_dynamic(circuits: list[QuantumCircuit], backend: BackendV2) -> list[QuantumCircuit]:
    """Native-gate dynamic circuits scheduled as late as possible with explicit delays (for the
    simulator's idle relaxation), the ``if_else`` blocks kept: the conditional Z gates are virtual
    (zero duration), so they are scheduled as barriers and put back."""
    from qiskit.transpiler import PassManager
    from qiskit.transpiler.passes import ALAPScheduleAnalysis, PadDelay

    pm = PassManager([ALAPScheduleAnalysis(target=backend.target), PadDelay(target=backend.target)])
    out = []
    for qc in circuits:
        twin, kept = conditionals_as_barriers(qc)
        out.append(barriers_as_conditionals(pm.run(twin), kept))
    return out


def dynamic_duration(circuit: QuantumCircuit, backend: BackendV2) -> float:
    """Seconds the native-gate dynamic circuit lasts (critical path; the conditional Z gates are virtual)."""
    twin, _ = conditionals_as_barriers(circuit)
    return float(twin.estimate_duration(backend.target, unit="s"))
