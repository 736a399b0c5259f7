"""The request and response models of the gateway (:mod:`qclone.storage.api`).

The request models are the endpoints' parameter types, so FastAPI validates every body
before the service sees it (strict types: ``"4"`` is not an integer, ``"true"`` not a
boolean; unknown fields are refused); the response models document what each route
answers in the OpenAPI document at ``/openapi.json`` (responses may carry more fields than
documented, never fewer or of another type).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qclone.storage.inputs import MAX_BATCH, MAX_NAME
from qclone.storage.substrate import MAX_CLONES, MAX_SHOTS

__all__ = [
    "AckIn",
    "AckOut",
    "DEFAULT_LIST_LIMIT",
    "MAX_AUDIT_LIMIT",
    "MAX_LIST_LIMIT",
    "AuditOut",
    "BatchItemIn",
    "BatchItemOut",
    "BatchPutIn",
    "BatchPutOut",
    "ClockIn",
    "ClockOut",
    "DeleteOut",
    "ErrorOut",
    "GetIn",
    "HealthOut",
    "KillIn",
    "ObjectListOut",
    "ObjectOut",
    "OutputOut",
    "PeekOut",
    "ProviderActionOut",
    "ProviderIn",
    "ProviderOut",
    "ProvidersOut",
    "PutIn",
    "StateIn",
    "TenantIn",
    "TenantOut",
]

#: Most audit entries one request returns.
MAX_AUDIT_LIMIT = 10_000
#: Most objects one page of ``GET /v1/objects`` returns, and how many without ``limit``.
MAX_LIST_LIMIT = 10_000
DEFAULT_LIST_LIMIT = 1000
#: An idempotency key of a get (the service checks the same rule).
IdempotencyKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------------- requests
class StateIn(_In):
    """A state in the wire format."""

    kind: Literal["bloch", "statevector", "density", "qasm"] = Field(description="how data describes the state")
    data: Any = Field(description="bloch: [x, y, z]; statevector: 2^k amplitudes; density: a 2^k x 2^k matrix "
                                  "(complex arrays as {real, imag} or real nested lists; Qiskit's qubit order: qubit 0 "
                                  "is the least significant bit of an index); qasm: OpenQASM 2 or 3 text")


class PutIn(_In):
    """Store a state as n encrypted clones."""

    state: StateIn
    clones: int = Field(default=4, ge=1, le=MAX_CLONES, description="number of encrypted clones n (n = 1 needs force)")
    keep_reference: bool = Field(default=False, description="keep a copy of the input so a get reports the fidelity")
    force: bool = Field(default=False, description="allow n = 1 (a lone clone leaks the Y component)")
    policy: Literal["distinct-providers", "distinct-zones"] = Field(default="distinct-providers", description="placement")
    placement: Annotated[str, StringConstraints(min_length=1, max_length=64)] | dict[str, Any] | None = Field(
        default=None, description="where the key qubits and A live: today (default), keep-A, split-key, split-key:V, "
                                  "or a custom placement {name, parties: {holder: [labels]}} (checked with budgets)")


class BatchItemIn(_In):
    """One object of a batch put."""

    name: str = Field(min_length=1, max_length=MAX_NAME, description="the object's name (unique in the batch)")
    state: StateIn


class BatchPutIn(_In):
    """Store many states at once, each as n encrypted clones (the options are the same for all)."""

    objects: list[BatchItemIn] = Field(min_length=1, max_length=MAX_BATCH,
                                       description=f"the objects, at most {MAX_BATCH} (and the gateway's body limit)")
    clones: int = Field(default=4, ge=1, le=MAX_CLONES, description="number of encrypted clones n (n = 1 needs force)")
    keep_reference: bool = Field(default=False, description="keep a copy of each input so a get reports the fidelity")
    force: bool = Field(default=False, description="allow n = 1 (a lone clone leaks the Y component)")
    policy: Literal["distinct-providers", "distinct-zones"] = Field(default="distinct-providers", description="placement")
    placement: Annotated[str, StringConstraints(min_length=1, max_length=64)] | dict[str, Any] | None = Field(
        default=None, description="where the key qubits and A live, as for a single put")
    key: IdempotencyKey | None = Field(default=None, description="the batch's idempotency key (or the Idempotency-Key "
                                                                "header): the same batch sent again with it stores "
                                                                "nothing twice")


class GetIn(_In):
    """Options of the one-time retrieval."""

    basis: Literal["X", "Y", "Z", "x", "y", "z"] | None = Field(
        default=None, description="also measure every output qubit in this basis (with shots)")
    shots: int | None = Field(default=None, ge=1, le=MAX_SHOTS, description="number of measurements (with basis)")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="seed of the measurements")
    key: IdempotencyKey | None = Field(default=None, description="idempotency key (or the Idempotency-Key header): a retry "
                                                          "with the same key returns the same output; acknowledge it "
                                                          "with the key")
    retrieval: Literal["plain", "corrected"] | None = Field(
        default=None, description="plain (the default): one clone with the key, or the fewest holders; corrected: "
                                  "measure the code's stabilizers among every live holder, correct, then decrypt "
                                  "(falls back to plain, with the reason, when that corrects nothing)")


class AckIn(_In):
    """The acknowledgement of a get's output."""

    key: IdempotencyKey | None = Field(default=None, description="the idempotency key of the get whose output was received "
                                                         "(or the Idempotency-Key header)")


class ApplyIn(_In):
    """A logical gate to apply to a stored object (every holder applies its local part)."""

    gate: str = Field(min_length=1, max_length=32, description="the logical gate (qclone.protocol.logical.GATES, "
                                                               "as available for the object's number of clones)")
    qubits: list[Annotated[int, Field(ge=0, le=63)]] | None = Field(
        default=None, max_length=64, description="register qubits (Qiskit's order) to act on; default: every one")
    key: IdempotencyKey | None = Field(default=None, description="idempotency key (or the Idempotency-Key header): a "
                                                          "retry with the same key returns the same gate's result "
                                                          "and never applies it twice")


class ProviderIn(_In):
    """A provider to add: embedded, or the provider node process at url."""

    id: str = Field(min_length=1, max_length=64)
    zone: str | None = Field(default=None, min_length=1, max_length=100)
    t1: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="memory T1 in seconds (default 3600)")
    t2: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="memory T2 in seconds (default 3600)")
    url: str | None = Field(default=None, min_length=1, max_length=500, description="URL of a provider node (deployment)")
    join: str | None = Field(default=None, min_length=1, max_length=300,
                             description="with url: the node's join token (printed by the node at its first start)")


class HolderIn(_In):
    """A key holder to register beside the vault (embedded in the server)."""

    id: str = Field(min_length=1, max_length=64)
    kind: Literal["vault", "custodian"] = Field(description="a vault (holds key qubits) or a custodian (keeps A)")
    zone: str = Field(default="default", min_length=1, max_length=100)
    t1: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="memory T1 in seconds (default 3600)")
    t2: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="memory T2 in seconds (default 3600)")


class KillIn(_In):
    destroy: bool = Field(default=False, description="the provider's clones are lost for good")


class TenantIn(_In):
    name: str = Field(min_length=1, max_length=200)


#: Latest time the settable clock may be set to (seconds since the epoch: the year 5138).
MAX_CLOCK = 1e11


class ClockIn(_In):
    now: float | None = Field(default=None, ge=0, le=MAX_CLOCK, allow_inf_nan=False, description="set the clock to this time")
    advance: float | None = Field(default=None, ge=0, le=MAX_CLOCK, allow_inf_nan=False,
                                  description="move the clock forward by this many seconds")


# ---------------------------------------------------------------------- responses
ComplexArray = dict[str, Any] | list[Any]  # {"real": [...], "imag": [...]} or a real nested list


class ErrorDetail(BaseModel):
    type: str = Field(description="the error class, e.g. InvalidArgumentError, NotFoundError, UnavailableError")
    message: str = Field(description="what is wrong with the request (5xx: a generic text)")
    request_id: str | None = Field(default=None, description="the id of this request in the server's log")


class ErrorOut(BaseModel):
    error: ErrorDetail


class PartOut(BaseModel):
    holder: str
    labels: list[str]
    state: str
    discard_pending: bool


class RecoveryOut(BaseModel):
    now: bool = Field(description="a get could recover the object now")
    sets: list[list[str]] = Field(description="sets of holders it could recover from now (the one a get would use first)")
    live: list[str]
    down: list[str]
    reason: str | None = Field(description="why the holders that answer cannot recover it (when not now)")


class HolderOut(BaseModel):
    id: str
    kind: str
    zone: str
    url: str | None = None
    state: str
    t1: float
    t2: float
    live_parts: int = 0
    discards_pending: int = 0
    node: str | None = None


class HoldersOut(BaseModel):
    holders: list[HolderOut]


class PlacementOut(BaseModel):
    clone: int
    provider: str
    zone: str
    state: str
    provider_state: str
    stored_at: float | None = None


class GateRecordOut(BaseModel):
    """One logical gate applied to an object."""

    gate: str
    qubits: list[int]
    at: float = Field(description="service clock")
    parties: list[str] = Field(description="the holders that applied their part (providers as provider:ID)")
    key_holders: list[str] = Field(description="the key holders among them (they see that a gate was applied, "
                                               "never the state)")


class GateProgressOut(BaseModel):
    gate: str
    qubits: list[int]
    since: float


class LogicalOut(BaseModel):
    """An object's logical history."""

    gates: list[GateRecordOut]
    in_progress: GateProgressOut | None = None
    note: str | None = None


class ApplyOut(BaseModel):
    """A logical gate applied (complete) or still waiting for some holders (pending)."""

    name: str
    object_id: str
    gate: str
    qubits: list[int]
    op: str = Field(description="the gate's id in the audit log")
    key: str = Field(description="the idempotency key")
    complete: bool = Field(description="every holder applied its part")
    done: list[str] = Field(description="holders that applied their part")
    pending: list[str] = Field(description="holders that have not yet (down): the reconciler finishes the gate")
    key_holders: list[str] = Field(description="key holders that had to act")
    note: str | None = None
    gates_applied: int | None = Field(default=None, description="logical gates the object has had")


class ObjectOut(BaseModel):
    """One object's record."""

    name: str
    object_id: str
    tenant: str
    state: str
    qubits: int
    clones: int
    policy: str
    keep_reference: bool
    created_at: float
    stored_at: float | None
    finished_at: float | None
    live_clones: int
    retrievable: bool
    placement: list[PlacementOut]
    audit: dict[str, Any] = Field(description="the coalition audit of the placement (summary)")
    audit_report: dict[str, Any] | None = Field(default=None, description="with ?audit=full: the full coalition audit")
    placement_name: str | None = Field(default=None, description="today, keep-A, split-key or a custom placement's name")
    parts: list[PartOut] | None = Field(default=None, description="who holds the key qubits and A")
    recovery: RecoveryOut | None = Field(default=None, description="a stored object: retrievable now, and from which holders")
    logical: LogicalOut | None = Field(default=None, description="the logical gates applied to the object")


class ObjectSummary(BaseModel):
    name: str
    object_id: str
    state: str
    qubits: int
    clones: int
    policy: str
    created_at: float
    stored_at: float | None
    finished_at: float | None


class ObjectListOut(BaseModel):
    objects: list[ObjectSummary]
    next_cursor: str | None = Field(default=None, description="pass as ?cursor= for the next page; null: the last page")


class OutputOut(BaseModel):
    """The retrieved state (Qiskit's qubit order)."""

    name: str
    object_id: str
    qubits: int
    clones: int
    density_matrix: ComplexArray = Field(description="the k-qubit output; qubit 0 is the least significant bit of an index")
    bloch: list[list[float]] = Field(description="Bloch vector of each qubit (item i: qubit i)")
    purity: float
    fidelity: float | None = Field(default=None, description="with keep_reference: fidelity with the input")
    reference_bloch: list[list[float]] | None = Field(default=None, description="with keep_reference: the Bloch vector "
                                                    "of each qubit of the stored input (item i: qubit i)")
    elapsed: float | None = None
    basis: str | None = None
    shots: int | None = None
    samples: list[str] | None = Field(default=None, description="outcomes, qubit 0 the rightmost character")
    counts: dict[str, int] | None = Field(default=None, description="outcome counts, keys as samples")
    clone: int | None = Field(default=None, description="the clone j that was decrypted (None: a recovery from "
                                                         "another authorized set of holders)")
    provider: str | None = Field(default=None, description="the provider that held clone j (or the first provider used)")
    holders: list[str] | None = Field(default=None, description="the key holders whose releases the recovery used "
                                                                "(None: the vault's plain decryption)")
    attempt: str | None = None
    key: str | None = Field(default=None, description="the idempotency key: acknowledge the output with it")
    waited: float | None = Field(default=None, description="seconds the output waited in the substrate for its acknowledgement")
    recovered: bool | None = None
    retrieval: Literal["plain", "corrected"] | None = Field(default=None, description="the retrieval that ran")
    fallback: str | None = Field(default=None, description="why a corrected retrieval ran as the plain one")


class AckOut(BaseModel):
    """An acknowledged get: the object is retrieved."""

    name: str
    object_id: str
    state: str


class BatchItemOut(BaseModel):
    name: str
    object_id: str
    state: str = Field(description="stored, or the state now of an object an earlier attempt of the batch stored")
    created: bool = Field(description="stored by this request (false: by an earlier attempt with the same key)")


class BatchPutOut(BaseModel):
    """The batch stored, all of it (a batch is all or nothing)."""

    key: str = Field(description="the batch's idempotency key (send the batch again with it after a failure)")
    stored: int
    created: int
    objects: list[BatchItemOut]


class DeleteOut(BaseModel):
    name: str
    object_id: str
    state: str


class PeekOut(BaseModel):
    """What one provider can learn: the reduced state of the qubits it holds."""

    name: str
    object_id: str
    provider: str
    clone: int
    labels: list[str] = Field(description="the qubits held: labels[i] is qubit i of density_matrix and bloch")
    density_matrix: ComplexArray = Field(description="their reduced state; qubit 0 is the least significant bit of an index")
    bloch: list[list[float]]
    purity: float
    maximally_mixed: bool
    elapsed: float


class ProviderOut(BaseModel):
    id: str
    name: str
    zone: str
    url: str | None
    state: str
    t1: float
    t2: float
    public_key: str | None = Field(default=None, description="the provider node's public key (None: embedded)")
    live_clones: int
    discards_pending: int
    node: str | None = Field(default=None, description="up or down: whether the provider node answers (a cached probe)")


class ProvidersOut(BaseModel):
    providers: list[ProviderOut]


class ProviderActionOut(BaseModel):
    id: str
    state: str


class AuditEntry(BaseModel):
    id: int
    at: float
    tenant: str | None
    actor: str
    action: str
    object_id: str | None
    object_name: str | None
    detail: dict[str, Any] | None


class AuditOut(BaseModel):
    entries: list[AuditEntry]
    next_cursor: str | None = Field(default=None, description="pass as ?cursor= for the next page; null: the last page")


class HealthOut(BaseModel):
    """Without the admin token: liveness only. With it: every component's state."""

    status: str = Field(description="ok (alive); with the admin token: ok or degraded")
    database: dict[str, Any] | None = None
    substrate: dict[str, Any] | None = None
    vault: dict[str, Any] | None = None
    providers: dict[str, int] | None = None


class TenantOut(BaseModel):
    tenant: str
    token: str = Field(description="the tenant's API token, shown once")


class ClockOut(BaseModel):
    now: float
