"""The typed results of :class:`qclone.Client`: one frozen dataclass per kind of answer.

Each is built from the gateway's JSON document by ``from_json`` and gives it back, unchanged,
by ``to_json()`` (what ``qclone ... --json`` prints: a plain JSON document, fields the gateway
added in a later version included). Times are :class:`datetime.datetime` in UTC; density
matrices are numpy arrays in Qiskit's qubit order (qubit 0 is the least significant bit of an
index), with a :class:`qiskit.quantum_info.DensityMatrix` accessor; item ``i`` of a ``bloch``
list is qubit ``i``'s ``(x, y, z)``; a bitstring (a key of ``counts``) has qubit 0 as its
rightmost character.

Examples:
    >>> e = AuditEntry.from_json({"id": 7, "at": 0.0, "tenant": "t1", "actor": "alice", "action": "put",
    ...                           "object_id": "o1", "object_name": "psi", "detail": {"clones": 4}})
    >>> e.at.isoformat(), e.detail["clones"], e.to_json()["at"]
    ('1970-01-01T00:00:00+00:00', 4, 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from qclone.errors import InvalidArgumentError, is_real
from qclone.storage.wire import decode_array

__all__ = [
    "Applied",
    "AuditEntry",
    "BatchStored",
    "Holder",
    "NewTenant",
    "ObjectStatus",
    "ObjectSummary",
    "Peek",
    "Placement",
    "Part",
    "Provider",
    "ProviderStatus",
    "Recovery",
    "Retrieved",
    "StoredObject",
    "timestamp",
]


def timestamp(value: Any) -> datetime | None:
    """Seconds since the epoch (the wire format) as an aware UTC datetime; ``None`` stays ``None``."""
    if value is None:
        return None
    if not is_real(value):
        raise InvalidArgumentError(f"a time on the wire is seconds since the epoch, got {value!r}")
    return datetime.fromtimestamp(float(value), tz=UTC)


def _doc(doc: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise InvalidArgumentError(f"the gateway's {what} is not a JSON object")
    return doc


def _matrix(value: Any) -> np.ndarray:
    rho = decode_array(value, name="density_matrix")
    rho.setflags(write=False)
    return rho


def _bloch(value: Any) -> tuple[tuple[float, float, float], ...]:
    return tuple((float(b[0]), float(b[1]), float(b[2])) for b in (value or ()))


def _qiskit_density(rho: np.ndarray) -> Any:
    from qiskit.quantum_info import DensityMatrix

    return DensityMatrix(rho)


class _Document:
    """A result built from one of the gateway's JSON documents, kept in ``raw``."""

    raw: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The gateway's JSON document, as it was received."""
        return dict(self.raw)


@dataclass(frozen=True)
class Placement:
    """Where clone ``clone`` of an object is."""

    clone: int
    provider: str
    zone: str
    state: str
    provider_state: str
    stored_at: datetime | None

    @classmethod
    def from_json(cls, doc: Any) -> Placement:
        d = _doc(doc, "placement")
        return cls(int(d["clone"]), str(d["provider"]), str(d["zone"]), str(d["state"]), str(d["provider_state"]),
                   timestamp(d.get("stored_at")))


@dataclass(frozen=True)
class Part(_Document):
    """The qubits of an object one key holder holds (:attr:`StoredObject.parts`).

    Attributes:
        holder: the holder's id (``vault``, a custodian or another vault).
        labels: the labels of the qubits it holds (key qubits ``N_j``, input qubits ``A``).
        state: ``live``, ``discarded`` or ``lost``.
        discard_pending: the holder has still to be told to destroy its part.
    """

    holder: str
    labels: tuple[str, ...]
    state: str
    discard_pending: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Part:
        d = _doc(doc, "part")
        return cls(str(d["holder"]), tuple(str(x) for x in d.get("labels") or ()), str(d["state"]),
                   bool(d.get("discard_pending", False)), dict(d))


@dataclass(frozen=True)
class Recovery(_Document):
    """Whether and how a stored object can be retrieved now (:attr:`StoredObject.recovery`).

    Attributes:
        now: a get could recover the object now.
        sets: the sets of holders it could be recovered from now, the one a get would use first.
        live: the holders that answer; ``down``: those that do not.
        reason: why the live holders cannot recover it (when not ``now``), else ``None``.
    """

    now: bool
    sets: tuple[tuple[str, ...], ...]
    live: tuple[str, ...]
    down: tuple[str, ...]
    reason: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Recovery:
        d = _doc(doc, "recovery")
        reason = d.get("reason")
        return cls(bool(d["now"]), tuple(tuple(str(h) for h in s) for s in d.get("sets") or ()),
                   tuple(str(h) for h in d.get("live") or ()), tuple(str(h) for h in d.get("down") or ()),
                   None if reason is None else str(reason), dict(d))


@dataclass(frozen=True)
class StoredObject(_Document):
    """An object's record (:meth:`Client.put`, :meth:`Client.stat`).

    Attributes:
        state: ``storing``, ``stored``, ``retrieving``, ``delivering``, ``retrieved``, ``lost`` or ``deleted``.
        audit: the coalition audit of the placement (``safe``, ``warnings``, ...).
        audit_report: the full coalition audit (``stat(name, full_audit=True)``), else ``None``.
    """

    name: str
    object_id: str
    tenant: str
    state: str
    qubits: int
    clones: int
    policy: str
    keep_reference: bool
    created_at: datetime
    stored_at: datetime | None
    finished_at: datetime | None
    live_clones: int
    retrievable: bool
    placement: tuple[Placement, ...]
    audit: Mapping[str, Any]
    audit_report: Mapping[str, Any] | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> StoredObject:
        d = _doc(doc, "object record")
        created = timestamp(d["created_at"])
        assert created is not None, "an object always has its creation time"
        return cls(str(d["name"]), str(d["object_id"]), str(d["tenant"]), str(d["state"]), int(d["qubits"]),
                   int(d["clones"]), str(d["policy"]), bool(d["keep_reference"]), created, timestamp(d.get("stored_at")),
                   timestamp(d.get("finished_at")), int(d["live_clones"]), bool(d["retrievable"]),
                   tuple(Placement.from_json(p) for p in d.get("placement") or ()), dict(d.get("audit") or {}),
                   d.get("audit_report"), dict(d))

    @property
    def safe(self) -> bool:
        """Whether the coalition audit found the placement safe."""
        return bool(self.audit.get("safe"))

    @property
    def warnings(self) -> tuple[str, ...]:
        """The audit's warnings (a placement that leaks is stored, but says so)."""
        return tuple(str(w) for w in self.audit.get("warnings") or ())

    @property
    def placement_name(self) -> str | None:
        """Where the key and ``A`` live: ``today``, ``keep-A``, ``split-key`` or a custom placement's name."""
        value = self.raw.get("placement_name")
        return None if value is None else str(value)

    @property
    def parts(self) -> tuple[Part, ...]:
        """Who holds the key qubits and ``A``: one :class:`Part` per holder."""
        return tuple(Part.from_json(p) for p in self.raw.get("parts") or ())

    @property
    def recovery(self) -> Recovery | None:
        """A stored object's :class:`Recovery`: retrievable now, and from which sets of holders
        (``stat`` only; else ``None``)."""
        value = self.raw.get("recovery")
        return None if value is None else Recovery.from_json(value)

    @property
    def logical_gates(self) -> tuple[Mapping[str, Any], ...]:
        """The logical gates applied to the object, oldest first: ``{"gate", "qubits", "at",
        "parties", "key_holders"}`` each (``stat`` only; else empty)."""
        return tuple(dict(g) for g in (self.raw.get("logical") or {}).get("gates") or ())


@dataclass(frozen=True)
class Applied(_Document):
    """A logical gate applied to a stored object (:meth:`Client.apply`).

    Attributes:
        gate: its name; ``qubits``: the register qubits it acted on (Qiskit's order).
        complete: every holder applied its part. ``pending``: the holders that have not yet (down):
            the object stays ``applying`` (a get is refused) until the reconciler finishes the gate.
        done: the holders that applied their part (providers as ``provider:ID``).
        key_holders: the key holders that had to act (they see that a gate was applied, never the state).
        key: the idempotency key; ``op``: the gate's id in the audit log.
    """

    name: str
    object_id: str
    gate: str
    qubits: tuple[int, ...]
    complete: bool
    done: tuple[str, ...]
    pending: tuple[str, ...]
    key_holders: tuple[str, ...]
    key: str
    op: str
    note: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Applied:
        d = _doc(doc, "applied gate")
        note = d.get("note")
        return cls(str(d["name"]), str(d["object_id"]), str(d["gate"]), tuple(int(q) for q in d.get("qubits") or ()),
                   bool(d["complete"]), tuple(str(h) for h in d.get("done") or ()),
                   tuple(str(h) for h in d.get("pending") or ()), tuple(str(h) for h in d.get("key_holders") or ()),
                   str(d["key"]), str(d["op"]), None if note is None else str(note), dict(d))


@dataclass(frozen=True)
class ObjectSummary(_Document):
    """One row of :meth:`Client.list`."""

    name: str
    object_id: str
    state: str
    qubits: int
    clones: int
    policy: str
    created_at: datetime
    stored_at: datetime | None
    finished_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> ObjectSummary:
        d = _doc(doc, "object summary")
        created = timestamp(d["created_at"])
        assert created is not None, "an object always has its creation time"
        return cls(str(d["name"]), str(d["object_id"]), str(d["state"]), int(d["qubits"]), int(d["clones"]),
                   str(d["policy"]), created, timestamp(d.get("stored_at")), timestamp(d.get("finished_at")), dict(d))


@dataclass(frozen=True)
class Retrieved(_Document):
    """The state a :meth:`Client.get` retrieved (once: decryption consumed the key).

    Attributes:
        density_matrix: the k-qubit output, (2^k, 2^k) complex, read-only, in Qiskit's order.
        bloch: per qubit (item i: qubit i) its Bloch vector ``(x, y, z)``.
        fidelity: with the input, when the object kept a reference; else ``None``.
        clone, provider: the clone that was decrypted and who held it.
        key: the get's idempotency key (what :meth:`Client.ack` takes); ``attempt``: the
            retrieval attempt that decrypted (the same for every delivery of one output).
        elapsed: seconds the object was stored; ``waited``: seconds the output waited for its acknowledgement.
        basis, shots, counts, samples: with ``basis`` and ``shots``, the measurement outcomes
            (bitstrings with qubit 0 the rightmost character, as in Qiskit's counts).
        recovered: the output of an earlier, interrupted get (delivered now).
    """

    name: str
    object_id: str
    qubits: int
    clones: int
    density_matrix: np.ndarray
    bloch: tuple[tuple[float, float, float], ...]
    purity: float
    fidelity: float | None
    clone: int | None
    provider: str | None
    key: str | None
    attempt: str | None
    elapsed: float | None
    waited: float | None
    basis: str | None
    shots: int | None
    counts: Mapping[str, int] | None
    samples: tuple[str, ...] | None
    recovered: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Retrieved:
        d = _doc(doc, "retrieved state")
        samples = d.get("samples")
        return cls(str(d["name"]), str(d["object_id"]), int(d["qubits"]), int(d["clones"]), _matrix(d["density_matrix"]),
                   _bloch(d.get("bloch")), float(d["purity"]), _optional_float(d.get("fidelity")),
                   None if d.get("clone") is None else int(d["clone"]), d.get("provider"), d.get("key"), d.get("attempt"),
                   _optional_float(d.get("elapsed")), _optional_float(d.get("waited")), d.get("basis"),
                   None if d.get("shots") is None else int(d["shots"]),
                   None if d.get("counts") is None else {str(k): int(v) for k, v in d["counts"].items()},
                   None if samples is None else tuple(str(s) for s in samples), bool(d.get("recovered")), dict(d))

    @property
    def state(self) -> Any:
        """The output as a :class:`qiskit.quantum_info.DensityMatrix`."""
        return _qiskit_density(self.density_matrix)

    @property
    def holders(self) -> tuple[str, ...] | None:
        """The key holders whose releases a recovery from another authorized set used (``None``: the
        protocol's own decryption of ``clone`` with the vault's key)."""
        value = self.raw.get("holders")
        return None if value is None else tuple(str(h) for h in value)

    @property
    def retrieval(self) -> str:
        """``plain`` or ``corrected``: the retrieval that ran."""
        return str(self.raw.get("retrieval") or "plain")

    @property
    def fallback(self) -> str | None:
        """Why a corrected retrieval that was asked for ran as the plain one (else ``None``)."""
        value = self.raw.get("fallback")
        return None if value is None else str(value)


def _optional_float(x: Any) -> float | None:
    return None if x is None else float(x)


@dataclass(frozen=True)
class Peek(_Document):
    """What one provider can learn of an object (:meth:`Client.peek`): the reduced state of the
    qubits it holds; ``labels[i]`` is qubit i of ``density_matrix`` (Qiskit's order) and of ``bloch``."""

    name: str
    object_id: str
    provider: str
    clone: int
    labels: tuple[str, ...]
    density_matrix: np.ndarray
    bloch: tuple[tuple[float, float, float], ...]
    purity: float
    maximally_mixed: bool
    elapsed: float
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Peek:
        d = _doc(doc, "peek")
        return cls(str(d["name"]), str(d["object_id"]), str(d["provider"]), int(d["clone"]),
                   tuple(str(x) for x in d.get("labels") or ()), _matrix(d["density_matrix"]), _bloch(d.get("bloch")),
                   float(d["purity"]), bool(d["maximally_mixed"]), float(d["elapsed"]), dict(d))

    @property
    def state(self) -> Any:
        """The reduced state as a :class:`qiskit.quantum_info.DensityMatrix`."""
        return _qiskit_density(self.density_matrix)


@dataclass(frozen=True)
class ObjectStatus:
    """An object's name, id and state after :meth:`Client.ack` or :meth:`Client.delete`."""

    name: str
    object_id: str
    state: str

    @classmethod
    def from_json(cls, doc: Any) -> ObjectStatus:
        d = _doc(doc, "object status")
        return cls(str(d["name"]), str(d["object_id"]), str(d["state"]))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "object_id": self.object_id, "state": self.state}


@dataclass(frozen=True)
class BatchStored:
    """One object of a batch put (:meth:`Client.put_many`): ``created`` is False for an object an
    earlier attempt of the same batch (the same key) stored; ``state`` its state now."""

    name: str
    object_id: str
    state: str
    created: bool

    @classmethod
    def from_json(cls, doc: Any) -> BatchStored:
        d = _doc(doc, "batch item")
        return cls(str(d["name"]), str(d["object_id"]), str(d["state"]), bool(d["created"]))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "object_id": self.object_id, "state": self.state, "created": self.created}


@dataclass(frozen=True)
class Provider(_Document):
    """A storage provider (:meth:`Client.providers`, :meth:`Client.add_provider`).

    Attributes:
        state: ``up``, ``draining``, ``drained`` or ``down``.
        t1, t2: its memory's coherence times in seconds.
        url: the provider node's URL, ``None`` for one embedded in the server.
        node: whether that node answers (``up``/``down``, a cached probe), ``None`` when embedded.
    """

    id: str
    name: str
    zone: str
    url: str | None
    state: str
    t1: float
    t2: float
    live_clones: int
    discards_pending: int
    public_key: str | None
    node: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Provider:
        d = _doc(doc, "provider")
        return cls(str(d["id"]), str(d.get("name", d["id"])), str(d["zone"]), d.get("url"), str(d["state"]),
                   float(d["t1"]), float(d["t2"]), int(d.get("live_clones", 0)), int(d.get("discards_pending", 0)),
                   d.get("public_key"), d.get("node"), dict(d))


@dataclass(frozen=True)
class Holder(_Document):
    """A key holder (:meth:`Client.holders`): the vault, a custodian or another vault.

    Attributes:
        kind: ``vault`` or ``custodian``.
        state: its state (``up``, ``down``, ...); ``node``: whether its node answers (a cached
            probe), ``None`` when it is embedded in the server.
        live_parts: the parts of objects it holds now.
    """

    id: str
    kind: str
    zone: str
    url: str | None
    state: str
    t1: float
    t2: float
    live_parts: int
    discards_pending: int
    node: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Holder:
        d = _doc(doc, "holder")
        return cls(str(d["id"]), str(d["kind"]), str(d["zone"]), d.get("url"), str(d["state"]), float(d["t1"]),
                   float(d["t2"]), int(d.get("live_parts", 0)), int(d.get("discards_pending", 0)), d.get("node"), dict(d))


@dataclass(frozen=True)
class ProviderStatus(_Document):
    """A provider's state after drain, kill or revive."""

    id: str
    state: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> ProviderStatus:
        d = _doc(doc, "provider status")
        return cls(str(d["id"]), str(d["state"]), dict(d))


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log (:meth:`Client.audit_log`).

    Attributes:
        at: when (UTC).
        actor: who (a tenant's name, ``admin``, ``anonymous``, or ``system`` for the service itself).
        action: what, e.g. ``put``, ``get``, ``get.ack``, ``peek``, ``delete``, ``login.failed``.
        detail: what else the service recorded (clones, provider, reason, ...).
    """

    id: int
    at: datetime
    tenant: str | None
    actor: str
    action: str
    object_id: str | None
    object_name: str | None
    detail: Mapping[str, Any]

    @classmethod
    def from_json(cls, doc: Any) -> AuditEntry:
        d = _doc(doc, "audit entry")
        at = timestamp(d["at"])
        assert at is not None, "an audit entry always has its time"
        return cls(int(d["id"]), at, d.get("tenant"), str(d["actor"]), str(d["action"]), d.get("object_id"),
                   d.get("object_name"), dict(d.get("detail") or {}))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.timestamp(), "tenant": self.tenant, "actor": self.actor,
                "action": self.action, "object_id": self.object_id, "object_name": self.object_name,
                "detail": dict(self.detail)}


@dataclass(frozen=True)
class NewTenant:
    """A tenant just created: its name and API token (shown once)."""

    name: str
    token: str = field(repr=False)

    @classmethod
    def from_json(cls, doc: Any) -> NewTenant:
        d = _doc(doc, "tenant")
        return cls(str(d["tenant"]), str(d["token"]))

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.name, "token": self.token}
