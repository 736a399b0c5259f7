"""Checks that a routed schedule is the protocol: users call these, the tests call them too.

Each check compares the schedule of :mod:`qclone.hardware.schedule` with the
textbook circuits of :mod:`qclone.protocol` (mapped to the same slots) using an
engine that knows nothing of the schedule:

* ``dense`` (n ≤ 5): the exact engine :mod:`qclone.sim.exact`. The
  decryption must equal P · (U_dec(j) ⊗ I) as a unitary, P the permutation the
  SWAPs leave behind; Bell pairs + encryption must equal the textbook isometry
  from A (both images of |0⟩ and |1⟩ with one common phase).
* ``stim`` (any n): stim tableaux. The decryption's tableau must equal the
  textbook tableau followed by the permutation (every X_q and Z_q image with its
  sign). For the encryption and the whole protocol the state reached from A
  maximally entangled with R (the Choi state, which fixes the isometry up to a
  global phase) must have the same canonical stabilizers.

:func:`check_compiled` checks the device circuit after Qiskit has lowered it
to native gates: with A maximally entangled with R, the final state of the
active qubits (qiskit.quantum_info, n ≤ 5) must equal the textbook final state
with every qubit where the schedule says it ends.

Examples:
    >>> from qclone.hardware.schedule import protocol_schedule
    >>> check_schedule(protocol_schedule(3, decrypt=2)).passed
    True
    >>> check_schedule(protocol_schedule(40), method="stim").passed
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import stim

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.hardware.schedule import SLOT_REGISTER, Schedule
from qclone.protocol import Circuit, Instruction, Layout, bell_pairs, encryption, to_stim
from qclone.protocol.build import clone_decryption
from qclone.sim.exact import StateVector, circuit_unitary, equal_up_to_global_phase

#: Largest n the dense checks accept (2n + 2 = 12 qubits; the decryption unitary is 2^10 x 2^10).
MAX_DENSE_CHECK_CLONES = 5
CHECK_METHODS = ("auto", "dense", "stim")


@dataclass(frozen=True)
class ScheduleCheck:
    """Outcome of :func:`check_schedule`."""

    clones: int
    decrypt: int
    method: str
    encryption: bool
    decryption: bool
    protocol: bool

    @property
    def passed(self) -> bool:
        return self.encryption and self.decryption and self.protocol

    def to_dict(self) -> dict:
        return asdict(self) | {"passed": self.passed}


def _to_slots(circuit: Circuit, schedule: Schedule, slots: Mapping[str, int] | None = None) -> Circuit:
    """A textbook circuit (qubits as in :class:`Layout` with R) moved onto the schedule's slots
    (``slots``: label → slot, default where the labels start)."""
    lay = Layout(schedule.clones, references=1)
    where = np.zeros(lay.num_qubits, dtype=np.int64)
    for label, slot in (schedule.initial_slots if slots is None else slots).items():
        where[lay.index_of(label)] = slot
    return Circuit(
        ((SLOT_REGISTER, schedule.num_slots),),
        tuple(Instruction(ins.name, where[ins.targets]) for ins in circuit.instructions),
    )


def reference_circuits(schedule: Schedule) -> tuple[Circuit, Circuit]:
    """Textbook (Bell pairs + encryption, decryption of the last pair) on the schedule's slots."""
    lay = Layout(schedule.clones, references=1)
    enc = encryption(lay, circuit=bell_pairs(lay))
    return _to_slots(enc, schedule), _to_slots(clone_decryption(lay, schedule.decrypt), schedule, schedule.mid_slots)


def slot_permutation(schedule: Schedule, stage: str = "protocol") -> np.ndarray:
    """``perm[i]`` = slot where the qubit that sat in slot ``i`` at the start of ``stage`` is at its end
    (``protocol``: start to end; ``encryption``: start to between the stages; ``decryption``: between
    the stages to the end). Only a schedule with ``encrypted_slots`` moves qubits in its encryption."""
    frm, to = {"protocol": (schedule.initial_slots, schedule.final_slots),
               "encryption": (schedule.initial_slots, schedule.mid_slots),
               "decryption": (schedule.mid_slots, schedule.final_slots)}[stage]
    perm = np.arange(schedule.num_slots)
    for label, start in frm.items():
        perm[start] = to[label]
    return perm


def _choi_prefix(num_slots: int) -> Circuit:
    return Circuit(((SLOT_REGISTER, num_slots),)).append("H", [0]).append("CX", [0, 1])


# --- dense ----------------------------------------------------------------------------------


def _permute_state(vector: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """The state with the qubit of slot i moved to slot perm[i]."""
    m = perm.size
    return np.transpose(vector.reshape((2,) * m), np.argsort(perm)).ravel()


def _dense(schedule: Schedule) -> ScheduleCheck:
    m = schedule.num_slots
    enc_ref, dec_ref = reference_circuits(schedule)
    images = []
    for circ in (schedule.encryption, enc_ref):
        cols = []
        for bit in (0, 1):
            v = StateVector.zeros(m)
            if bit:
                v.apply_circuit(Circuit(((SLOT_REGISTER, m),)).append("X", [1]))
            v.apply_circuit(circ)
            cols.append(v.vector)
        images.append(np.stack(cols))
    enc_perm = slot_permutation(schedule, "encryption")
    images[1] = np.stack([_permute_state(col, enc_perm) for col in images[1]])
    enc_ok = equal_up_to_global_phase(images[0], images[1])

    pair_slots = list(range(2, m))
    perm = slot_permutation(schedule, "decryption")
    u = circuit_unitary(schedule.decryption, pair_slots)
    u_ref = circuit_unitary(dec_ref, pair_slots)
    k = len(pair_slots)
    # P · U_ref: every column of U_ref is a state whose qubits the SWAPs move
    moved = np.transpose(u_ref.reshape((2,) * k + (2**k,)), [*np.argsort(perm[2:] - 2), k]).reshape(2**k, 2**k)
    dec_ok = equal_up_to_global_phase(u, moved)

    ours = StateVector.zeros(m)
    ref = StateVector.zeros(m)
    ref_enc = StateVector.zeros(m)
    for state, circuits in ((ours, (schedule.encryption, schedule.decryption)), (ref_enc, (enc_ref,))):
        state.apply_circuit(_choi_prefix(m))
        for c in circuits:
            state.apply_circuit(c)
    # the textbook decryption acts where the encryption left the labels
    ref = StateVector(_permute_state(ref_enc.vector, enc_perm))
    ref.apply_circuit(dec_ref)
    proto_ok = equal_up_to_global_phase(ours.vector, _permute_state(ref.vector, perm))
    return ScheduleCheck(schedule.clones, schedule.decrypt, "dense", bool(enc_ok), bool(dec_ok), bool(proto_ok))


# --- stim -----------------------------------------------------------------------------------


def _permute_pauli(p: stim.PauliString, perm: np.ndarray) -> stim.PauliString:
    xs, zs = p.to_numpy()
    nx = np.zeros_like(xs)
    nz = np.zeros_like(zs)
    nx[perm] = xs
    nz[perm] = zs
    return stim.PauliString.from_numpy(xs=nx, zs=nz, sign=p.sign)


def _canonical(stabilizers: list[stim.PauliString]) -> list[str]:
    sim = stim.TableauSimulator()
    sim.set_state_from_stabilizers(stabilizers)
    return [str(s) for s in sim.canonical_stabilizers()]


def _state_stabilizers(*circuits: Circuit) -> list[stim.PauliString]:
    sim = stim.TableauSimulator()
    for c in circuits:
        sim.do_circuit(to_stim(c))
    return sim.canonical_stabilizers()


def _stim(schedule: Schedule) -> ScheduleCheck:
    m = schedule.num_slots
    enc_ref, dec_ref = reference_circuits(schedule)
    enc_perm = slot_permutation(schedule, "encryption")
    perm = slot_permutation(schedule, "decryption")
    prefix = _choi_prefix(m)

    encrypted_ref = [_permute_pauli(s, enc_perm) for s in _state_stabilizers(prefix, enc_ref)]
    enc_ok = [str(s) for s in _state_stabilizers(prefix, schedule.encryption)] == _canonical(encrypted_ref)

    t = stim.Tableau.from_circuit(to_stim(schedule.decryption), ignore_noise=True)
    t_ref = stim.Tableau.from_circuit(to_stim(dec_ref), ignore_noise=True)
    size = max(len(t), len(t_ref))
    t = t if len(t) == size else t + stim.Tableau(size - len(t))
    t_ref = t_ref if len(t_ref) == size else t_ref + stim.Tableau(size - len(t_ref))
    full_perm = np.concatenate([perm, np.arange(perm.size, size)]) if size > perm.size else perm[:size]
    dec_ok = True
    # compare as maps: routed = Perm ∘ ref  ⇔  routed(P) = Perm(ref(P)) for every input P (inputs are not moved)
    for q in range(size):
        if t.x_output(q) != _permute_pauli(t_ref.x_output(q), full_perm) or t.z_output(q) != _permute_pauli(
            t_ref.z_output(q), full_perm
        ):
            dec_ok = False
            break

    ours = _state_stabilizers(prefix, schedule.encryption, schedule.decryption)
    sim = stim.TableauSimulator()
    sim.set_state_from_stabilizers(encrypted_ref)
    sim.do_circuit(to_stim(dec_ref))
    ref_state = [_permute_pauli(s, perm) for s in sim.canonical_stabilizers()]
    proto_ok = [str(s) for s in ours] == _canonical(ref_state)
    return ScheduleCheck(schedule.clones, schedule.decrypt, "stim", bool(enc_ok), bool(dec_ok), bool(proto_ok))


def check_schedule(schedule: Schedule, *, method: str = "auto") -> ScheduleCheck:
    """Check a schedule against the textbook protocol (``auto``: dense up to n = 5, stim above).

    Raises:
        InvalidArgumentError: for an unknown method.
        TooLargeError: for ``dense`` with n > :data:`MAX_DENSE_CHECK_CLONES`.
    """
    if method not in CHECK_METHODS:
        raise InvalidArgumentError(f"unknown check method {method!r}; choose one of {', '.join(CHECK_METHODS)}")
    if method == "auto":
        method = "dense" if schedule.clones <= MAX_DENSE_CHECK_CLONES else "stim"
    if method == "dense":
        if schedule.clones > MAX_DENSE_CHECK_CLONES:
            raise TooLargeError(f"dense checks go up to n = {MAX_DENSE_CHECK_CLONES}; use method='stim'")
        return _dense(schedule)
    return _stim(schedule)


def final_state_reference(schedule: Schedule) -> np.ndarray:
    """Textbook final state (Choi input) with every qubit moved where the schedule leaves it (n ≤ 5)."""
    if schedule.clones > MAX_DENSE_CHECK_CLONES:
        raise TooLargeError(f"dense states go up to n = {MAX_DENSE_CHECK_CLONES}")
    m = schedule.num_slots
    enc_ref, dec_ref = reference_circuits(schedule)
    ref = StateVector.zeros(m)
    for c in (_choi_prefix(m), enc_ref):
        ref.apply_circuit(c)
    ref = StateVector(_permute_state(ref.vector, slot_permutation(schedule, "encryption")))
    ref.apply_circuit(dec_ref)
    return _permute_state(ref.vector, slot_permutation(schedule, "decryption"))


def check_compiled(compiled, *, atol: float = 1e-7) -> bool:  # noqa: ANN001 - CompiledProtocol (avoid an import cycle)
    """Whether a :class:`~qclone.hardware.compile.CompiledProtocol` compiled with ``input="bell"``
    leaves the textbook final state on its physical qubits (qiskit.quantum_info; n ≤ 5)."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    schedule = compiled.schedule
    path: Mapping[int, int] = {phys: slot for slot, phys in enumerate(compiled.layout.path)}
    qc = compiled.circuit
    small = QuantumCircuit(schedule.num_slots)
    for ins in qc.data:
        if ins.operation.name == "barrier":
            continue
        qubits = [qc.find_bit(q).index for q in ins.qubits]
        if any(q not in path for q in qubits):
            raise InvalidArgumentError(f"the compiled circuit acts on qubit(s) {qubits} outside its layout")
        small.append(ins.operation, [path[q] for q in qubits])
    # qiskit orders qubit 0 as the least significant bit; reverse to the exact engine's order
    ours = Statevector(small).data.reshape((2,) * schedule.num_slots).transpose(*reversed(range(schedule.num_slots))).ravel()
    return equal_up_to_global_phase(ours, final_state_reference(schedule), atol=atol)
