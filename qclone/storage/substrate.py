"""The quantum substrate: the only place where stored quantum states live.

Every object is one joint state of ``k (2n + 1)`` qubits in the exact
Clifford + core engine (:class:`~qclone.sim.core.CoreState`): the k input
qubits ``A*``, the n clones ``S*_j`` and the n key qubits ``N*_j`` of each
input qubit (labels and indices of :class:`~qclone.protocol.Layout`).
:meth:`Substrate.create` encrypts the input (Bell pairs + U_enc of every
register qubit, :func:`~qclone.protocol.protocol_circuit` without decryption): a fixed Clifford
circuit, so the joint state is a function of the input, which is what an object
keeps (the engine's state is built from it when needed, e.g. by
:meth:`Substrate.peek`). :meth:`Substrate.decrypt` gives the state U_dec of clone
j (:func:`~qclone.protocol.decryption`) leaves on ``layout.clone(j)``
(computed exactly by mapping the ageing's Pauli channels through U_dec, see
:func:`_decrypted_output`), stores it as the object's *output* and destroys the
joint state, so an object is decrypted at most once.

Memory noise (:meth:`Substrate.age`): amplitude damping (T1) and dephasing
(T2) of a stored qubit for time t, *Pauli-twirled* to the channel with
p_x = p_y = (1 − e^{−t/T1})/4 and p_z = (1 − e^{−t/T2})/2 − p_x
(:func:`qclone.sim.noise.twirled_relaxation`). This is an approximation: the
twirl keeps the Pauli eigenvalues e^{−t/T2} (X, Y) and e^{−t/T1} (Z) of the
true channel, hence each qubit's average fidelity, but drops its non-unital
part (the drift toward |0⟩), which the Pauli-frame engine cannot represent.
The channels form a semigroup, so ``duration`` is the *total* time the
qubits have been stored: a label already aged for t₀ only gets the remaining
``duration − t₀`` (calling age twice, or again after a rolled-back retrieval,
never double-counts).

Persistence (``data_dir`` set): one SQLite file ``data_dir/substrate.sqlite3``
(WAL journal) with a table ``joint`` (object id -> the joint state, its ageing
record and the optional reference state, one checksummed blob) and a table
``outputs`` (object id -> attempt and the decrypted output as JSON). Decryption
is *one transaction* that deletes the joint state and inserts the output, so
either both happened or neither; triggers refuse a joint state and an output
of the same object ever coexisting. So a crash (of the process, at any point)
can never allow two decryptions nor lose the only copy. ``durable=False`` (the
default) commits with ``synchronous=NORMAL``, the metadata database's setting:
a commit survives the process being killed at any point; a power loss or
kernel crash may lose the last commits. ``durable=True`` uses
``synchronous=FULL`` (every commit also fsyncs the WAL: survives a power loss,
a few ms per commit). Live states are also kept in a small in-memory LRU
cache, so a put + get round trip serialises the joint state once and never
parses it back. Ageing is applied to the cached state only (see
:meth:`Substrate.age`): the row holds the state as created together with its
record of ageing, so noise lost with the cache is re-applied by the next
:meth:`~Substrate.age` call. By default one :class:`Substrate` instance owns a
data directory; with ``shared=True`` several instances (processes) may use one
file: the cache then only saves parsing the input (immutable once created),
whether an object is live or decrypted is read from the file on every call, and
the decryption transaction commits only if it deleted the joint state itself;
ageing is then written too (unless ``in_process``), for the next call about the
object may reach another process.

PostgreSQL (``db_url``): the same tables in a PostgreSQL schema
(:mod:`qclone.storage.pgstore`), always shared, any number of processes on any
machines; every write transaction about an object first takes that object's
advisory lock, which serialises them as ``BEGIN IMMEDIATE`` serialises the
SQLite file's.

Thread safety: operations on one object are serialised by a per-object lock
(striped over a fixed pool), so the gateway may call from many threads.

Examples:
    >>> from qclone.storage.inputs import parse_state
    >>> sub = Substrate(None)
    >>> info = sub.create("obj", parse_state("bloch", [0, 0, 1]), 3, keep_reference=True)
    >>> info["clone_qubits"]["2"], info["key_qubits"]
    (['S0_2'], ['N0_1', 'N0_2', 'N0_3'])
    >>> out = sub.decrypt("obj", 2, "attempt-1")
    >>> round(out["fidelity"], 12), sub.exists("obj")
    (1.0, False)
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qclone.errors import InvalidArgumentError, TooLargeError, check_int, is_int
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.protocol.circuit import Circuit
from qclone.sim.core import CoreState
from qclone.sim.exact import fidelity as uhlmann_fidelity
from qclone.sim.noise import twirled_relaxation
from qclone.storage import faults
from qclone.storage.errors import ConflictError, NotFoundError, UnauthorizedError, UnavailableError
from qclone.storage.inputs import MAX_QUBITS, InputState
from qclone.storage.localdb import LocalDB

if TYPE_CHECKING:
    from qclone.storage.pgstore import PostgresStore
from qclone.storage.wire import decode_array, encode_array

__all__ = ["BASES", "MAX_CLONES", "MAX_SHOTS", "Substrate", "has_local_state"]

#: Most clones of one object.
MAX_CLONES = 64
#: Most measurement samples one :meth:`Substrate.sample` call returns.
MAX_SHOTS = 100_000
#: Measurement bases of :meth:`Substrate.sample`.
BASES = ("X", "Y", "Z")

_USE_GRANT = "INSERT INTO grants (nonce, object_id) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING"
_OBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAGIC = b"QCLONE-SUBSTRATE3"
_DB_FILE = "substrate.sqlite3"
#: The tables; the triggers make a joint state and an output of one object mutually exclusive.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS joint (object_id TEXT PRIMARY KEY, blob BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS outputs (object_id TEXT PRIMARY KEY, attempt TEXT NOT NULL, body TEXT NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TRIGGER IF NOT EXISTS joint_without_output BEFORE INSERT ON joint "
    "WHEN EXISTS (SELECT 1 FROM outputs WHERE object_id = NEW.object_id) "
    "BEGIN SELECT RAISE(ABORT, 'object already decrypted'); END",
    "CREATE TRIGGER IF NOT EXISTS output_without_joint BEFORE INSERT ON outputs "
    "WHEN EXISTS (SELECT 1 FROM joint WHERE object_id = NEW.object_id) "
    "BEGIN SELECT RAISE(ABORT, 'joint state still present'); END",
    # fencing tokens: a decryption by an attempt whose fence is below the object's is refused
    "CREATE TABLE IF NOT EXISTS fences (object_id TEXT PRIMARY KEY, fence INTEGER NOT NULL) WITHOUT ROWID",
    # the vault's decryption authorizations used so far (a replayed one is refused)
    "CREATE TABLE IF NOT EXISTS grants (nonce TEXT PRIMARY KEY, object_id TEXT NOT NULL) WITHOUT ROWID",
    # clone qubits given to another party since the object was created (a provider replaced or drained)
    "CREATE TABLE IF NOT EXISTS moved (object_id TEXT NOT NULL, label TEXT NOT NULL, party TEXT NOT NULL,"
    " PRIMARY KEY (object_id, label)) WITHOUT ROWID",
    # signed requests seen by any process of a substrate node (shared mode: a replay to another worker)
    "CREATE TABLE IF NOT EXISTS request_nonces (nonce TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID",
)


def _pg_schema(schema: str) -> list[str]:
    """The same tables in PostgreSQL (in ``schema``, a quoted name): the triggers are PL/pgSQL
    functions that take the object's advisory lock before they look (see
    :mod:`qclone.storage.pgstore`), so the check cannot race a concurrent decryption; and a
    table of the signed requests seen (every worker of a substrate node refuses a replay)."""
    out = [
        "CREATE TABLE IF NOT EXISTS joint (object_id text PRIMARY KEY, blob bytea NOT NULL)",
        "CREATE TABLE IF NOT EXISTS outputs (object_id text PRIMARY KEY, attempt text NOT NULL, body text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS fences (object_id text PRIMARY KEY, fence bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS grants (nonce text PRIMARY KEY, object_id text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS moved (object_id text NOT NULL, label text NOT NULL, party text NOT NULL,"
        " PRIMARY KEY (object_id, label))",
        "CREATE TABLE IF NOT EXISTS request_nonces (nonce text PRIMARY KEY, expires double precision NOT NULL)",
    ]
    name = schema.strip('"')
    for trigger, table, other, message in (("joint_without_output", "joint", "outputs", "object already decrypted"),
                                           ("output_without_joint", "outputs", "joint", "joint state still present")):
        out.append(
            f"CREATE OR REPLACE FUNCTION {schema}.{trigger}() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN "
            f"PERFORM pg_advisory_xact_lock(hashtextextended('{name}:' || NEW.object_id, 0)); "
            f"IF EXISTS (SELECT 1 FROM {schema}.{other} WHERE object_id = NEW.object_id) THEN "
            f"RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation'; END IF; "
            "RETURN NEW; END $fn$")
        # created when missing only: no lock on the table when a process starts beside running ones
        out.append(f"DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{trigger}' "
                   f"AND tgrelid = '{schema}.{table}'::regclass) THEN CREATE TRIGGER {trigger} BEFORE INSERT ON "
                   f"{schema}.{table} FOR EACH ROW EXECUTE FUNCTION {schema}.{trigger}(); END IF; END $do$")
    return out

_LOCK_STRIPES = 64


def _stripe(object_id: str) -> int:
    """The lock stripe of an object."""
    return zlib.crc32(object_id.encode()) % _LOCK_STRIPES


#: Compare-and-set writes of one call before it gives up (shared mode: other instances write too).
_WRITE_TRIES = 8
#: Every this many requests remembered (:meth:`Substrate.remember_request`), the expired ones are deleted.
_NONCE_SWEEP = 256
_CACHE_SIZE = 256

_H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
_SDG = np.diag([1, -1j])
#: The one-qubit rotation taking the basis' eigenstates (+1 first) to |0⟩, |1⟩.
_ROTATION = {"Z": np.eye(2, dtype=complex), "X": _H, "Y": _H @ _SDG}


@lru_cache(maxsize=64)
def _layout(k: int, n: int) -> Layout:
    return Layout(n, qubits=k)


@lru_cache(maxsize=64)
def _encryption(k: int, n: int) -> Circuit:
    return protocol_circuit(_layout(k, n))


@lru_cache(maxsize=256)
def _decryption(k: int, n: int, j: int) -> Circuit:
    return decryption(_layout(k, n), j)


@lru_cache(maxsize=64)
def _encrypted_template(k: int, n: int) -> CoreState:
    """The encrypted |0…0⟩ input; never modified (callers copy it)."""
    lay = _layout(k, n)
    zero = np.zeros(2**k, dtype=complex)
    zero[0] = 1
    st = CoreState.from_input(lay.num_qubits, zero, lay.inputs)
    st.apply(_encryption(k, n))
    return st


def encrypt(state: InputState, clones: int) -> CoreState:
    """The joint state after encrypting ``state`` into ``clones`` clones (Bell pairs + U_enc).

    The encryption circuit is Clifford, and a :class:`CoreState` keeps the Clifford apart from
    the dense input core, so the encrypted state of any input is the encrypted |0…0⟩ with the
    core replaced. The result is the same as ``CoreState.from_input(...)`` followed by
    ``apply(protocol_circuit(layout))`` (tested byte for byte), about 50 times faster.
    """
    return _encrypt_array(state.qubits, clones, state.engine_state)


def _encrypt_array(k: int, clones: int, data: np.ndarray) -> CoreState:
    lay = _layout(k, clones)
    core = CoreState.from_input(lay.num_qubits, data, lay.inputs)  # validates the core
    st = _encrypted_template(k, clones).copy()
    st.frame.terms = core.frame.terms  # see the docstring: Clifford gates never touch the core
    return st


@lru_cache(maxsize=64)
def _labels(k: int, n: int) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """(the qubit labels of clone 1..n, the key labels)."""
    lay = _layout(k, n)
    return (tuple(tuple(lay.label(q, long=True) for q in lay.clone(j)) for j in range(1, n + 1)),
            tuple(lay.label(q, long=True) for q in lay.keys))


@lru_cache(maxsize=256)
def _output_images(k: int, n: int, j: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per qubit q of the joint register: the ``(x mask, z mask)`` on the k output qubits of the
    Pauli X_q and Z_q after the decryption of clone j (``U X_q U†`` restricted to ``layout.clone(j)``;
    output qubit i is bit ``k − 1 − i`` of an index, signs dropped)."""
    import stim

    circuit = stim.Circuit()
    for ins in _decryption(k, n, j).instructions:
        circuit.append(ins.name, [int(t) for t in ins.targets])
    lay = _layout(k, n)
    tab = stim.Tableau.from_circuit(circuit)
    tab_n = len(tab)
    out = lay.clone(j)
    images = []
    for q in range(lay.num_qubits):
        pair = []
        for image in ((tab.x_output(q), tab.z_output(q)) if q < tab_n else (None, None)):
            xm = zm = 0
            if image is not None:
                for i, oq in enumerate(out):
                    letter = image[oq] if oq < len(image) else 0  # 0 I, 1 X, 2 Y, 3 Z
                    bit = 1 << (k - 1 - i)
                    xm |= bit if letter in (1, 2) else 0
                    zm |= bit if letter in (2, 3) else 0
            pair.append((xm, zm))
        images.append(tuple(pair))
    return tuple(images)


@lru_cache(maxsize=4096)
def _pauli_action(d: int, xm: int, zm: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices, column indices and signs with ``P ρ P† = signs * ρ[rows, cols]`` for
    ``P = X^xm Z^zm`` (up to a phase) on ``d = 2^k`` dimensions."""
    idx = np.arange(d) ^ xm
    parity = np.array([bin(int(i) & zm).count("1") & 1 for i in idx], dtype=np.int64)
    sign = (1 - 2 * parity).astype(float)
    return idx[:, None], idx[None, :], sign[:, None] * sign[None, :]


def _conjugate(rho: np.ndarray, xm: int, zm: int) -> np.ndarray:
    """``P ρ P†`` for the Pauli ``P = X^xm Z^zm`` (up to a phase) on the qubits of ``rho``."""
    rows, cols, signs = _pauli_action(rho.shape[0], xm, zm)
    return signs * rho[rows, cols]


@dataclass
class _Entry:
    """A live joint state and what belongs with it.

    The joint state as encrypted is a function of the input alone (the encryption is a fixed
    Clifford circuit on the input and |0…0⟩), so the entry keeps the input (a state vector or
    density matrix) and builds the engine's :class:`CoreState` of it only when asked
    (:attr:`state`, bit for bit what :func:`encrypt` gives). ``noise`` lists the Pauli channels
    ``(qubit, px, py, pz)`` of the ageing since, kept apart so that decryption can take the exact
    shortcut of :func:`_decrypted_output`; :meth:`aged_state` is the joint state with them applied.
    """

    qubits: int
    clones: int
    input: np.ndarray
    keep_reference: bool = False
    aged: dict[str, float] = field(default_factory=dict)
    noise: list[tuple[int, float, float, float]] = field(default_factory=list)
    _state: CoreState | None = None
    #: the CRC32 ending the row (shared mode: tells a cached entry from a row created anew)
    stamp: bytes = b""
    #: party -> the qubit labels it holds (beside the clones, which are at providers); None for
    #: an object created without it: the vault holds the key
    holders: dict[str, list[str]] | None = None
    #: logical gates (:meth:`Substrate.apply`): the qubits whose holder has not applied its local
    #: gate yet (qubit -> the gate's name; the joint state is ``C_q† ∘ noise(Enc(input))`` on them),
    #: the gate being applied (``{"id", "gate", "gates", "digest", "done"}``) and those applied
    lagging: dict[int, str] = field(default_factory=dict)
    op: dict[str, Any] | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> CoreState:
        """The encrypted joint state (without the ageing); built once, never modified."""
        if self._state is None:
            self._state = _encrypt_array(self.qubits, self.clones, self.input)
        return self._state

    @property
    def layout(self) -> Layout:
        return _layout(self.qubits, self.clones)

    @property
    def reference(self) -> np.ndarray | None:
        return self.input if self.keep_reference else None

    def aged_state(self) -> CoreState:
        """The joint state with every ageing channel applied, and the local gates of a logical gate
        some holders have not applied yet undone on their qubits (a new object)."""
        st = self.state.copy()
        for q, px, py, pz in self.noise:
            st.apply_pauli_channel(q, px, py, pz)
        if self.lagging:
            from qclone.storage.gates import undo_circuit

            st.apply(undo_circuit(self.lagging))
        return st


def _input_density(entry: _Entry) -> np.ndarray:
    a = np.asarray(entry.input, dtype=complex)
    return np.outer(a, a.conj()) if a.ndim == 1 else a


def _decrypted_output(entry: _Entry, j: int) -> np.ndarray:
    """The reduced state of ``layout.clone(j)`` after decrypting clone j of the aged joint state.

    Exact shortcut of applying :func:`~qclone.protocol.decryption` to the aged joint state
    and taking the reduced state (tested against both the engine and the dense engine): without
    noise the decryption leaves the input on clone j in a product with a state of the other qubits,
    so a Pauli E applied before the decryption acts afterwards as ``U E U†`` = (a Pauli on the
    output) ⊗ (a Pauli elsewhere), and a Pauli channel on a stored qubit becomes a Pauli channel on
    the output: ρ → (1 − px − py − pz) ρ + px X'ρX' + py Y'ρY' + pz Z'ρZ'.
    """
    images = _output_images(entry.qubits, entry.clones, j)
    return _through(entry, lambda q: images[q])


def _output_record(object_id: str, entry: _Entry, attempt: str, rho: np.ndarray, *, clone: int | None,
                   labels: list[str], **extra: Any) -> dict:
    """What a decryption or recovery returns (and stores): the output ``rho`` with the attempt, the
    qubits that hold it, ``extra`` (a recovery's ``used`` and ``parties``) and its fidelity with the
    kept input (None without one)."""
    fid = None
    if entry.reference is not None:
        fid = min(1.0, max(0.0, uhlmann_fidelity(entry.reference, rho)))
    return {
        "object_id": object_id,
        "qubits": entry.qubits,
        "clone": clone,
        "attempt": attempt,
        "labels": labels,
        **extra,
        "density_matrix": encode_array(rho),
        "fidelity": fid,
        "reference": None if entry.reference is None else encode_array(entry.reference),
    }


def _through(entry: _Entry, image: Callable[[int], Any]) -> np.ndarray:
    """The input after every ageing channel of ``entry``, each mapped onto the output by
    ``image(q)`` (``((x mask, z mask) of X_q, (x mask, z mask) of Z_q)`` on the output, or None
    where the qubit never reaches it)."""
    rho = _input_density(entry)
    if not entry.noise:
        return rho.copy()
    for q, px, py, pz in entry.noise:
        pair = image(q)
        if pair is None:
            continue
        (xx, xz), (zx, zz) = pair
        if not (xx | xz | zx | zz):
            continue
        rho = ((1 - px - py - pz) * rho + px * _conjugate(rho, xx, xz) + py * _conjugate(rho, xx ^ zx, xz ^ zz)
               + pz * _conjugate(rho, zx, zz))
    return rho


def sample_state(rho: np.ndarray, basis: str, shots: int, seed: int | None) -> list[str]:
    """``shots`` outcomes of measuring every qubit of the density matrix ``rho`` in ``basis``
    (X, Y or Z; ``0`` = the +1 eigenstate, the first character for the first qubit)."""
    k = int(round(math.log2(rho.shape[0])))
    u = np.ones((1, 1), dtype=complex)
    for _ in range(k):
        u = np.kron(u, _ROTATION[basis.upper()])
    probs = np.clip(np.real(np.diag(u @ rho @ u.conj().T)), 0, None)
    probs = probs / probs.sum()
    rng = np.random.default_rng(seed)
    outcomes = rng.choice(probs.size, size=shots, p=probs)
    return [format(int(x), f"0{k}b") for x in outcomes]


def _check_object_id(object_id: object) -> str:
    if not isinstance(object_id, str) or not _OBJECT_ID.match(object_id):
        raise InvalidArgumentError(
            f"object id must be 1-128 characters of letters, digits, '.', '_' or '-' "
            f"(not starting with '.', '_' or '-'), got {object_id!r}"
        )
    return object_id


def _check_attempt(attempt: object) -> str:
    if not isinstance(attempt, str) or not attempt or len(attempt) > 200:
        raise InvalidArgumentError(f"attempt must be a non-empty string of at most 200 characters, got {attempt!r}")
    return attempt


#: Most parties in an object's holder map.
MAX_HOLDERS = 64
_PARTY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}")


def _check_holders(holders: Any, k: int, n: int) -> dict[str, list[str]]:
    """A validated holder map: party -> labels of the layout's qubits, none held twice."""
    if not isinstance(holders, dict) or len(holders) > MAX_HOLDERS:
        raise InvalidArgumentError(f"holders must map at most {MAX_HOLDERS} parties to lists of qubit labels")
    lay = _layout(k, n)
    seen: dict[int, str] = {}
    out: dict[str, list[str]] = {}
    for party, labels in holders.items():
        if not isinstance(party, str) or not _PARTY.fullmatch(party):
            raise InvalidArgumentError(f"a holder is 1-80 letters, digits, '_', '.', ':' or '-', got {party!r}")
        if not isinstance(labels, list) or len(labels) > lay.num_qubits:
            raise InvalidArgumentError(f"holder {party!r}: a list of at most {lay.num_qubits} qubit labels")
        for label in labels:
            try:
                q = lay.index_of(label, long=True)
            except Exception:  # noqa: BLE001 - the layout raises InvalidArgumentError / UnsupportedError
                raise InvalidArgumentError(f"holder {party!r}: no qubit {label!r} in this object") from None
            if q in seen:
                raise InvalidArgumentError(f"qubit {label} is held by both {seen[q]!r} and {party!r}")
            seen[q] = party
        out[party] = [str(x) for x in labels]
    return out


@lru_cache(maxsize=1024)
def _recovery(k: int, n: int, qubits: tuple[int, ...]) -> Any:
    """The recovery of the qubits (layout indices) and the images of X_q, Z_q on its output as
    ``{q: ((x mask, z mask), (x mask, z mask))}``, output qubit i being bit ``k − 1 − i`` of an
    index (this module's order, as :func:`_output_images`)."""
    from qclone.analysis.recovery import find_recovery, output_images

    rec = find_recovery(_layout(k, n), qubits)

    def big_endian(mask: int) -> int:  # output_images: bit i is target i
        return sum(1 << (k - 1 - i) for i in range(k) if mask >> i & 1)

    images = {q: tuple((big_endian(a), big_endian(b)) for a, b in pair) for q, pair in output_images(rec).items()}
    return rec, images


def _recovered_output(entry: _Entry, images: dict[int, Any]) -> np.ndarray:
    """The state a recovery leaves on its targets, from the aged joint state: as
    :func:`_decrypted_output`, every ageing channel on a qubit the recovery uses becomes a Pauli
    channel on the output (the recovery leaves the input on the targets in a product with the rest,
    so a channel on a qubit it does not use never reaches the output)."""
    return _through(entry, images.get)


def _check_retrieval(value: object) -> str:
    from qclone.storage.correction import check_retrieval

    return check_retrieval(value)


def _corrected(entry: _Entry, qubits: tuple[int, ...]) -> tuple[np.ndarray, dict]:
    """A corrected retrieval's output from the live ``qubits`` (see :mod:`qclone.storage.correction`);
    refused (InvalidArgumentError) when it could not correct anything."""
    from qclone.storage.correction import corrected_output, fallback_reason

    why = fallback_reason(entry.qubits, entry.clones, qubits)
    if why is not None:
        raise InvalidArgumentError(f"corrected retrieval refused: {why}")
    return corrected_output(entry.qubits, entry.clones, _input_density(entry), entry.noise, qubits)


def _dump_joint(entry: _Entry) -> bytes:
    """``MAGIC, u32 len, header JSON (k, n, input shape, keep_reference, ageing record), the input
    as little-endian complex128, u32 crc`` (the encrypted joint state is a function of the input)."""
    data = np.ascontiguousarray(entry.input, dtype="<c16")
    header = json.dumps({"qubits": entry.qubits, "clones": entry.clones, "shape": list(data.shape),
                         "keep_reference": entry.keep_reference, "aged": entry.aged,
                         **({} if entry.holders is None else {"holders": entry.holders}),
                         **({"noise": entry.noise, "lagging": {str(q): g for q, g in entry.lagging.items()},
                             "op": entry.op, "ops": entry.ops} if entry.ops or entry.op is not None or entry.noise
                            else {})}
                        ).encode()
    body = b"".join([_MAGIC, struct.pack("<I", len(header)), header, data.tobytes()])
    return body + struct.pack("<I", zlib.crc32(body))


def _dump_joints(entries: dict[str, _Entry]) -> dict[str, bytes]:
    """:func:`_dump_joint` of many entries, byte for byte: the header (JSON) made once per distinct
    shape and holder map, then per object only its input's bytes and the checksum."""
    headers: dict[tuple, bytes] = {}
    out: dict[str, bytes] = {}
    crc32, pack = zlib.crc32, struct.pack
    for object_id, e in entries.items():
        if e.ops or e.op is not None:  # a gated object (never in a new batch): the general form
            out[object_id] = _dump_joint(e)
            continue
        data = np.ascontiguousarray(e.input, dtype="<c16")
        key = (e.qubits, e.clones, data.shape, e.keep_reference, tuple(sorted(e.aged.items())),
               None if e.holders is None else tuple((h, tuple(v)) for h, v in e.holders.items()))
        head = headers.get(key)
        if head is None:
            header = json.dumps({"qubits": e.qubits, "clones": e.clones, "shape": list(data.shape),
                                 "keep_reference": e.keep_reference, "aged": e.aged,
                                 **({} if e.holders is None else {"holders": e.holders})}).encode()
            head = headers[key] = _MAGIC + pack("<I", len(header)) + header
        body = head + data.tobytes()
        out[object_id] = body + pack("<I", crc32(body))
    return out


def _load_joint(data: bytes, where: str) -> _Entry:
    try:
        body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
        data_crc = bytes(data[-4:])
        if not data.startswith(_MAGIC) or zlib.crc32(body) != crc:
            raise ValueError("bad magic or checksum")
        pos = len(_MAGIC)
        (hlen,) = struct.unpack_from("<I", body, pos)
        header = json.loads(body[pos + 4:pos + 4 + hlen])
        k, n = int(header["qubits"]), int(header["clones"])
        shape = tuple(int(x) for x in header["shape"])
        if not 1 <= k <= MAX_QUBITS or not 1 <= n <= MAX_CLONES or shape not in ((2**k,), (2**k, 2**k)):
            raise ValueError(f"bad sizes k = {k}, n = {n}, input shape {shape}")
        state = np.frombuffer(body, dtype="<c16", offset=pos + 4 + hlen).reshape(shape).astype(complex)
        aged = {str(a): float(t) for a, t in dict(header["aged"]).items()}
        keep = bool(header["keep_reference"])
        holders = header.get("holders")
        if holders is not None:
            holders = {str(h): [str(x) for x in labels] for h, labels in dict(holders).items()}
        noise = [(int(q), float(px), float(py), float(pz)) for q, px, py, pz in header.get("noise", [])]
        lagging = {int(q): str(g) for q, g in dict(header.get("lagging", {})).items()}
        op = header.get("op")
        ops = [dict(o) for o in header.get("ops", [])]
    except (ValueError, KeyError, TypeError, struct.error) as e:
        raise UnavailableError(f"the substrate cannot read the joint state of {where} (corrupt: {e})") from None
    return _Entry(k, n, state, keep, aged, noise, stamp=data_crc, holders=holders, lagging=lagging,
                  op=None if op is None else dict(op), ops=ops)


def _check_not_lagging(object_id: str, entry: _Entry, used: Any) -> None:
    """ConflictError when a qubit a decryption or recovery would use still waits for its holder's
    part of a logical gate (the state there is not the gated code word yet)."""
    late = sorted(set(used) & set(entry.lagging))
    if late:
        lay = entry.layout
        raise ConflictError(f"object {object_id!r}: a logical gate is still being applied "
                            f"(qubits {', '.join(lay.label(q, long=True) for q in late[:8])} wait for their holders)")


class _NoJointStateError(Exception):
    """Rolls back a decryption transaction that found no joint state to delete."""


class _GrantUsedError(Exception):
    """Rolls back a transaction that found one of its one-time authorizations used already."""


class _ChangedError(UnavailableError):
    """A live object's row changed since it was read (another instance wrote it): nothing was
    written; reading it again and retrying is safe."""


def has_local_state(data_dir: Path) -> bool:
    """Whether the substrate file in ``data_dir`` exists and holds a joint state or an output."""
    path = Path(data_dir) / _DB_FILE
    if not path.is_file():
        return False
    db = LocalDB(data_dir, _SCHEMA, filename=_DB_FILE)
    try:
        return bool(db.query("SELECT EXISTS (SELECT 1 FROM joint) OR EXISTS (SELECT 1 FROM outputs)")[0][0])
    finally:
        db.close()


class Substrate:
    """Encrypts, stores, ages and decrypts the objects' joint states (see the module doc).

    Args:
        data_dir: directory of the SQLite file; ``None`` keeps everything in memory.
        durable: ``synchronous=FULL`` (every commit survives a power loss); the default
            ``synchronous=NORMAL`` survives the process being killed at any point, like the
            metadata database.
        shared: other instances (other processes) use the same file: trust no cached
            existence or output, read them from the file (needs ``data_dir``), and write memory
            noise (:meth:`age`) with its record, for the next call may reach another process.
        db_url: keep the records in PostgreSQL (:mod:`qclone.storage.pgstore`) instead of
            ``data_dir``; always shared (any number of processes, on any machines).
        max_connections: PostgreSQL: the connection pool's size.
        in_process: every call of one retrieval comes from this process (the substrate of an
            embedded server or a gateway): memory noise stays in memory even when shared, as it
            does unshared (a retrieval interrupted and taken over in another process ages again).
        authorize: ``authorize(authorization, object_id, attempt[, party]) -> nonce`` checks a
            holder's one-time authorization of a decryption or recovery (the vault's unless
            ``party`` names another holder; raising
            :class:`~qclone.storage.errors.UnauthorizedError`); set by the substrate node
            (:func:`qclone.storage.rpc.keys.check_grant`). Each nonce is accepted once (recorded
            in the decryption's transaction). None (the embedded service, where the vault and
            the substrate are one process): no authorization is asked for.
    """

    def __init__(self, data_dir: str | Path | None, *, durable: bool = False, shared: bool = False,
                 authorize: Callable[..., str] | None = None, db_url: str | None = None,
                 max_connections: int = 8, in_process: bool = False) -> None:
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.durable = bool(durable) or db_url is not None
        if shared and data_dir is None and db_url is None:
            raise InvalidArgumentError("a shared substrate needs a data dir (its SQLite file is what is shared) "
                                       "or a PostgreSQL URL")
        self.shared = bool(shared) or db_url is not None
        # shared by other processes that may take the next call about an object (a node's workers):
        # memory noise is written; in process, a retrieval ages and decrypts in this process
        self._write_ageing = self.shared and not in_process
        self._locks = [threading.RLock() for _ in range(_LOCK_STRIPES)]
        self._cache_lock = threading.Lock()
        # memory mode: the only copy; file mode: an LRU cache of the files' contents
        self._states: OrderedDict[str, _Entry] = OrderedDict()
        self._outputs: OrderedDict[str, dict] = OrderedDict()
        self._authorize = authorize
        self._grants_used: set[str] = set()  # memory mode only
        self._fences: dict[str, int] = {}  # memory mode only (file mode: the fences table)
        self._moved: dict[str, dict[str, str]] = {}  # memory mode only (file mode: the moved table)
        self._db: LocalDB | PostgresStore | None = None
        if db_url is not None:
            from qclone.storage.pgstore import PostgresStore

            self._db = PostgresStore(db_url, _pg_schema, max_connections=max_connections)
        elif self.data_dir is not None:
            self._db = LocalDB(self.data_dir, _SCHEMA, filename=_DB_FILE, durable=self.durable)
        #: what the store raises (a class never raised without one)
        self._error: type[Exception] = _NoJointStateError if self._db is None else self._db.Error
        self._integrity: type[Exception] = _NoJointStateError if self._db is None else self._db.IntegrityError
        self._nonces_written = 0

    @property
    def store(self) -> str | None:
        """Where the records are: the SQLite file, or the PostgreSQL database and schema (no password)."""
        return None if self._db is None else str(self._db.path)

    # ------------------------------------------------------------------ plumbing
    def _lock(self, object_id: str) -> threading.RLock:
        return self._locks[_stripe(object_id)]

    @contextmanager
    def _locks_of(self, object_ids: Iterable[str]) -> Iterator[None]:
        """The locks of several objects (a batch), taken in stripe order: never a deadlock with
        another batch, nor with a call on one object (which holds one stripe)."""
        stripes = sorted({_stripe(o) for o in object_ids})
        for i in stripes:
            self._locks[i].acquire()
        try:
            yield
        finally:
            for i in reversed(stripes):
                self._locks[i].release()

    def _query(self, sql: str, object_id: str) -> Any:
        """The first row of a read about one object, or None."""
        assert self._db is not None
        try:
            rows = self._db.query(sql, (object_id,))
        except self._error as e:
            raise UnavailableError(f"the substrate cannot read its database {self._db.path} ({e})") from None
        return rows[0] if rows else None

    def _write(self, *statements: tuple[str, tuple[Any, ...]], key: str, crash_point: str | None = None,
               integrity: bool = False) -> None:
        """The statements about object ``key`` in one transaction (``integrity``: let an
        IntegrityError through)."""
        assert self._db is not None
        try:
            with self._db.tx(key=key) as c:
                for sql, params in statements:
                    c.execute(sql, params)
                if crash_point is not None:
                    faults.crash_point(crash_point)
        except self._error as e:
            if integrity and isinstance(e, self._integrity):
                raise
            raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None

    def _remember(self, table: OrderedDict, object_id: str, value: Any) -> None:
        with self._cache_lock:
            table[object_id] = value
            table.move_to_end(object_id)
            if self._db is not None:
                while len(table) > _CACHE_SIZE:
                    table.popitem(last=False)

    def _forget(self, table: OrderedDict, object_id: str) -> None:
        with self._cache_lock:
            table.pop(object_id, None)

    def _cached(self, table: OrderedDict, object_id: str) -> Any:
        with self._cache_lock:
            value = table.get(object_id)
            if value is not None:
                table.move_to_end(object_id)
            return value

    def _output(self, object_id: str) -> dict | None:
        """The object's output, if decrypted (call with the object's lock held)."""
        if not self.shared:
            out = self._cached(self._outputs, object_id)
            if out is not None or self._db is None or self._cached(self._states, object_id) is not None:
                return out  # a live cached state: it has no output (they never coexist)
        row = self._query("SELECT body FROM outputs WHERE object_id = ?", object_id)
        if row is None:
            return None
        try:
            out = json.loads(row[0])
        except ValueError as e:
            raise UnavailableError(f"the substrate cannot read the output of {object_id!r} ({e})") from None
        if not self.shared:  # shared: another instance may release it at any time
            self._remember(self._outputs, object_id, out)
        return out

    def _entry(self, object_id: str) -> _Entry | None:
        """The live joint state, or None (call with the object's lock held)."""
        if self.shared:
            # the row decides (another instance may have decrypted or discarded the object); a
            # cached entry only saves parsing the input, which never changes once created
            entry = self._cached(self._states, object_id)
            if entry is not None:
                row = self._query("SELECT substr(blob, length(blob) - 3, 4) FROM joint WHERE object_id = ?", object_id)
                if row is not None and bytes(row[0]) == entry.stamp:
                    return entry
                self._forget(self._states, object_id)
        elif self._output(object_id) is not None:
            return None
        else:
            entry = self._cached(self._states, object_id)
            if entry is not None or self._db is None:
                return entry
        row = self._query("SELECT blob FROM joint WHERE object_id = ?", object_id)
        if row is None:
            return None
        assert self._db is not None, "_query read it (a shared substrate has a data dir; a memory one returned above)"
        entry = _load_joint(bytes(row[0]), f"{self._db.path} (object {object_id})")
        self._remember(self._states, object_id, entry)
        return entry

    def _live(self, object_id: str) -> _Entry:
        entry = self._entry(object_id)
        if entry is not None:
            return entry
        if self._output(object_id) is not None:
            raise ConflictError(f"object {object_id!r} has already been decrypted; its clones and key are gone")
        raise NotFoundError(f"the substrate holds no object {object_id!r}")

    def _save(self, object_id: str, entry: _Entry) -> bool:
        """Insert a new object's joint state; False if the object has a row already (state or output)."""
        if self._db is not None:
            blob = _dump_joint(entry)
            entry.stamp = blob[-4:]
            try:
                self._write(("INSERT INTO joint (object_id, blob) VALUES (?, ?)", (object_id, blob)), key=object_id,
                            crash_point="substrate.create.tx", integrity=True)
            except self._integrity:
                return False
        self._remember(self._states, object_id, entry)
        return True

    @staticmethod
    def _describe(entry: _Entry) -> dict:
        k, n = entry.qubits, entry.clones
        clones, keys = _labels(k, n)
        return {"qubits": k, "clones": n, "clone_qubits": {str(j): list(c) for j, c in enumerate(clones, 1)},
                "key_qubits": list(keys)}

    def _indices(self, entry: _Entry, labels: Any) -> list[int]:
        if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
            raise InvalidArgumentError(f"labels must be a list of qubit labels, got {labels!r}")
        lay = entry.layout
        try:
            qs = [lay.index_of(label, long=True) for label in labels]
        except Exception as e:  # noqa: BLE001 - the layout raises InvalidArgumentError / UnsupportedError
            raise InvalidArgumentError(str(e)) from None
        if len(set(qs)) != len(qs):
            raise InvalidArgumentError(f"repeated qubit label in {list(labels)}")
        return qs

    # ------------------------------------------------------------------ interface
    def create(self, object_id: str, state: InputState, clones: int, *, keep_reference: bool,
               holders: dict[str, list[str]] | None = None) -> dict:
        """Encrypt ``state`` into ``clones`` clones and store the joint state.

        ``holders``: party -> the labels of the qubits it holds (the key qubits, ``A`` when a
        custodian keeps it, each clone at its provider); :meth:`recover` asks for the release of
        every party whose qubits a recovery uses. None: the vault holds the whole key (party ``vault``).

        Idempotent: creating an existing object with the same size and number of clones returns
        its description again (the state given the second time is not used).

        Returns:
            ``{"qubits": k, "clones": n, "clone_qubits": {"1": ["S0_1", ...], ...},
            "key_qubits": ["N0_1", ...]}``.

        Raises:
            ConflictError: the object exists with another size, or has already been decrypted.
        """
        object_id = _check_object_id(object_id)
        if not isinstance(state, InputState):
            raise InvalidArgumentError(f"state must be an InputState (see qclone.storage.inputs.parse_state), got {type(state).__name__}")
        if state.qubits > MAX_QUBITS:
            raise TooLargeError(f"a stored state has at most {MAX_QUBITS} qubits, got {state.qubits}")
        n = check_int(clones, "the number of clones", 1, MAX_CLONES)
        held = None if holders is None else _check_holders(holders, state.qubits, n)
        with self._lock(object_id):
            known = self._db is None or (not self.shared and (self._cached(self._states, object_id) is not None
                                                              or self._cached(self._outputs, object_id) is not None))
            if known:
                existing = self._existing(object_id, state.qubits, n)
                if existing is not None:
                    return existing
            entry = _Entry(state.qubits, n, np.array(state.engine_state, dtype=complex), bool(keep_reference), holders=held)
            if not self._save(object_id, entry):  # a row of the object is there: decide by it
                existing = self._existing(object_id, state.qubits, n)
                if existing is not None:
                    return existing
                raise UnavailableError(f"the substrate cannot store object {object_id!r}: its row vanished")
            return self._describe(entry)

    def _existing(self, object_id: str, k: int, n: int) -> dict | None:
        """The description of an existing object of that shape, None if there is none; else ConflictError."""
        if self._output(object_id) is not None:
            raise ConflictError(f"object {object_id!r} exists and has already been decrypted")
        existing = self._entry(object_id)
        if existing is None:
            return None
        if (existing.qubits, existing.clones) != (k, n):
            raise ConflictError(f"object {object_id!r} exists with {existing.qubits} qubits and {existing.clones} clones")
        return self._describe(existing)

    def create_many(self, objects: list[dict], clones: int, *, keep_reference: bool) -> dict:
        """:meth:`create` for a batch, in one transaction: ``objects`` is a list of at most
        :data:`~qclone.storage.inputs.MAX_BATCH` ``{"object_id", "state", "holders"}`` (each as
        :meth:`create` takes them; ``clones`` and ``keep_reference`` the same for all).

        The joint state of each object is its input (the encryption is a fixed Clifford, see the
        module doc), so a batch costs one header per distinct shape and holder map, the input's
        bytes and a checksum per object, and one ``INSERT`` of all rows. Idempotent as
        :meth:`create`: an object that exists with the same size and clones is left as it is.

        Returns:
            ``{"created": objects stored now, "existing": objects that were there already}``.

        Raises:
            InvalidArgumentError: a malformed item, an object id twice, too many objects.
            ConflictError: an object exists with another size, or has been decrypted.
        """
        from qclone.storage.inputs import MAX_BATCH

        if not isinstance(objects, list) or not 1 <= len(objects) <= MAX_BATCH:
            raise InvalidArgumentError(f"objects must be a list of 1..{MAX_BATCH} objects")
        n = check_int(clones, "the number of clones", 1, MAX_CLONES)
        keep = bool(keep_reference)
        entries: dict[str, _Entry] = {}
        checked: dict[tuple, dict[str, list[str]]] = {}  # a holder map checked once per batch
        for item in objects:
            if not isinstance(item, dict) or not set(item) <= {"object_id", "state", "holders"}:
                raise InvalidArgumentError("each object is {\"object_id\", \"state\", \"holders\"}")
            object_id = _check_object_id(item.get("object_id"))
            if object_id in entries:
                raise InvalidArgumentError(f"object {object_id!r} appears twice in the batch")
            state = item.get("state")
            if not isinstance(state, InputState):
                raise InvalidArgumentError(f"object {object_id!r}: the state must be an InputState")
            if state.qubits > MAX_QUBITS:
                raise TooLargeError(f"a stored state has at most {MAX_QUBITS} qubits, got {state.qubits}")
            holders = item.get("holders")
            held = None
            if holders is not None:
                try:
                    sig = (state.qubits, *((h, *v) for h, v in holders.items()))
                except (AttributeError, TypeError):
                    sig = None
                held = checked.get(sig) if sig is not None else None
                if held is None:
                    held = _check_holders(holders, state.qubits, n)
                    if sig is not None:
                        checked[sig] = held
            entries[object_id] = _Entry(state.qubits, n, np.array(state.engine_state, dtype=complex), keep, holders=held)
        with self._locks_of(entries):
            if self._db is None:
                fresh = [o for o in entries if self._existing(o, entries[o].qubits, n) is None]
                for o in fresh:
                    self._remember(self._states, o, entries[o])
            else:
                fresh = self._save_many(entries)
        return {"created": len(fresh), "existing": len(entries) - len(fresh)}

    def _save_many(self, entries: dict[str, _Entry]) -> list[str]:
        """Insert the joint states of a batch in one transaction (those not there yet); the ids
        inserted. ConflictError (nothing written) if one exists with another shape or was decrypted."""
        assert self._db is not None
        ids = sorted(entries)  # in one order: two batches naming the same objects take their locks alike
        marks = ",".join("?" * len(ids))
        blobs = _dump_joints(entries)
        try:
            with self._db.tx() as c:
                self._lock_rows(c, ids)
                decrypted = c.execute(f"SELECT object_id FROM outputs WHERE object_id IN ({marks})", ids).fetchall()
                if decrypted:
                    raise ConflictError(f"object {decrypted[0][0]!r} exists and has already been decrypted")
                there = dict(c.execute(f"SELECT object_id, blob FROM joint WHERE object_id IN ({marks})", ids).fetchall())
                for object_id, blob in there.items():
                    old = _load_joint(bytes(blob), f"{self._db.path} (object {object_id})")
                    new = entries[object_id]
                    if (old.qubits, old.clones) != (new.qubits, new.clones):
                        raise ConflictError(f"object {object_id!r} exists with {old.qubits} qubits and "
                                            f"{old.clones} clones")
                fresh = [o for o in ids if o not in there]
                c.executemany("INSERT INTO joint (object_id, blob) VALUES (?, ?)", [(o, blobs[o]) for o in fresh])
                faults.crash_point("substrate.create_many.tx")
        except self._error as e:
            raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None
        for o in fresh:
            entries[o].stamp = blobs[o][-4:]
        return fresh

    def _lock_rows(self, c: Any, ids: list[str]) -> None:
        """In a batch's transaction on PostgreSQL: every object's advisory lock, in the order of
        ``ids`` (what one object's transaction takes, see :mod:`qclone.storage.pgstore`); SQLite's
        ``BEGIN IMMEDIATE`` already serialises every write."""
        schema = getattr(self._db, "schema", None)
        if schema is not None:
            c.execute("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(?::text[]) AS k",
                      ([f"{schema}:{o}" for o in ids],))

    def exists(self, object_id: str) -> bool:
        """Whether the object's joint state (its clones and key) is still present."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            return self._entry(object_id) is not None

    def describe(self, object_id: str) -> dict:
        """What :meth:`create` returned for a live object."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            return self._describe(self._live(object_id))

    def age(self, object_id: str, labels: list[str], duration: float, t1: float, t2: float) -> None:
        """Memory noise: Pauli-twirled T1/T2 relaxation on the qubits ``labels``.

        ``duration`` is the total time (seconds) those qubits have been stored; a qubit already
        aged for t₀ gets the channel for ``duration − t₀`` only (nothing if that is <= 0).

        Raises:
            InvalidArgumentError: bad labels, or not time >= 0, T1 > 0, 0 < T2 <= 2 T1.
            NotFoundError / ConflictError: no such object / already decrypted.
        """
        object_id = _check_object_id(object_id)
        twirled_relaxation(duration, t1, t2)  # validates the numbers
        for _ in range(_WRITE_TRIES):
            with self._lock(object_id):
                entry = self._live(object_id)
                qs = self._indices(entry, labels)
                aged = dict(entry.aged)
                noise = list(entry.noise)
                for label, q in zip(labels, qs):
                    delta = float(duration) - aged.get(label, 0.0)
                    if delta <= 0:
                        continue
                    px, py, pz = twirled_relaxation(delta, t1, t2)
                    if q in entry.lagging:  # its holder has not applied a logical gate's part yet: C_q† first
                        from qclone.storage.gates import conjugate_channel

                        px, py, pz = conjugate_channel((px, py, pz), entry.lagging[q])
                    if px or py or pz:
                        noise.append((q, float(px), float(py), float(pz)))
                    aged[label] = float(duration)
                if len(noise) == len(entry.noise) and aged == entry.aged:
                    return
                if not self._write_ageing:
                    # Kept in memory only: the database keeps the state and its record of ageing as of
                    # the last write, a consistent pair. If the ageing is lost (a restart, a cache
                    # eviction, a crash before decryption) the next age() call applies the missing
                    # noise again, which is exactly right for a retrieval that is retried.
                    entry.noise, entry.aged = noise, aged
                    self._remember(self._states, object_id, entry)
                    return
                # Shared: the next call about the object (its decryption) may run in another process,
                # so the ageing is written with its record (a compare-and-set on the row read).
                try:
                    self._replace(object_id, dataclasses.replace(entry, noise=noise, aged=aged), (), entry.stamp,
                                  crash_point="substrate.age.tx")
                    return
                except _ChangedError:
                    continue  # another instance wrote the row meanwhile: age what it wrote
        raise UnavailableError(f"object {object_id!r} keeps changing (other instances); try again")

    def peek(self, object_id: str, labels: list[str]) -> np.ndarray:
        """The reduced density matrix of ``labels`` (in that order): all a holder of them can learn."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            entry = self._live(object_id)
            return entry.aged_state().reduced_density_matrix(self._indices(entry, labels))

    def fence(self, object_id: str, fence: int) -> dict:
        """Raise the object's fencing token to at least ``fence``: from now on a decryption by an
        attempt with a lower fence is refused. What recovery calls before it decides whether
        an attempt it takes over has decrypted (after this call, that cannot change).

        Returns:
            ``{"fence": the object's fence now, "exists": the joint state is live,
            "output_attempt": the attempt of its output, or None}``.
        """
        object_id = _check_object_id(object_id)
        fence = check_int(fence, "fence", 0, 2**62)
        with self._lock(object_id):
            if self._db is None:
                now = self._fences[object_id] = max(fence, self._fences.get(object_id, 0))
            else:
                self._write(("INSERT INTO fences (object_id, fence) VALUES (?, ?) ON CONFLICT (object_id) "
                             "DO UPDATE SET fence = excluded.fence WHERE excluded.fence > fences.fence",
                             (object_id, fence)), key=object_id)
                now = int(self._query("SELECT fence FROM fences WHERE object_id = ?", object_id)[0])
                self._forget(self._states, object_id)  # read the row again: another instance may have decrypted
            out = self._output(object_id)
            return {"fence": now, "exists": self._entry(object_id) is not None,
                    "output_attempt": None if out is None else out["attempt"]}

    def _fence_of(self, object_id: str) -> int:
        if self._db is None:
            return self._fences.get(object_id, 0)
        row = self._query("SELECT fence FROM fences WHERE object_id = ?", object_id)
        return 0 if row is None else int(row[0])

    def decrypt(self, object_id: str, clone: int, attempt: str, fence: int | None = None,
                authorization: dict | None = None) -> dict:
        """Decrypt clone ``clone`` with the key, consuming the joint state; the one decryption.

        ``fence``: the attempt's fencing token; refused (``ConflictError``) when the object's
        fence (:meth:`fence`) is higher, checked inside the decryption's transaction.

        Returns:
            ``{"object_id", "qubits", "clone", "attempt", "labels" (the clone's qubits),
            "density_matrix" ({"real", "imag"}: the decrypted k-qubit state), "fidelity"
            (with the input, if a reference was kept, else None), "reference" (the kept
            input, ``{"real", "imag"}``, or None)}``. The same attempt again returns the same output
            (with a fresh authorization where one is needed).

        Raises:
            UnauthorizedError: this substrate needs the vault's authorization and ``authorization``
                is missing, forged, for another object or attempt, expired or used before.
            ConflictError: the object was decrypted by another attempt, or a newer attempt
                raised its fence.
            NotFoundError: no such object.
        """
        object_id = _check_object_id(object_id)
        attempt = _check_attempt(attempt)
        if fence is not None:
            fence = check_int(fence, "fence", 0, 2**62)
        grant = None if self._authorize is None else self._authorize(authorization, object_id, attempt)
        with self._lock(object_id):
            if grant is not None and self._known_used(grant):
                raise UnauthorizedError("this decryption authorization has been used already")
            out = self._output(object_id)
            if out is not None:
                if out["attempt"] == attempt:
                    self._use_grant(grant, object_id)
                    return out
                raise ConflictError(f"object {object_id!r} has already been decrypted by another attempt")
            if fence is not None and self._fence_of(object_id) > fence:
                raise ConflictError(f"object {object_id!r}: a newer attempt took over this retrieval")
            entry = self._live(object_id)
            if not is_int(clone) or not 1 <= clone <= entry.clones:
                raise InvalidArgumentError(f"clone must be an integer in 1..{entry.clones}, got {clone!r}")
            j = int(clone)
            _check_not_lagging(object_id, entry, [*entry.layout.clone(j), *entry.layout.keys])
            out = _output_record(object_id, entry, attempt, _decrypted_output(entry, j), clone=j,
                                 labels=list(_labels(entry.qubits, entry.clones)[0][j - 1]))
            return self._settle(object_id, attempt, out, fence, [grant], "decrypted",
                                "its clones and key are gone")

    def holders(self, object_id: str) -> dict[str, list[str]]:
        """Party -> the labels of the qubits it holds (what :meth:`create` was given, with the clones
        :meth:`assign` moved since; ``{"vault": the key}`` for an object created without it)."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            return self._holders_of(object_id, self._live(object_id))

    def _holders_of(self, object_id: str, entry: _Entry) -> dict[str, list[str]]:
        base = entry.holders if entry.holders is not None else {"vault": list(_labels(entry.qubits, entry.clones)[1])}
        out = {h: list(labels) for h, labels in base.items()}
        if self._db is None:
            moved = dict(self._moved.get(object_id, {}))
        else:
            try:
                moved = dict(self._db.query("SELECT label, party FROM moved WHERE object_id = ?", (object_id,)))
            except self._error as e:
                raise UnavailableError(f"the substrate cannot read its database {self._db.path} ({e})") from None
        for label, party in moved.items():
            for labels in out.values():
                if label in labels:
                    labels.remove(label)
            out.setdefault(party, []).append(label)
        return {h: labels for h, labels in out.items() if labels}

    def assign(self, object_id: str, labels: list[str], party: str) -> None:
        """The clone qubits ``labels`` are held by ``party`` from now on (a provider replaced during
        a put, or a clone drained to another provider): a recovery that uses them needs that party's
        release. Idempotent.

        Raises:
            InvalidArgumentError: not clone qubits of the object, or a bad party name.
            NotFoundError / ConflictError: no such object / already recovered.
        """
        object_id = _check_object_id(object_id)
        if not isinstance(party, str) or not _PARTY.fullmatch(party):
            raise InvalidArgumentError(f"a holder is 1-80 letters, digits, '_', '.', ':' or '-', got {party!r}")
        with self._lock(object_id):
            entry = self._live(object_id)
            lay = entry.layout
            clones = {q for j in range(1, entry.clones + 1) for q in lay.clone(j)}
            if any(q not in clones for q in self._indices(entry, labels)):
                raise InvalidArgumentError("only clone qubits move to another holder")
            if self._db is None:
                self._moved.setdefault(object_id, {}).update({str(x): party for x in labels})
            else:
                self._write(*[("INSERT INTO moved (object_id, label, party) VALUES (?, ?, ?) ON CONFLICT "
                               "(object_id, label) DO UPDATE SET party = excluded.party", (object_id, str(x), party))
                              for x in labels], key=object_id)

    def recover(self, object_id: str, qubits: list[str], attempt: str, fence: int | None = None,
                authorizations: dict | None = None, retrieval: str = "plain", fallback: str | None = None) -> dict:
        """Recover the state from the qubits ``qubits`` (labels; any authorized set), consuming the
        joint state; the one recovery, as :meth:`decrypt` is (which is the case of one clone and
        the whole key).

        The recovery is found by the stabilizer algebra (:func:`qclone.analysis.recovery.find_recovery`:
        a Clifford acting only on those qubits that puts the input on some of them, the protocol's
        own decryption when they hold a clone and the whole key) and its output computed exactly:
        the input with every ageing channel of a qubit it uses mapped onto the output
        (:func:`qclone.analysis.recovery.output_images`). Every party of the object's holder map
        (:meth:`holders`) whose qubits the recovery uses must release them for this object and
        attempt: with an ``authorize`` check, ``authorizations[party]`` is that party's one-time
        authorization (each accepted once, recorded in the recovery's transaction).

        ``retrieval="corrected"``: measure the code's stabilizers among all of ``qubits``, correct,
        then recover (:func:`qclone.storage.correction.corrected_output`, exact); every party holding
        one of them must release it. ``fallback``: with the plain retrieval, why a corrected one was
        asked for and not run (recorded with the output).

        Returns:
            As :meth:`decrypt`, with ``"clone"`` the decrypted clone j for a plain decryption (else
            None), ``"labels"`` the qubits holding the output, ``"used"`` the qubits the recovery
            acted on and ``"parties"`` the holders whose releases it needed. The same attempt again
            returns the same output.

        Raises:
            UnauthorizedSetError (an InvalidArgumentError): the qubits cannot recover the state
                (with what they lack, e.g. "the set learns nothing about the state").
            UnauthorizedError: a needed party's authorization is missing, forged, for another object
                or attempt, expired or used before.
            ConflictError: recovered or decrypted already (by another attempt), or a newer attempt
                raised the fence. NotFoundError: no such object.
        """
        object_id = _check_object_id(object_id)
        attempt = _check_attempt(attempt)
        if fence is not None:
            fence = check_int(fence, "fence", 0, 2**62)
        if authorizations is not None and (not isinstance(authorizations, dict) or len(authorizations) > MAX_HOLDERS):
            raise InvalidArgumentError(f"authorizations map at most {MAX_HOLDERS} parties to their releases")
        corrected = _check_retrieval(retrieval) == "corrected"
        with self._lock(object_id):
            out = self._output(object_id)
            if out is not None:
                if out["attempt"] != attempt:
                    raise ConflictError(f"object {object_id!r} has already been recovered by another attempt")
                if self._authorize is not None:  # the same attempt again: with fresh releases, as the first time
                    for party in out.get("parties") or []:
                        nonce = self._authorize((authorizations or {}).get(party), object_id, attempt, party)
                        if self._known_used(nonce):
                            raise UnauthorizedError(f"the release of {party} has been used already")
                        self._use_grant(nonce, object_id)
                return out
            if fence is not None and self._fence_of(object_id) > fence:
                raise ConflictError(f"object {object_id!r}: a newer attempt took over this retrieval")
            entry = self._live(object_id)
            qs = tuple(sorted(set(self._indices(entry, qubits))))
            rec, images = _recovery(entry.qubits, entry.clones, qs)
            used = set(qs) if corrected else set(rec.qubits)  # a corrected retrieval measures every qubit given
            _check_not_lagging(object_id, entry, used)
            lay = entry.layout
            holders = self._holders_of(object_id, entry)
            parties = sorted(h for h, labels in holders.items()
                             if any(lay.index_of(x, long=True) in used for x in labels))
            grants: list[str] = []
            if self._authorize is not None:
                given = authorizations or {}
                for party in parties:
                    nonce = self._authorize(given.get(party), object_id, attempt, party)
                    if self._known_used(nonce) or nonce in grants:
                        raise UnauthorizedError(f"the release of {party} has been used already")
                    grants.append(nonce)
            rho, mode = _corrected(entry, qs) if corrected else \
                (_recovered_output(entry, images), {"retrieval": "plain", "fallback": fallback})
            out = _output_record(object_id, entry, attempt, rho, clone=rec.plain_clone,
                                 labels=[lay.label(q, long=True) for q in rec.targets],
                                 used=[lay.label(q, long=True) for q in (sorted(used) if corrected else rec.qubits)],
                                 parties=parties, **mode)
            return self._settle(object_id, attempt, out, fence, grants, "recovered", "its qubits are gone")

    def _settle(self, object_id: str, attempt: str, out: dict, fence: int | None, grants: Sequence[str | None],
                verb: str, gone: str) -> dict:
        """Commit the output ``out`` of a decryption or recovery (consuming the joint state and the
        one-time authorizations ``grants``) and return it. When the joint state was gone by the time
        the transaction ran (another instance retrieved or discarded it), nothing was written and the
        answer is the one a call after that would get: that attempt's output, or a ConflictError
        (``verb``: "decrypted" / "recovered"; ``gone``: what the last message says is lost)."""
        if self._db is None:
            for nonce in grants:
                self._use_grant(nonce, object_id)
        elif not self._commit_decryption(object_id, attempt, out, fence, *grants):
            self._forget(self._states, object_id)
            done = self._output(object_id)
            if done is not None and done["attempt"] == attempt:
                for nonce in grants:  # another instance committed this attempt: these are used now
                    self._use_grant(nonce, object_id)
                return done
            if done is not None:
                raise ConflictError(f"object {object_id!r} has already been {verb} by another attempt")
            if fence is not None and self._fence_of(object_id) > fence:
                raise ConflictError(f"object {object_id!r}: a newer attempt took over this retrieval")
            raise ConflictError(f"object {object_id!r} was {verb} or discarded meanwhile; {gone}")
        self._forget(self._states, object_id)
        if not self.shared:
            self._remember(self._outputs, object_id, out)
        return out

    def _grant_used(self, nonce: str) -> bool:
        """Whether a one-time authorization has been used."""
        if self._db is None:
            return nonce in self._grants_used
        return self._query("SELECT 1 FROM grants WHERE nonce = ?", nonce) is not None

    def _known_used(self, nonce: str) -> bool:
        """A refusal ahead of the work: in memory, whether the authorization has been used; with a
        database, False (the transaction that uses it decides, :data:`_USE_GRANT`; no read ahead)."""
        return self._db is None and nonce in self._grants_used

    def _use_grant(self, nonce: str | None, object_id: str) -> None:
        """Record a one-time authorization as used; UnauthorizedError if it was already."""
        if nonce is None:
            return
        if self._db is None:
            if nonce in self._grants_used:
                raise UnauthorizedError("this authorization has been used already")
            self._grants_used.add(nonce)
            return
        try:
            with self._db.tx(key=object_id) as c:
                if c.execute(_USE_GRANT, (nonce, object_id)).rowcount != 1:
                    raise _GrantUsedError
        except _GrantUsedError:
            raise UnauthorizedError("this authorization has been used already") from None
        except self._error as e:
            raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None

    def _commit_decryption(self, object_id: str, attempt: str, out: dict, fence: int | None = None,
                           *grants: str | None) -> bool:
        """One transaction: delete the joint state, insert the output (and record the used
        authorizations ``grants``), or write nothing. False (and nothing written) if there was no
        joint state to delete, or (``fence``) the object's fence is higher."""
        assert self._db is not None
        delete = "DELETE FROM joint WHERE object_id = ?"
        params: tuple[Any, ...] = (object_id,)
        if fence is not None:
            delete += " AND NOT EXISTS (SELECT 1 FROM fences WHERE object_id = ? AND fence > ?)"
            params = (object_id, object_id, fence)
        try:
            with self._db.tx(key=object_id) as c:
                if c.execute(delete, params).rowcount != 1:
                    raise _NoJointStateError
                c.execute("INSERT INTO outputs (object_id, attempt, body) VALUES (?, ?, ?)",
                          (object_id, attempt, json.dumps(out)))
                for grant in grants:
                    if grant is not None and c.execute(_USE_GRANT, (grant, object_id)).rowcount != 1:
                        raise _GrantUsedError
                faults.crash_point("substrate.decrypt.tx")
        except _NoJointStateError:
            return False
        except _GrantUsedError:
            raise UnauthorizedError("this authorization has been used already") from None
        except self._error as e:
            raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None
        return True

    def apply(self, object_id: str, op: str, gate: str, gates: dict[str, str], parties: list[str],
              gate_error: float = 0.0, authorizations: dict | None = None) -> dict:
        """A logical gate on the stored object: the holders ``parties`` apply their local parts of
        the gate ``op`` (``gates``: qubit label -> local gate name, the whole plan, the same on every
        call of one op; ``gate`` its name, for the record).

        The first call of an op starts it: the plan must be a logical gate
        (:func:`qclone.storage.gates.logical_action`, from the stabilizer algebra) and the object
        must have no other gate in progress. The object is then represented exactly as
        ``C_lag† ∘ noise'(Enc(Gψ))`` (:func:`qclone.storage.gates.gated`): the input is ``Gψ``
        (the kept reference follows it), the ageing so far is conjugated through the local gates,
        and the qubits of the holders that have not applied their part yet (``lagging``) still carry
        ``C_q†``; a decryption or recovery that uses one of them is refused until its holder has
        applied its part. Each part applied adds its gate noise (depolarizing ``gate_error`` on each
        qubit it touches). Qubits no party holds (``A`` when the placement keeps it nowhere) are
        acted on at once. With an ``authorize`` check, every party in ``parties`` must send its
        one-time receipt (``authorizations[party]``, signed by its node for this object, op and its
        own gates). The new state is one transaction; a party's part is applied at most once.

        Returns:
            ``{"op", "gate", "done": parties that applied their part, "pending": parties that have
            not, "complete": bool, "gates_applied": how many logical gates the object has had}``.

        Raises:
            InvalidArgumentError: bad labels or gates, not a logical gate, a party holding nothing.
            ConflictError: another gate is in progress, the op's gates differ, decrypted already.
            UnauthorizedError: a receipt is missing, forged or used. NotFoundError: no such object.
        """
        from qclone.errors import check_real
        from qclone.storage.gates import depolarizing, gated, gates_digest, local_matrix

        object_id = _check_object_id(object_id)
        op = _check_attempt(op)
        if not isinstance(gate, str) or not 0 < len(gate) <= 32:
            raise InvalidArgumentError(f"gate must be a short name, got {gate!r}")
        p1 = check_real(gate_error, "gate_error", 0.0, 0.75)
        if not isinstance(gates, dict) or not isinstance(parties, list) or len(parties) > MAX_HOLDERS:
            raise InvalidArgumentError(f"gates map qubit labels to local gates; parties is a list of at most "
                                       f"{MAX_HOLDERS} holders")
        if authorizations is not None and (not isinstance(authorizations, dict) or len(authorizations) > MAX_HOLDERS):
            raise InvalidArgumentError(f"authorizations map at most {MAX_HOLDERS} parties to their receipts")
        for name in gates.values():
            local_matrix(name)
        digest = gates_digest(gates)
        with self._lock(object_id):
            entry = self._live(object_id)
            lay = entry.layout
            if len(gates) > lay.num_qubits:
                raise InvalidArgumentError(f"gates name at most {lay.num_qubits} qubits")
            index = dict(zip(gates, self._indices(entry, list(gates)), strict=True))
            holders = self._holders_of(object_id, entry)
            done_before = next((o for o in entry.ops if o["id"] == op), None)
            if done_before is not None:  # applied completely before: nothing to do
                if done_before["digest"] != digest:
                    raise ConflictError(f"object {object_id!r}: op {op} was applied with other gates")
                return self._gate_status(entry, holders, done_before, complete=True)
            if entry.op is not None and entry.op["id"] != op:
                raise ConflictError(f"object {object_id!r}: logical gate {entry.op['gate']} (op {entry.op['id']}) "
                                    "is still being applied")
            if entry.op is not None and entry.op["digest"] != digest:
                raise ConflictError(f"object {object_id!r}: op {op} was started with other gates")
            for party in parties:
                if party not in holders:
                    raise InvalidArgumentError(f"{party!r} holds no qubit of object {object_id!r}")
            new = _Entry(entry.qubits, entry.clones, entry.input, entry.keep_reference, dict(entry.aged),
                         list(entry.noise), holders=entry.holders, lagging=dict(entry.lagging),
                         op=None if entry.op is None else {**entry.op, "done": list(entry.op["done"])},
                         ops=list(entry.ops), _state=entry._state)
            if new.op is None:  # start it: the whole plan's logical action, exactly
                by_q = {index[label]: name for label, name in gates.items()}
                new.input, new.noise, acted = gated(entry.qubits, entry.clones, entry.input, entry.noise, by_q)
                if not acted:
                    raise InvalidArgumentError("these gates act on no qubit of the object")
                held = {lay.index_of(x, long=True) for labels in holders.values() for x in labels}
                new.lagging = {q: name for q, name in by_q.items() if name != "I" and q in held}
                new.op = {"id": op, "gate": gate, "gates": dict(gates), "digest": digest, "done": [],
                          "register_qubits": acted}
                new._state = None  # a new input: its encryption is built again when needed
            grants: list[str] = []
            for party in parties:
                if party in new.op["done"]:
                    continue
                mine = {x: gates[x] for x in holders[party] if gates.get(x, "I") != "I"}
                if self._authorize is not None:
                    nonce = self._authorize((authorizations or {}).get(party), object_id, f"{op}:{gates_digest(mine)}",
                                            party, purpose="apply")
                    if self._known_used(nonce) or nonce in grants:
                        raise UnauthorizedError(f"the receipt of {party} has been used already")
                    grants.append(nonce)
                for label in mine:
                    q = lay.index_of(label, long=True)
                    new.lagging.pop(q, None)
                    if p1 > 0:
                        new.noise.append((q, *depolarizing(p1)))
                new.op["done"].append(party)
            if not new.lagging:
                new.ops.append({"id": op, "gate": gate, "digest": digest, "parties": sorted(new.op["done"]),
                                "register_qubits": new.op["register_qubits"]})
                new.op = None
            from qclone.storage.gates import compact

            new.noise = compact(new.noise)
            self._replace(object_id, new, grants, entry.stamp)
            record = new.ops[-1] if new.op is None else new.op
            return self._gate_status(new, holders, record, complete=new.op is None)

    @staticmethod
    def _gate_status(entry: _Entry, holders: dict[str, list[str]], record: dict, *, complete: bool) -> dict:
        lagging = {entry.layout.label(q, long=True) for q in entry.lagging}
        pending = sorted(h for h, labels in holders.items() if lagging & set(labels))
        done = sorted(record.get("done", record.get("parties", [])))
        return {"op": record["id"], "gate": record["gate"], "done": done, "pending": [] if complete else pending,
                "complete": complete, "gates_applied": len(entry.ops)}

    def gate_state(self, object_id: str) -> dict:
        """The object's logical gates: ``{"applied": [{"id", "gate", "parties", "register_qubits"}],
        "in_progress": None or {"op", "gate", "done", "pending"}}``."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            entry = self._live(object_id)
            holders = self._holders_of(object_id, entry)
            progress = None if entry.op is None else self._gate_status(entry, holders, entry.op, complete=False)
            return {"applied": [{k: o[k] for k in ("id", "gate", "parties", "register_qubits")} for o in entry.ops],
                    "in_progress": progress}

    def _replace(self, object_id: str, entry: _Entry, grants: Sequence[str], was: bytes,
                 crash_point: str = "substrate.apply.tx") -> None:
        """Write a live object's new joint state (and the receipts it used) in one transaction, if
        its row is still the one read (``was``: its checksum; another instance on a shared file may
        have written it meanwhile: then nothing is written and the caller may try again)."""
        if self._db is None:
            for nonce in grants:
                self._use_grant(nonce, object_id)
        else:
            blob = _dump_joint(entry)
            entry.stamp = blob[-4:]
            assert self._db is not None
            try:
                with self._db.tx(key=object_id) as c:
                    if c.execute("UPDATE joint SET blob = ? WHERE object_id = ? AND substr(blob, length(blob) - 3, 4) = ?",
                                 (blob, object_id, was)).rowcount != 1:
                        raise _NoJointStateError
                    for nonce in grants:
                        if c.execute(_USE_GRANT, (nonce, object_id)).rowcount != 1:
                            raise _GrantUsedError
                    faults.crash_point(crash_point)
            except _NoJointStateError:
                self._forget(self._states, object_id)
                if self._entry(object_id) is not None:
                    raise _ChangedError(f"object {object_id!r} changed meanwhile (another instance); "
                                        "try again") from None
                raise ConflictError(f"object {object_id!r} was decrypted or discarded meanwhile") from None
            except _GrantUsedError:
                self._forget(self._states, object_id)
                raise UnauthorizedError("a receipt has been used already") from None
            except self._error as e:
                raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None
        self._remember(self._states, object_id, entry)

    def output(self, object_id: str) -> dict | None:
        """The decrypted output (as :meth:`decrypt` returned it), or None."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            return self._output(object_id)

    def sample(self, object_id: str, basis: str, shots: int, seed: int | None) -> list[str]:
        """Measure every output qubit in ``basis`` (X, Y or Z) ``shots`` times.

        Outcomes are bitstrings, the first character for the first output qubit; ``0`` is the
        +1 eigenstate (|0⟩, |+⟩, |+i⟩). Sampled from the output density matrix, which stays
        (sampling models measuring fresh copies; it is for demonstrations and checks).

        Raises:
            NotFoundError: the object has no output (not decrypted, or already released).
        """
        object_id = _check_object_id(object_id)
        if not isinstance(basis, str) or basis.upper() not in BASES:
            raise InvalidArgumentError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
        n_shots = check_int(shots, "shots", 1, MAX_SHOTS)
        if seed is not None and (not is_int(seed) or seed < 0):
            raise InvalidArgumentError(f"seed must be an integer >= 0 or null, got {seed!r}")
        with self._lock(object_id):
            out = self._output(object_id)
        if out is None:
            raise NotFoundError(f"object {object_id!r} has no decrypted output to sample")
        return sample_state(decode_array(out["density_matrix"], name="output"), basis, n_shots, seed)

    def release(self, object_id: str) -> None:
        """Drop the output once it has been delivered (idempotent; a live joint state stays)."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            self._forget(self._outputs, object_id)
            if self._db is not None:
                try:
                    self._db.execute("DELETE FROM outputs WHERE object_id = ?", (object_id,))
                except self._error as e:
                    raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None

    def discard(self, object_id: str) -> None:
        """Delete everything of the object: joint state and output (idempotent)."""
        object_id = _check_object_id(object_id)
        with self._lock(object_id):
            self._forget(self._outputs, object_id)
            self._forget(self._states, object_id)
            self._fences.pop(object_id, None)
            self._moved.pop(object_id, None)
            if self._db is not None:
                self._write(("DELETE FROM outputs WHERE object_id = ?", (object_id,)),
                            ("DELETE FROM joint WHERE object_id = ?", (object_id,)),
                            ("DELETE FROM fences WHERE object_id = ?", (object_id,)),
                            ("DELETE FROM moved WHERE object_id = ?", (object_id,)), key=object_id)

    def remember_request(self, nonce: str, expires: float) -> bool:
        """Shared mode: record the nonce of a signed request for every instance on the store (until
        ``expires``, a Unix time); False if one has seen it already (a replay to another worker of
        the node). Not a port method: the node's request check calls it. Without a shared store: True."""
        if self._db is None or not self.shared:
            return True
        try:
            fresh = self._db.execute("INSERT INTO request_nonces (nonce, expires) VALUES (?, ?) "
                                     "ON CONFLICT (nonce) DO NOTHING", (str(nonce), float(expires))) == 1
            self._nonces_written += 1
            if self._nonces_written % _NONCE_SWEEP == 0:  # expired nonces can never match again
                self._db.execute("DELETE FROM request_nonces WHERE expires < ?", (time.time(),))
        except self._error as e:
            raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None
        return fresh

    def discard_many(self, object_ids: list[str]) -> None:
        """:meth:`discard` of a batch of at most :data:`~qclone.storage.inputs.MAX_BATCH` objects,
        in one transaction (idempotent)."""
        from qclone.storage.inputs import MAX_BATCH

        if not isinstance(object_ids, list) or not 1 <= len(object_ids) <= MAX_BATCH:
            raise InvalidArgumentError(f"object_ids must be a list of 1..{MAX_BATCH} object ids")
        ids = list(dict.fromkeys(_check_object_id(o) for o in object_ids))
        with self._locks_of(ids):
            for o in ids:
                self._forget(self._outputs, o)
                self._forget(self._states, o)
                self._fences.pop(o, None)
                self._moved.pop(o, None)
            if self._db is not None:
                marks = ",".join("?" * len(ids))
                try:
                    with self._db.tx() as c:
                        self._lock_rows(c, sorted(ids))
                        for table in ("outputs", "joint", "fences", "moved"):
                            c.execute(f"DELETE FROM {table} WHERE object_id IN ({marks})", tuple(ids))
                except self._error as e:
                    raise UnavailableError(f"the substrate cannot write its database {self._db.path} ({e})") from None

    def close(self) -> None:
        """Close the database file (the instance is unusable afterwards)."""
        if self._db is not None:
            self._db.close()

    def health(self) -> dict:
        """``{"status": "ok", "role": "substrate", "objects": live joint states, "outputs": undelivered
        outputs, "data_dir": str | None, "durable": bool}``."""
        if self._db is None:
            with self._cache_lock:
                objects, outputs = len(self._states), len(self._outputs)
        else:
            try:
                objects, outputs = self._db.query("SELECT (SELECT count(*) FROM joint), (SELECT count(*) FROM outputs)")[0]
            except self._error as e:
                raise UnavailableError(f"the substrate cannot read its database {self._db.path} ({e})") from None
        return {
            "status": "ok",
            "role": "substrate",
            "objects": int(objects),
            "outputs": int(outputs),
            "data_dir": None if self.data_dir is None else str(self.data_dir),
            "durable": self.durable,
        }
