"""The metadata tables (SQLAlchemy Core) and the tenant-token helpers.

The schema itself is created by the Alembic migrations in
``qclone/storage/migrations``; these table objects describe it for queries
(``tests/storage/test_db.py`` checks that the two agree). Times are seconds
from the service clock.

* ``tenants``: id, unique name, sha256 of the tenant's token secret.
* ``providers``: id, name, zone, url (None: embedded), state
  (``up``/``draining``/``drained``/``down``), T1, T2, the node's public key
  (pinned at enrollment; None: embedded).
* ``objects``: one stored state: tenant, name (unique per tenant), k qubits,
  n clones, placement policy, state (see ``docs/design/storage-notes.md`` and
  :mod:`qclone.storage.states`), the running attempt, its fencing token
  (``fence``, raised by every claim) and its lease (on the database's clock),
  the idempotency key of the get (``get_key``), the chosen clone, times (service
  clock), the placement and the coalition-audit verdict as JSON.
* ``clones``: clone j of an object: provider, qubit labels, state
  (``live``/``discarded``/``lost``), whether a discard still has to reach the
  provider, when it was placed there.
* ``holders``: the nodes beside the vault that hold an object's non-clone qubits: id, kind
  (``vault``/``custodian``), zone, url (None: embedded), state (``up``/``down``), T1, T2,
  the node's public key (None: embedded).
* ``parts``: which holder (``vault`` is the deployment's vault) holds which of an object's
  key qubits N_j and input qubits A: labels, state (``live``/``discarded``/``lost``), whether
  a discard still has to reach the holder.
* ``audit_log``: append-only (database triggers refuse UPDATE and DELETE).
* ``ui_revoked_sessions``: the dashboard sessions signed out, by session id, until they would have
  expired (database clock-free: the gateway's clock in seconds since the epoch).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, UniqueConstraint

metadata = MetaData()

tenants = Table(
    "tenants", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

providers = Table(
    "providers", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("zone", String(100), nullable=False),
    Column("url", String(500), nullable=True),
    Column("state", String(16), nullable=False),
    Column("t1", Float, nullable=False),
    Column("t2", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("public_key", String(64), nullable=True),
)

objects = Table(
    "objects", metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("k", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("policy", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempt", String(32), nullable=True),
    Column("lease_until", Float, nullable=True),  # the database's clock (db.db_now)
    Column("chosen_clone", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("stored_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("keep_reference", Boolean, nullable=False),
    Column("purge_pending", Boolean, nullable=False),
    Column("placement", JSON, nullable=False),
    Column("audit", JSON, nullable=False),
    Column("fence", Integer, nullable=False, server_default="0"),
    Column("get_key", String(64), nullable=True),
    UniqueConstraint("tenant_id", "name", name="uq_objects_tenant_name"),
    # keyset paging of a tenant's listing (migration 0006_object_listing)
    Index("ix_objects_tenant_created_name", "tenant_id", "created_at", "name"),
)

clones = Table(
    "clones", metadata,
    Column("object_id", String(32), ForeignKey("objects.id"), primary_key=True),
    Column("j", Integer, primary_key=True),
    Column("provider_id", String(64), ForeignKey("providers.id"), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("discard_pending", Boolean, nullable=False),
    Column("stored_at", Float, nullable=False),
)

holders = Table(
    "holders", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("zone", String(100), nullable=False),
    Column("url", String(500), nullable=True),
    Column("state", String(16), nullable=False),
    Column("t1", Float, nullable=False),
    Column("t2", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("public_key", String(64), nullable=True),
)

parts = Table(
    "parts", metadata,
    Column("object_id", String(32), ForeignKey("objects.id"), primary_key=True),
    Column("holder_id", String(64), primary_key=True),
    Column("labels", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("discard_pending", Boolean, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("tenant_id", String(32), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_id", String(32), nullable=True),
    Column("object_name", String(255), nullable=True),
    Column("detail", JSON, nullable=False),
)

ui_revoked_sessions = Table(
    "ui_revoked_sessions", metadata,
    Column("sid", String(64), primary_key=True),
    Column("until", Float, nullable=False),
    Index("ix_ui_revoked_sessions_until", "until"),
)

#: States of an object.
OBJECT_STATES = ("storing", "stored", "retrieving", "applying", "delivering", "retrieved", "lost", "deleted")
#: States of a provider.
PROVIDER_STATES = ("up", "draining", "drained", "down")
#: Kinds and states of a key holder.
HOLDER_KINDS = ("vault", "custodian")
HOLDER_STATES = ("up", "down")
#: States of a clone record.
CLONE_STATES = ("live", "discarded", "lost")

_TOKEN_PREFIX = "qct"


def new_token(tenant_id: str) -> tuple[str, str]:
    """A fresh token for a tenant and the hash to store: ``(token, sha256 hex of its secret)``.

    The token is ``qct_<tenant id>_<secret>``; the secret is 32 random bytes.

    Examples:
        >>> token, digest = new_token("t1")
        >>> token.startswith("qct_t1_"), len(digest), token_matches(token, digest)
        (True, 64, True)
    """
    secret = secrets.token_urlsafe(32)
    return f"{_TOKEN_PREFIX}_{tenant_id}_{secret}", _hash(secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_tenant_id(token: str) -> str | None:
    """The tenant id a token names (None for a malformed token)."""
    if not isinstance(token, str):
        return None
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != _TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def token_matches(token: str, token_hash: str) -> bool:
    """Whether ``token``'s secret hashes to ``token_hash`` (constant-time comparison)."""
    parts = token.split("_", 2) if isinstance(token, str) else []
    if len(parts) != 3:
        return False
    return hmac.compare_digest(_hash(parts[2]), token_hash)
