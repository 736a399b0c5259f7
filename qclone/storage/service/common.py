"""What every part of the storage service shares: constants, the tenant, the provider
directory, argument checks and :class:`ServiceBase` (the service's state and helpers).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from qclone.errors import InvalidArgumentError, QcloneError, is_int
from qclone.sim.exact import bloch_vector, partial_trace, reverse_qubits
from qclone.storage.clock import Clock
from qclone.storage.db import Database
from qclone.storage.errors import NotFoundError
from qclone.storage.models import providers
from qclone.storage.ports import SubstratePort, VaultPort
from qclone.storage.provider import ProviderNode
from qclone.storage.service.statements import (
    ALIVE,
    INSERT_LOG,
    Q_CLONES,
    Q_OBJECT,
    Q_OBJECT_AUDIT,
)
from qclone.storage.vault import DEFAULT_T1, DEFAULT_T2

log = logging.getLogger(__name__)

#: Clones per object unless the tenant chooses.
DEFAULT_CLONES = 4
#: Placement policies: every clone at its own provider, or also in its own zone.
POLICIES = ("distinct-providers", "distinct-zones")
#: Seconds (of the database's clock) a retrieval or a put may take before recovery takes it over.
LEASE_SECONDS = 60.0
#: Seconds (of the database's clock) a decrypted output waits for its acknowledgement; then it is
#: discarded and the object is lost.
DELIVERY_RETENTION = 86400.0
#: Longest idempotency key of a get.
MAX_KEY = 64
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Longest object name.
#: Party name of the key vault in placements and audits (no provider may use it).
VAULT_PARTY = "vault"
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,199}")

#: What a failed call to a node raises: a remote client's errors (``UnavailableError``, or the
#: ``QcloneError`` the node reported), a local node's file and SQLite errors.
NODE_ERRORS: tuple[type[Exception], ...] = (QcloneError, OSError, sqlite3.Error)
#: What a recovery step may meet: a node's errors or the metadata database's.
RECOVERY_ERRORS: tuple[type[Exception], ...] = (*NODE_ERRORS, SQLAlchemyError)


@dataclass(frozen=True)
class Tenant:
    """An authenticated tenant."""

    id: str
    name: str


class NodeDirectory:
    """Record id -> the object to talk to that node, made once by ``factory(record)`` and made again
    when the record's :meth:`_key` (by default its url, public key and T1/T2) changes."""

    def __init__(self, factory: Callable[[Mapping[str, Any]], Any]) -> None:
        self._factory = factory
        self._nodes: dict[str, tuple[tuple, Any]] = {}
        self._lock = threading.Lock()

    def _key(self, record: Mapping[str, Any]) -> tuple:
        return (record.get("url"), record.get("public_key"), float(record["t1"]), float(record["t2"]))

    def node(self, record: Mapping[str, Any]) -> Any:
        """The node of a record (made on first use, remade if its :meth:`_key` changed)."""
        key = self._key(record)
        with self._lock:
            cached = self._nodes.get(record["id"])
            if cached is not None and cached[0] == key:
                return cached[1]
        made = self._factory(record)
        with self._lock:
            self._nodes[record["id"]] = (key, made)
        return made

    def forget(self, node_id: str) -> None:
        """Drop the cached node of ``node_id``: the next :meth:`node` makes a fresh one."""
        with self._lock:
            self._nodes.pop(node_id, None)


class ProviderDirectory(NodeDirectory):
    """Provider id -> the object to talk to it, made once by ``factory(record)``.

    ``record`` is the provider's row: ``{"id", "name", "zone", "url", "state", "t1", "t2"}``;
    the factory returns a :class:`~qclone.storage.provider.ProviderNode` (``url`` None) or a
    remote client with the same methods. ``on_kill(record, destroy)`` / ``on_revive(record)``
    are called when an operator kills or revives the provider (a deployment stops or restarts
    the process there). ``enroll(url, join_token)`` enrolls a provider node and returns its
    public key (a gateway of a multi-process deployment; None: no provider nodes).
    ``introduce(provider_id, public_key)`` is called once a provider is added (or enrolled
    again): a deployment hands its key to the substrate, which checks every release.
    """

    def __init__(self, factory: Callable[[Mapping[str, Any]], Any], *,
                 on_kill: Callable[[Mapping[str, Any], bool], None] | None = None,
                 on_revive: Callable[[Mapping[str, Any]], None] | None = None,
                 enroll: Callable[[str, str | None], str] | None = None,
                 introduce: Callable[[str, str | None], None] | None = None) -> None:
        super().__init__(factory)
        self.enroll = enroll
        self.introduce = introduce
        self.on_kill = on_kill
        self.on_revive = on_revive

    @classmethod
    def local(cls, data_dir: Path | str | None) -> ProviderDirectory:
        """Embedded provider nodes, provider ``p`` keeping its records in ``<data_dir>/providers/p``."""

        def factory(record: Mapping[str, Any]) -> ProviderNode:
            if record.get("url"):
                raise InvalidArgumentError(f"provider {record['id']}: this gateway runs embedded providers only "
                                           "(no url); start it with remote providers to use one at a url")
            where = None if data_dir is None else Path(data_dir) / "providers" / record["id"]
            return ProviderNode(record["id"], where, zone=record["zone"], t1=record["t1"], t2=record["t2"])

        return cls(factory)

    def _key(self, record: Mapping[str, Any]) -> tuple:
        """A provider's node is remade when its url, key, zone or T1/T2 change."""
        return (record.get("url"), record.get("public_key"), record["zone"], float(record["t1"]), float(record["t2"]))


def warm_up() -> None:
    """Initialise stim's numpy bridge in the calling (main) thread before threads use the service.

    pybind11 sets up its numpy API in a function-local static on first use and imports numpy
    there; when that first use happens in two threads at once (two puts running the leakage
    audit), one thread waits for the static while holding the GIL and the other waits for the
    GIL inside the import: the whole process hangs. Seen here under 16 concurrent clients.
    """
    import stim

    stim.Tableau(1).to_numpy()
    stim.FlipSimulator(batch_size=1, num_qubits=1).to_numpy(output_xs=True, bit_packed=True)



def per_qubit_bloch(rho: np.ndarray) -> list[list[float]]:
    """The Bloch vector of each qubit of ``rho`` (the engines' order: qubit 0 most significant);
    item i is qubit i's."""
    k = int(round(np.log2(rho.shape[0])))
    return [list(bloch_vector(partial_trace(rho, [q]) if k > 1 else rho)) for q in range(k)]


def state_summary(rho: np.ndarray) -> dict[str, Any]:
    """What a result says about a state ``rho`` the substrate gave (the engines' order): its density
    matrix in Qiskit's order (qubit 0 the least significant bit), the Bloch vector of each qubit
    (item i: qubit i), its purity and whether it is maximally mixed."""
    d = rho.shape[0]
    purity = float(np.real(np.trace(rho @ rho)))
    return {"density_matrix": reverse_qubits(rho), "bloch": per_qubit_bloch(rho), "purity": purity,
            "maximally_mixed": bool(np.allclose(rho, np.eye(d) / d, atol=1e-9))}


def check_sampling(basis: Any, shots: Any, seed: Any) -> tuple[str | None, int | None, int | None]:
    from qclone.storage.substrate import BASES, MAX_SHOTS

    if basis is None:
        if shots is not None:
            raise InvalidArgumentError("shots need a basis (X, Y or Z) to measure in")
        if seed is not None:
            raise InvalidArgumentError("a seed needs a basis (X, Y or Z) to measure in: it seeds the sampling of the counts")
        return None, None, None
    if not isinstance(basis, str) or basis.upper() not in BASES:
        raise InvalidArgumentError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
    shots = 1024 if shots is None else shots
    if not is_int(shots) or not 1 <= shots <= MAX_SHOTS:
        raise InvalidArgumentError(f"shots must be an integer in 1..{MAX_SHOTS}, got {shots!r}")
    if seed is not None and (not is_int(seed) or seed < 0):
        raise InvalidArgumentError(f"seed must be an integer >= 0 or null, got {seed!r}")
    return basis.upper(), shots, seed


def check_key(key: Any) -> str:
    """An idempotency key: 1-64 letters, digits, '.', '_', ':' or '-'."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidArgumentError(f"an idempotency key is 1-{MAX_KEY} letters, digits, '.', '_', ':' or '-'")
    return key



class ServiceBase:
    """The service's collaborators and the helpers every part uses."""

    db: Database
    substrate: SubstratePort
    vault: VaultPort
    directory: ProviderDirectory
    clock: Clock
    lease_seconds: float
    retention_seconds: float
    _tokens: OrderedDict[str, Tenant]
    _tokens_lock: threading.Lock
    _vault_coherence: tuple[float, float] | None

    if TYPE_CHECKING:  # provided by the other parts of StorageService (one class at run time)
        def _abandon_put(self, object_id: str) -> bool: ...
        def _destroy_quantum(self, object_id: str, why: str) -> bool: ...
        def _discard_clones(self, object_id: str, crows: list[dict[str, Any]]) -> None: ...
        def _finish(self, object_id: str, attempt: str, fence: int, actor: str, tenant_id: str | None, name: str,
                    j: int, provider_id: str | None, elapsed: float | None, *, action: str = "get",
                    holders: list[str] | None = None) -> bool: ...
        def _lose(self, object_id: str, reason: str) -> bool: ...
        def _purge_object(self, object_id: str) -> bool: ...
        def _recover_object(self, object_id: str) -> str | None: ...
        def _rollback(self, object_id: str, attempt: str) -> bool: ...
        def _sync_provider(self, record: Mapping[str, Any], *, orphans_before: float | None) -> tuple[int, int]: ...
        def finish_gates(self, *, expired_only: bool = True) -> int: ...
        def logical_history(self, conn: Any, object_id: str) -> dict[str, Any]: ...

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _expired(row: Any) -> bool:
        """Whether the lease of an object's row (read with ``db_now``) has ended; no lease counts as ended."""
        return row.lease_until is None or row.lease_until <= row.db_now

    def _now(self) -> float:
        return float(self.clock.now())

    @staticmethod
    def _log(conn: Any, at: float, actor: str, action: str, *, tenant_id: str | None = None,
             object_id: str | None = None, object_name: str | None = None, **detail: Any) -> None:
        conn.execute(INSERT_LOG, {"at": at, "tenant_id": tenant_id, "actor": actor, "action": action,
                                   "object_id": object_id, "object_name": object_name, "detail": detail})

    def _write_log(self, actor: str, action: str, **kw: Any) -> None:
        with self.db.write() as conn:
            self._log(conn, self._now(), actor, action, **kw)

    def audit_event(self, actor: str, action: str, **detail: Any) -> None:
        """Write one audit entry that belongs to no tenant or object (e.g. ``login.failed``)."""
        self._write_log(actor, action, **detail)

    def _node(self, record: Mapping[str, Any]) -> Any:
        return self.directory.node(record)

    def _node_or_none(self, record: Mapping[str, Any]) -> Any:
        try:
            return self.directory.node(record)
        except QcloneError:  # e.g. a provider at a url on a gateway that runs embedded ones only
            return None

    def _vault_times(self) -> tuple[float, float]:
        if self._vault_coherence is None:
            h = self.vault.health()
            self._vault_coherence = (float(h.get("t1", DEFAULT_T1)), float(h.get("t2", DEFAULT_T2)))
        return self._vault_coherence

    @staticmethod
    def _provider_record(row: Any) -> dict[str, Any]:
        m = row._mapping
        return {"id": m["id"], "name": m["name"], "zone": m["zone"], "url": m["url"], "state": m["state"],
                "t1": m["t1"], "t2": m["t2"], "public_key": m["public_key"]}

    def _object_row(self, conn: Any, tenant: Tenant, name: str, *, audit: bool = False) -> Any:
        row = conn.execute(Q_OBJECT_AUDIT if audit else Q_OBJECT, {"b_tenant": tenant.id, "b_name": name}).first()
        if row is None:
            raise NotFoundError(f"no object named {name!r}")
        return row

    @staticmethod
    def _describe(object_id: str, tenant: Tenant, name: str, k: int, n: int, policy: str, state: str,
                  created_at: float, stored_at: float, finished_at: float | None, keep_reference: bool,
                  clone_rows: list[dict[str, Any]], audit_summary: dict[str, Any]) -> dict[str, Any]:
        live = [c for c in clone_rows if c["state"] == "live"]
        return {
            "name": name, "object_id": object_id, "tenant": tenant.name, "state": state, "qubits": k, "clones": n,
            "policy": policy, "keep_reference": keep_reference, "created_at": created_at, "stored_at": stored_at,
            "finished_at": finished_at, "live_clones": len(live),
            "retrievable": (state == "stored" and any(c["provider_state"] in ALIVE for c in live))
                           or state == "delivering",
            "placement": clone_rows, "audit": audit_summary,
        }

    def _clone_rows(self, conn: Any, object_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(Q_CLONES, {"b_id": object_id}).all()
        return [dict(r._mapping) for r in rows]

    @staticmethod
    def _clone_provider(c: Mapping[str, Any]) -> dict[str, Any]:
        """The provider record of a clone row (:data:`Q_CLONES`)."""
        return {"id": c["provider_id"], "name": c["name"], "zone": c["zone"], "url": c["url"],
                "state": c["provider_state"], "t1": c["t1"], "t2": c["t2"], "public_key": c["public_key"]}

    def _describe_row(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]]) -> dict[str, Any]:
        shown = [{"clone": c["j"], "provider": c["provider_id"], "zone": c["zone"], "state": c["state"],
                  "provider_state": c["provider_state"], "stored_at": c["stored_at"]} for c in crows]
        return self._describe(row.id, tenant, row.name, row.k, row.n, row.policy, row.state, row.created_at,
                              row.stored_at, row.finished_at, row.keep_reference, shown, row.audit["summary"])

    def _tell_discard(self, record: Mapping[str, Any], object_id: str) -> bool:
        if record.get("state") == "down":
            return False
        try:
            self._node(record).discard(object_id)
            return True
        except NODE_ERRORS as e:  # a provider that cannot be reached gets it later
            log.warning("discard of %s at provider %s: %s", object_id, record["id"], e)
            return False

    def _provider(self, conn: Any, provider_id: str) -> dict[str, Any]:
        row = conn.execute(select(providers).where(providers.c.id == provider_id)).first()
        if row is None:
            raise NotFoundError(f"no provider {provider_id!r}")
        return self._provider_record(row)

