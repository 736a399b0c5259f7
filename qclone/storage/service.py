"""The storage service: tenants, objects and their state machine, placement, providers, audit log.

:class:`StorageService` keeps the metadata in the database (:mod:`qclone.storage.db`)
and talks to the substrate, the key vault and the providers through their
interfaces (local classes or remote clients with the same methods). See
``docs/storage.md`` for the state machine, the eight steps of a get, the
recovery and the crash points (:func:`qclone.storage.faults.crash_point`).

Examples:
    >>> from qclone.storage.clock import SettableClock
    >>> from qclone.storage.db import Database
    >>> from qclone.storage.inputs import parse_state
    >>> from qclone.storage.substrate import Substrate
    >>> from qclone.storage.vault import KeyVault
    >>> svc = StorageService(Database.open(), Substrate(None), KeyVault(None), ProviderDirectory.local(None),
    ...                      SettableClock(None, start=0.0))
    >>> for p in ("p1", "p2", "p3", "p4"):
    ...     _ = svc.providers_add(p)
    >>> alice = svc.authenticate(svc.create_tenant("alice"))
    >>> svc.put(alice, "psi", parse_state("bloch", [0, 0, 1]), keep_reference=True)["audit"]["safe"]
    True
    >>> round(svc.get(alice, "psi")["fidelity"], 9)
    1.0
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from qclone.analysis.leakage import Placement, audit_placement
from qclone.errors import InvalidArgumentError, QcloneError
from qclone.protocol import single_clone_warning
from qclone.sim.exact import bloch_vector, partial_trace
from qclone.storage import faults
from qclone.storage.db import Database, JSONDocument
from qclone.storage.errors import ConflictError, NotFoundError, UnauthorizedError, UnavailableError
from qclone.storage.models import audit_log, new_token, objects, providers, tenants, token_matches, token_tenant_id
from qclone.storage.models import clones as clone_table
from qclone.storage.ports import node_statuses
from qclone.storage.provider import ProviderNode, check_provider_id
from qclone.storage.vault import DEFAULT_T1, DEFAULT_T2, check_coherence
from qclone.storage.wire import decode_array

log = logging.getLogger(__name__)

#: Clones per object unless the tenant chooses.
DEFAULT_CLONES = 4
#: Placement policies: every clone at its own provider, or also in its own zone.
POLICIES = ("distinct-providers", "distinct-zones")
#: Seconds a retrieval may take before recovery may roll it back or complete it.
LEASE_SECONDS = 60.0
#: Longest object name.
MAX_NAME = 255
#: Party name of the key vault in placements and audits (no provider may use it).
VAULT_PARTY = "vault"
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,199}")
_ALIVE = ("up", "draining")  # providers that hold and hand out clones

# Statements of the hot paths, built once: run through SQLAlchemy (``Database.write``/``read``) or
# prepared once and run on the DBAPI connection (``Database.fast_write``/``fast_read``, put and get).
_OBJECT_COLS = [c for c in objects.c if c.name != "audit"]
_Q_OBJECT = select(*_OBJECT_COLS).where(objects.c.tenant_id == bindparam("b_tenant"), objects.c.name == bindparam("b_name"))
_Q_OBJECT_AUDIT = select(objects).where(objects.c.tenant_id == bindparam("b_tenant"), objects.c.name == bindparam("b_name"))
_Q_OBJECT_BY_ID = select(*_OBJECT_COLS).where(objects.c.id == bindparam("b_id"))
_Q_UP = select(providers).where(providers.c.state == "up")
_Q_CLONES = (select(clone_table.c.j, clone_table.c.provider_id, clone_table.c.state, clone_table.c.stored_at,
                    clone_table.c.labels, clone_table.c.discard_pending, providers.c.zone,
                    providers.c.state.label("provider_state"), providers.c.name, providers.c.url, providers.c.t1,
                    providers.c.t2, providers.c.public_key)
             .join(providers, providers.c.id == clone_table.c.provider_id)
             .where(clone_table.c.object_id == bindparam("b_id")).order_by(clone_table.c.j))
_INSERT_LOG = insert(audit_log)
_INSERT_OBJECT = insert(objects)
_INSERT_CLONES = insert(clone_table)
_STORED = (update(objects).where(objects.c.id == bindparam("b_id"), objects.c.state == "storing")
           .values(state="stored", lease_until=None, placement=bindparam("b_placement"), audit=bindparam("b_audit")))
_CLAIM = (update(objects).where(objects.c.id == bindparam("b_id"), objects.c.state == "stored")
          .values(state="retrieving", attempt=bindparam("b_attempt"), lease_until=bindparam("b_lease"),
                  chosen_clone=bindparam("b_clone")))
_FINISH = (update(objects).where(objects.c.id == bindparam("b_id"), objects.c.state == "retrieving",
                                 objects.c.attempt == bindparam("b_attempt"))
           .values(state="retrieved", finished_at=bindparam("b_now"), lease_until=bindparam("b_lease")))
_DISCARD_CLONES = (update(clone_table).where(clone_table.c.object_id == bindparam("b_id"), clone_table.c.state == "live")
                   .values(state="discarded", discard_pending=clone_table.c.provider_id.in_(
                       select(providers.c.id).where(*(providers.c.state != s for s in _ALIVE)).scalar_subquery())))


@dataclass(frozen=True)
class Tenant:
    """An authenticated tenant."""

    id: str
    name: str


class ProviderDirectory:
    """Provider id -> the object to talk to it, made once by ``factory(record)``.

    ``record`` is the provider's row: ``{"id", "name", "zone", "url", "state", "t1", "t2"}``;
    the factory returns a :class:`~qclone.storage.provider.ProviderNode` (``url`` None) or a
    remote client with the same methods. ``on_kill(record, destroy)`` / ``on_revive(record)``
    are called when an operator kills or revives the provider (a deployment stops or restarts
    the process there). ``enroll(url, join_token)`` enrolls a provider node and returns its
    public key (a gateway of a multi-process deployment; None: no provider nodes).
    """

    def __init__(self, factory: Callable[[Mapping[str, Any]], Any], *,
                 on_kill: Callable[[Mapping[str, Any], bool], None] | None = None,
                 on_revive: Callable[[Mapping[str, Any]], None] | None = None,
                 enroll: Callable[[str, str | None], str] | None = None) -> None:
        self._factory = factory
        self.enroll = enroll
        self._nodes: dict[str, tuple[tuple, Any]] = {}
        self._lock = threading.Lock()
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

    def node(self, record: Mapping[str, Any]) -> Any:
        """The node of a provider record (made on first use, remade if its url, zone or T1/T2 changed)."""
        key = (record.get("url"), record.get("public_key"), record["zone"], float(record["t1"]), float(record["t2"]))
        with self._lock:
            cached = self._nodes.get(record["id"])
            if cached is not None and cached[0] == key:
                return cached[1]
        made = self._factory(record)
        with self._lock:
            self._nodes[record["id"]] = (key, made)
        return made

    def forget(self, provider_id: str) -> None:
        with self._lock:
            self._nodes.pop(provider_id, None)


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


def default_max_coalition(clones: int) -> int:
    """Largest coalition the placement audit examines: every coalition up to n = 6, pairs up to
    n = 16, single parties beyond (the audit always checks all clone holders together too)."""
    return clones + 1 if clones <= 6 else (2 if clones <= 16 else 1)


@lru_cache(maxsize=512)
def _audit(n: int, k: int, holders: tuple[str, ...], max_coalition: int) -> tuple[dict, dict]:
    """(summary, full report) of the coalition audit of provider ``holders[j-1]`` holding S_j and
    the vault holding N_1..N_n; the input qubits A are consumed by the encoding (held by nobody)."""
    parties: dict[str, list[str]] = {p: [f"S{j}"] for j, p in enumerate(holders, 1)}
    parties[VAULT_PARTY] = [f"N{j}" for j in range(1, n + 1)]
    report = audit_placement(n, Placement(parties, name="placement"), max_coalition=max_coalition, qubits=k)
    full = report.to_dict()
    summary = {
        "safe": report.safe,
        "complete": report.complete,
        "coalitions_examined": report.examined,
        "max_coalition": max_coalition,
        "learning": [{"coalition": list(f.coalition), "learns": f.learns, "intended": f.intended}
                     for f in report.findings if f.classification.kind == "partial" or not f.intended],
        "warnings": list(report.warnings),
        "notes": list(report.notes),
    }
    return summary, full


@lru_cache(maxsize=512)
def _audit_document(n: int, k: int, holders: tuple[str, ...], max_coalition: int) -> JSONDocument:
    """The ``audit`` column of an object placed so: ``{"summary", "report"}``, serialised once."""
    summary, full = _audit(n, k, holders, max_coalition)
    return JSONDocument(summary=summary, report=full)


def _per_qubit_bloch(rho: np.ndarray) -> list[list[float]]:
    k = int(round(np.log2(rho.shape[0])))
    return [list(bloch_vector(partial_trace(rho, [q]) if k > 1 else rho)) for q in range(k)]


def _state_summary(rho: np.ndarray) -> dict[str, Any]:
    d = rho.shape[0]
    purity = float(np.real(np.trace(rho @ rho)))
    return {"density_matrix": rho, "bloch": _per_qubit_bloch(rho), "purity": purity,
            "maximally_mixed": bool(np.allclose(rho, np.eye(d) / d, atol=1e-9))}


def _check_sampling(basis: Any, shots: Any, seed: Any) -> tuple[str | None, int | None, int | None]:
    from qclone.storage.substrate import BASES, MAX_SHOTS

    if basis is None:
        if shots is not None:
            raise InvalidArgumentError("shots need a basis (X, Y or Z) to measure in")
        return None, None, None
    if not isinstance(basis, str) or basis.upper() not in BASES:
        raise InvalidArgumentError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
    shots = 1024 if shots is None else shots
    if isinstance(shots, bool) or not isinstance(shots, int) or not 1 <= shots <= MAX_SHOTS:
        raise InvalidArgumentError(f"shots must be an integer in 1..{MAX_SHOTS}, got {shots!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InvalidArgumentError(f"seed must be an integer >= 0 or null, got {seed!r}")
    return basis.upper(), shots, seed


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or name != name.strip() \
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidArgumentError(f"an object name is 1-{MAX_NAME} printable characters without leading or trailing "
                                   f"spaces, got {name!r}")
    return name


class StorageService:
    """Encrypted quantum multi-cloud storage (see the module docstring and ``docs/storage.md``).

    Args:
        db: the metadata database (migrated).
        substrate: a :class:`~qclone.storage.substrate.Substrate` or a remote client.
        vault: a :class:`~qclone.storage.vault.KeyVault` or a remote client.
        providers: the :class:`ProviderDirectory`.
        clock: the service clock (``now()`` in seconds): memory noise, leases, timestamps.
        lease_seconds: how long a retrieval may run before recovery takes it over.
        recover: run :meth:`recover` now (finish or roll back what a crash interrupted).
    """

    def __init__(self, db: Database, substrate: Any, vault: Any, providers: ProviderDirectory, clock: Any, *,
                 lease_seconds: float = LEASE_SECONDS, recover: bool = True) -> None:
        self.db = db
        self.substrate = substrate
        self.vault = vault
        self.directory = providers
        self.clock = clock
        self.lease_seconds = float(lease_seconds)
        self._tokens: OrderedDict[str, Tenant] = OrderedDict()
        self._tokens_lock = threading.Lock()
        self._vault_coherence: tuple[float, float] | None = None
        # Import everything the audit needs now, and set up stim's numpy bridge in this thread:
        # first uses racing in many request threads were seen to hang the process.
        warm_up()
        _audit(2, 1, ("provider-1", "provider-2"), default_max_coalition(2))
        if recover:
            self.recover()

    # ------------------------------------------------------------------ helpers
    def _now(self) -> float:
        return float(self.clock.now())

    @staticmethod
    def _log(conn: Any, at: float, actor: str, action: str, *, tenant_id: str | None = None,
             object_id: str | None = None, object_name: str | None = None, **detail: Any) -> None:
        conn.execute(_INSERT_LOG, {"at": at, "tenant_id": tenant_id, "actor": actor, "action": action,
                                   "object_id": object_id, "object_name": object_name, "detail": detail})

    def _write_log(self, actor: str, action: str, **kw: Any) -> None:
        with self.db.write() as conn:
            self._log(conn, self._now(), actor, action, **kw)

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
        row = conn.execute(_Q_OBJECT_AUDIT if audit else _Q_OBJECT, {"b_tenant": tenant.id, "b_name": name}).first()
        if row is None:
            raise NotFoundError(f"no object named {name!r}")
        return row

    # ------------------------------------------------------------------ tenants
    def create_tenant(self, name: str) -> str:
        """Create a tenant; returns its token (shown once: only a hash of its secret is stored).

        Raises:
            InvalidArgumentError: bad name. ConflictError: the name is taken.
        """
        if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name):
            raise InvalidArgumentError(f"a tenant name is 1-200 letters, digits, '_', '.', '@' or '-', got {name!r}")
        tenant_id = uuid.uuid4().hex
        token, digest = new_token(tenant_id)
        now = self._now()
        try:
            with self.db.write() as conn:
                conn.execute(insert(tenants).values(id=tenant_id, name=name, token_hash=digest, created_at=now))
                self._log(conn, now, "admin", "tenant.create", tenant_id=tenant_id, tenant=name)
        except IntegrityError:
            raise ConflictError(f"a tenant named {name!r} exists") from None
        return token

    def first_tenant(self, name: str = "default") -> str | None:
        """Create tenant ``name`` if there is no tenant at all; its token, or None if tenants exist."""
        with self.db.read() as conn:
            if conn.execute(select(func.count()).select_from(tenants)).scalar():
                return None
        try:
            return self.create_tenant(name)
        except ConflictError:
            return None

    def authenticate(self, token: str) -> Tenant:
        """The tenant a token belongs to.

        Raises:
            UnauthorizedError: missing, malformed or unknown token.
        """
        with self._tokens_lock:
            hit = self._tokens.get(token) if isinstance(token, str) else None
            if hit is not None:
                self._tokens.move_to_end(token)
                return hit
        tenant_id = token_tenant_id(token)
        if tenant_id is None:
            raise UnauthorizedError("bad API token")
        with self.db.read() as conn:
            row = conn.execute(select(tenants.c.name, tenants.c.token_hash).where(tenants.c.id == tenant_id)).first()
        if row is None or not token_matches(token, row.token_hash):
            raise UnauthorizedError("bad API token")
        tenant = Tenant(tenant_id, row.name)
        with self._tokens_lock:
            self._tokens[token] = tenant
            while len(self._tokens) > 1024:
                self._tokens.popitem(last=False)
        return tenant

    def tenants(self) -> list[dict[str, Any]]:
        """Every tenant: ``{"id", "name", "created_at"}`` (no secrets)."""
        with self.db.read() as conn:
            rows = conn.execute(select(tenants.c.id, tenants.c.name, tenants.c.created_at).order_by(tenants.c.created_at))
            return [dict(r._mapping) for r in rows]

    # ------------------------------------------------------------------ placement
    def _choose_providers(self, conn: Any, n: int, policy: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(n providers for the clones, every provider that is up)."""
        rows = conn.execute(_Q_UP).all()
        up = [self._provider_record(r) for r in rows]
        if policy == "distinct-providers":
            if len(up) < n:
                raise UnavailableError(f"{n} clones need {n} providers that are up; {len(up)} are"
                                       f"{' (' + ', '.join(sorted(p['id'] for p in up)) + ')' if up else ''}")
            chosen = random.sample(up, n)
        else:
            zones: dict[str, list[dict[str, Any]]] = {}
            for p in up:
                zones.setdefault(p["zone"], []).append(p)
            if len(zones) < n:
                raise UnavailableError(f"{n} clones in distinct zones need {n} zones with a provider that is up; "
                                       f"{len(zones)} have one{' (' + ', '.join(sorted(zones)) + ')' if zones else ''}")
            chosen = [random.choice(zones[z]) for z in random.sample(sorted(zones), n)]
        return sorted(chosen, key=lambda p: p["id"]), up  # clone j at the j-th provider by id

    def _place(self, object_id: str, info: Mapping[str, Any], chosen: list[dict[str, Any]], up: list[dict[str, Any]],
               policy: str, now: float, placed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store clone j's record at provider j; a provider that fails is replaced by another up
        provider that fits the policy (once per failure). Returns the final providers."""
        final = list(chosen)
        spare = [p for p in up if p["id"] not in {c["id"] for c in chosen}]
        random.shuffle(spare)
        for j in range(1, len(final) + 1):
            while True:
                p = final[j - 1]
                try:
                    self._node(p).store(object_id, j, list(info["clone_qubits"][str(j)]), now)
                    placed.append(p)
                    break
                except Exception as e:  # noqa: BLE001 - try another provider
                    log.warning("provider %s cannot store clone %d of %s: %s", p["id"], j, object_id, e)
                    zones = {q["zone"] for i, q in enumerate(final) if i != j - 1}
                    fits = [q for q in spare if policy != "distinct-zones" or q["zone"] not in zones]
                    if not fits:
                        raise UnavailableError(f"provider {p['id']} cannot store a clone ({e}) and no other provider "
                                               "that is up can take it") from None
                    final[j - 1] = fits[0]
                    spare.remove(fits[0])
        return final

    # ------------------------------------------------------------------ put
    def put(self, tenant: Tenant, name: str, state: Any, *, clones: int = DEFAULT_CLONES,
            policy: str = "distinct-providers", force: bool = False, keep_reference: bool = False) -> dict[str, Any]:
        """Store ``state`` (an :class:`~qclone.storage.inputs.InputState` or ``{"kind", "data"}``) as
        ``clones`` encrypted clones at distinct providers, the key in the vault.

        Returns:
            The object's record as :meth:`stat` returns it.

        Raises:
            InvalidArgumentError: bad name, state, number of clones, policy; n = 1 without ``force``.
            ConflictError: the name exists. UnavailableError: too few providers up (or in distinct
                zones), a component down.
        """
        from qclone.storage.inputs import InputState, parse_state

        name = _check_name(name)
        if isinstance(state, Mapping):
            state = parse_state(state.get("kind"), state.get("data"))
        if not isinstance(state, InputState):
            raise InvalidArgumentError("state must be an InputState or {\"kind\": ..., \"data\": ...}")
        if isinstance(clones, bool) or not isinstance(clones, int) or clones < 1:
            raise InvalidArgumentError(f"the number of clones must be an integer >= 1, got {clones!r}")
        if clones == 1 and not force:
            raise InvalidArgumentError(f"refusing to store a single clone: {single_clone_warning(1)} "
                                       "Use n >= 2 (even n), or force it.")
        if policy not in POLICIES:
            raise InvalidArgumentError(f"unknown placement policy {policy!r}; choose one of {', '.join(POLICIES)}")
        n, k = clones, state.qubits
        object_id = uuid.uuid4().hex
        now = self._now()
        # the reservation (with the choice of providers, in one transaction): the name is taken
        # atomically, and a crash from here on leaves a 'storing' row that recovery cleans up
        chosen, up = self._reserve(tenant, name, object_id, k, n, policy, bool(keep_reference), now)
        faults.crash_point("put.reserve")
        placed: list[dict[str, Any]] = []
        try:
            info = self.substrate.create(object_id, state, n, keep_reference=bool(keep_reference))
            faults.crash_point("put.create")
            self.vault.deposit(tenant.id, object_id, list(info["key_qubits"]))
            faults.crash_point("put.deposit")
            chosen = self._place(object_id, info, chosen, up, policy, now, placed)
            faults.crash_point("put.place")
            audit_doc = _audit_document(n, k, tuple(p["id"] for p in chosen), default_max_coalition(n))
            summary = audit_doc["summary"]
            placement = {
                "policy": policy,
                "clones": {str(j): {"provider": p["id"], "zone": p["zone"], "labels": info["clone_qubits"][str(j)]}
                           for j, p in enumerate(chosen, 1)},
                "key": {"holder": VAULT_PARTY, "labels": list(info["key_qubits"])},
            }
            with self.db.fast_write() as conn:
                if conn.execute(_STORED, {"b_id": object_id, "b_placement": placement,
                                          "b_audit": audit_doc}).rowcount != 1:
                    raise ConflictError(f"the put of {name!r} took longer than its lease and was abandoned; put it again")
                conn.execute(_INSERT_CLONES, [
                    {"object_id": object_id, "j": j, "provider_id": p["id"], "labels": info["clone_qubits"][str(j)],
                     "state": "live", "discard_pending": False, "stored_at": now} for j, p in enumerate(chosen, 1)])
                self._log(conn, now, tenant.name, "put", tenant_id=tenant.id, object_id=object_id, object_name=name,
                          qubits=k, clones=n, policy=policy, providers=[p["id"] for p in chosen], safe=summary["safe"])
        except Exception:
            self._purge(object_id, placed)
            self._unreserve(object_id)
            raise
        faults.crash_point("put.commit")
        return self._describe(object_id, tenant, name, k, n, policy, "stored", now, now, None, bool(keep_reference),
                              [{"clone": j, "provider": p["id"], "zone": p["zone"], "state": "live",
                                "provider_state": "up", "stored_at": now} for j, p in enumerate(chosen, 1)],
                              summary)

    def _reserve(self, tenant: Tenant, name: str, object_id: str, k: int, n: int, policy: str, keep_reference: bool,
                 now: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Choose the providers and take the name (a 'storing' row); what :meth:`_choose_providers` returns."""
        row = {"id": object_id, "tenant_id": tenant.id, "name": name, "k": k, "n": n, "policy": policy,
               "state": "storing", "attempt": None, "lease_until": now + self.lease_seconds, "chosen_clone": None,
               "created_at": now, "stored_at": now, "finished_at": None, "keep_reference": keep_reference,
               "purge_pending": False, "placement": {"policy": policy, "clones": {}, "key": None},
               "audit": {"summary": None, "report": None}}
        for _ in range(2):
            try:
                with self.db.fast_write() as conn:
                    chosen = self._choose_providers(conn, n, policy)  # too few: 503 before the name is taken
                    conn.execute(_INSERT_OBJECT, row)
                return chosen
            except IntegrityError:
                with self.db.read() as conn:
                    old = conn.execute(_Q_OBJECT, {"b_tenant": tenant.id, "b_name": name}).first()
                if old is None or old.state != "storing" or old.lease_until > now:
                    break
                self._abandon_put(old.id)  # a put that died holding the name
        raise ConflictError(f"an object named {name!r} exists (names are never reused)")

    def _unreserve(self, object_id: str) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(delete(objects).where(objects.c.id == object_id, objects.c.state == "storing"))
        except Exception as e:  # noqa: BLE001 - recovery removes it later
            log.warning("reservation of %s stays until recovery: %s", object_id, e)

    def _abandon_put(self, object_id: str) -> bool:
        """Clean up after a put that never committed: its parts everywhere, then its reservation."""
        with self.db.read() as conn:
            row = conn.execute(_Q_OBJECT_BY_ID, {"b_id": object_id}).first()
            prows = [self._provider_record(r) for r in conn.execute(select(providers)).all()]
        if row is None or row.state != "storing":
            return False
        if not self._destroy_quantum(object_id, "abandoned put"):
            return False
        for p in prows:  # any provider may have recorded a clone of it; one that is down is swept when revived
            if p["state"] in _ALIVE:
                self._tell_discard(p, object_id)
        with self.db.write() as conn:
            gone = conn.execute(delete(objects).where(objects.c.id == object_id, objects.c.state == "storing")).rowcount
            if gone:
                self._log(conn, self._now(), "system", "put.abandoned", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name)
        return bool(gone)

    def _purge(self, object_id: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Best-effort removal of an object everywhere; the ids of providers that could not be told."""
        failed = []
        for what in (lambda: self.substrate.discard(object_id), lambda: self.vault.destroy(object_id)):
            try:
                what()
            except Exception as e:  # noqa: BLE001 - best effort; recovery retries
                log.warning("purge of %s: %s", object_id, e)
        for p in records:
            if not self._tell_discard(p, object_id):
                failed.append(p["id"])
        return failed

    def _tell_discard(self, record: Mapping[str, Any], object_id: str) -> bool:
        if record.get("state") == "down":
            return False
        try:
            self._node(record).discard(object_id)
            return True
        except Exception as e:  # noqa: BLE001 - a provider that cannot be reached gets it later
            log.warning("discard of %s at provider %s: %s", object_id, record["id"], e)
            return False

    # ------------------------------------------------------------------ reads
    @staticmethod
    def _describe(object_id: str, tenant: Tenant, name: str, k: int, n: int, policy: str, state: str,
                  created_at: float, stored_at: float, finished_at: float | None, keep_reference: bool,
                  clone_rows: list[dict[str, Any]], audit_summary: dict[str, Any]) -> dict[str, Any]:
        live = [c for c in clone_rows if c["state"] == "live"]
        return {
            "name": name, "object_id": object_id, "tenant": tenant.name, "state": state, "qubits": k, "clones": n,
            "policy": policy, "keep_reference": keep_reference, "created_at": created_at, "stored_at": stored_at,
            "finished_at": finished_at, "live_clones": len(live),
            "retrievable": state == "stored" and any(c["provider_state"] in _ALIVE for c in live),
            "placement": clone_rows, "audit": audit_summary,
        }

    def _clone_rows(self, conn: Any, object_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(_Q_CLONES, {"b_id": object_id}).all()
        return [dict(r._mapping) for r in rows]

    def stat(self, tenant: Tenant, name: str, *, full_audit: bool = False) -> dict[str, Any]:
        """One object's record.

        Returns:
            ``{"name", "object_id", "tenant", "state", "qubits", "clones", "policy", "keep_reference",
            "created_at", "stored_at", "finished_at", "live_clones", "retrievable", "placement": [{"clone",
            "provider", "zone", "state", "provider_state", "stored_at"}], "audit": {"safe", "complete",
            "coalitions_examined", "max_coalition", "learning", "warnings", "notes"}}``, plus
            ``"audit_report"`` (the full coalition audit) with ``full_audit``.
        """
        name = _check_name(name)
        with self.db.read() as conn:
            row = self._object_row(conn, tenant, name, audit=True)
            crows = self._clone_rows(conn, row.id)
        out = self._describe_row(tenant, row, crows)
        if full_audit:
            out["audit_report"] = row.audit["report"]
        self._write_log(tenant.name, "stat", tenant_id=tenant.id, object_id=row.id, object_name=name)
        return out

    def _describe_row(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]]) -> dict[str, Any]:
        shown = [{"clone": c["j"], "provider": c["provider_id"], "zone": c["zone"], "state": c["state"],
                  "provider_state": c["provider_state"], "stored_at": c["stored_at"]} for c in crows]
        return self._describe(row.id, tenant, row.name, row.k, row.n, row.policy, row.state, row.created_at,
                              row.stored_at, row.finished_at, row.keep_reference, shown, row.audit["summary"])

    def list(self, tenant: Tenant, *, state: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The tenant's objects, oldest first: ``{"name", "object_id", "state", "qubits", "clones", "policy",
        "created_at", "stored_at", "finished_at"}`` (optionally only those in ``state``)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be an integer >= 1, got {limit!r}")
        q = select(objects.c.name, objects.c.id.label("object_id"), objects.c.state, objects.c.k.label("qubits"),
                   objects.c.n.label("clones"), objects.c.policy, objects.c.created_at, objects.c.stored_at,
                   objects.c.finished_at).where(objects.c.tenant_id == tenant.id)
        if state is not None:
            q = q.where(objects.c.state == state)
        with self.db.read() as conn:
            out = [dict(r._mapping) for r in conn.execute(q.order_by(objects.c.created_at, objects.c.name).limit(limit))]
        self._write_log(tenant.name, "list", tenant_id=tenant.id, count=len(out))
        return out

    # ------------------------------------------------------------------ get
    def get(self, tenant: Tenant, name: str, *, basis: str | None = None, shots: int | None = None,
            seed: int | None = None) -> dict[str, Any]:
        """Retrieve a state, once: decrypt one live clone with the key (consumed) and discard the rest.

        Args:
            basis, shots, seed: also measure the output ``shots`` times in basis X, Y or Z.

        Returns:
            ``{"name", "object_id", "qubits", "clones", "clone", "provider", "attempt", "density_matrix"
            (numpy array), "bloch" (per qubit), "purity", "maximally_mixed", "fidelity" (None without a kept
            reference), "elapsed" (seconds stored), "basis", "shots", "samples" (None without a basis),
            "recovered" (True when the output of an interrupted retrieval is delivered)}``.

        Raises:
            NotFoundError: no such object. ConflictError: already retrieved, being retrieved, deleted or
            lost. UnavailableError: no provider holding a live clone is up, or the vault/substrate is down.
        """
        name = _check_name(name)
        basis, shots, seed = _check_sampling(basis, shots, seed)  # before anything is decrypted
        for _ in range(3):
            now = self._now()
            with self.db.fast_read() as conn:
                row = self._object_row(conn, tenant, name)
                crows = self._clone_rows(conn, row.id) if row.state == "stored" else []
            if row.state == "stored":
                return self._retrieve(tenant, row, crows, now, basis, shots, seed)
            if row.state == "retrieving" and row.lease_until is not None and row.lease_until <= now:
                self._recover_object(row.id)
                continue
            if row.state == "retrieved" and (row.lease_until is None or row.lease_until <= now):
                delivered = self._deliver_pending(tenant, row, now, basis, shots, seed)
                if delivered is not None:
                    return delivered
            break
        self._refuse(tenant, row)
        raise AssertionError("unreachable")

    def _refuse(self, tenant: Tenant, row: Any) -> None:
        reason = {
            "retrieving": f"object {row.name!r} is being retrieved right now; a state can be retrieved only once",
            "retrieved": f"object {row.name!r} was already retrieved: decryption consumed its key, so it cannot be "
                         "retrieved again",
            "deleted": f"object {row.name!r} was deleted",
            "storing": f"object {row.name!r} is being stored right now",
            "lost": f"object {row.name!r} is lost: no live clone of it is left",
        }.get(row.state, f"object {row.name!r} is {row.state}")
        self._write_log(tenant.name, "get.refused", tenant_id=tenant.id, object_id=row.id, object_name=row.name,
                        state=row.state)
        raise ConflictError(reason)

    def _retrieve(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]], now: float, basis: str | None,
                  shots: int | None, seed: int | None) -> dict[str, Any]:
        object_id = row.id
        live = [c for c in crows if c["state"] == "live"]
        candidates = [c for c in live if c["provider_state"] in _ALIVE]
        if not live:
            self._mark_lost(object_id, "no live clone left")
            raise ConflictError(f"object {row.name!r} is lost: no live clone of it is left")
        random.shuffle(candidates)
        candidates.sort(key=lambda c: c["provider_state"] != "up")
        chosen = None
        for c in candidates:
            record = {"id": c["provider_id"], "name": c["name"], "zone": c["zone"], "url": c["url"],
                      "state": c["provider_state"], "t1": c["t1"], "t2": c["t2"], "public_key": c["public_key"]}
            try:
                held = self._node(record).holding(object_id)
            except Exception as e:  # noqa: BLE001 - an unreachable provider is skipped
                log.warning("provider %s unreachable for %s: %s", c["provider_id"], object_id, e)
                continue
            if held is not None and int(held["clone"]) == c["j"]:
                chosen = c
                break
        if chosen is None:
            # a concurrent get may have won meanwhile (and told every provider to discard): then the
            # refusal is that one's (409), not unavailability
            with self.db.read() as conn:
                current = self._object_row(conn, tenant, row.name)
            if current.state != "stored":
                self._refuse(tenant, current)
            self._write_log(tenant.name, "get.unavailable", tenant_id=tenant.id, object_id=object_id,
                            object_name=row.name, live_clones=len(live))
            raise UnavailableError(f"object {row.name!r}: no provider holding one of its {len(live)} live clone(s) "
                                   f"is reachable ({', '.join(sorted(c['provider_id'] for c in live))}); try again later")
        attempt = uuid.uuid4().hex
        # 1. claim: the one compare-and-set that lets exactly one get through
        with self.db.fast_write() as conn:
            won = conn.execute(_CLAIM, {"b_id": object_id, "b_attempt": attempt, "b_lease": now + self.lease_seconds,
                                        "b_clone": chosen["j"]}).rowcount
        if won != 1:
            with self.db.read() as conn:
                row = self._object_row(conn, tenant, row.name)
            self._refuse(tenant, row)
        faults.crash_point("get.claim")
        key_labels = row.placement["key"]["labels"]
        released = False
        try:
            # 2. the vault releases the key to this attempt
            grant = self.vault.release(object_id, attempt)  # the vault's one-time authorization (or None)
            released = True
            faults.crash_point("get.release")
            # 3. memory noise for the whole storage time (age() counts each qubit's time once)
            elapsed = max(0.0, now - row.stored_at)
            if elapsed > 0:
                self.substrate.age(object_id, list(chosen["labels"]), elapsed, chosen["t1"], chosen["t2"])
                self.substrate.age(object_id, list(key_labels), elapsed, *self._vault_times())
            faults.crash_point("get.age")
        except Exception as e:
            # a release that never reached the vault (breaker open, refused) left the key held
            self._rollback(object_id, attempt, restore_key=released or not getattr(e, "unsent", False))
            raise
        # 4. the one decryption (consumes the joint state)
        try:
            out = self.substrate.decrypt(object_id, chosen["j"], attempt, grant)
        except Exception:
            self._recover_quietly(object_id)
            raise
        faults.crash_point("get.decrypt")
        # 5. the key is consumed; 6. the object is retrieved (+ audit); 7. the other providers discard
        try:
            self.vault.consume(object_id, attempt)
        except UnavailableError as e:
            raise UnavailableError(f"object {row.name!r} was decrypted but the vault cannot confirm it now ({e}); "
                                   "get it again once the vault is back to receive the output") from None
        faults.crash_point("get.consume")
        self._finish(object_id, attempt, tenant.name, tenant.id, row.name, chosen["j"], chosen["provider_id"],
                     elapsed, lease_until=now + self.lease_seconds)
        faults.crash_point("get.finish")
        self._discard_clones(object_id, crows)
        faults.crash_point("get.discard")
        # 8. the output is returned and released
        result = self._output(row, out, chosen["provider_id"], elapsed, basis, shots, seed, recovered=False)
        faults.crash_point("get.deliver")
        self.substrate.release(object_id)
        return result

    def _output(self, row: Any, out: Mapping[str, Any], provider_id: str | None, elapsed: float | None,
                basis: str | None, shots: int | None, seed: int | None, *, recovered: bool) -> dict[str, Any]:
        rho = decode_array(out["density_matrix"], name="output") if isinstance(out["density_matrix"], (dict, list)) \
            else np.asarray(out["density_matrix"], dtype=complex)
        samples = None
        if basis is not None:
            samples = self.substrate.sample(row.id, basis, shots, seed)
        return {"name": row.name, "object_id": row.id, "qubits": row.k, "clones": row.n, "clone": int(out["clone"]),
                "provider": provider_id, "attempt": out["attempt"], **_state_summary(rho),
                "fidelity": out.get("fidelity"), "elapsed": elapsed, "basis": basis,
                "shots": shots if basis is not None else None, "samples": samples, "recovered": recovered}

    def _finish(self, object_id: str, attempt: str, actor: str, tenant_id: str | None, name: str, j: int,
                provider_id: str | None, elapsed: float | None, *, lease_until: float | None, action: str = "get") -> bool:
        """Step 6: retrieving -> retrieved, clone records discarded (pending where the provider is down), audit."""
        now = self._now()
        with self.db.fast_write() as conn:
            done = conn.execute(_FINISH, {"b_id": object_id, "b_attempt": attempt, "b_now": now,
                                          "b_lease": lease_until}).rowcount
            if done != 1:
                return False
            conn.execute(_DISCARD_CLONES, {"b_id": object_id})
            self._log(conn, now, actor, action, tenant_id=tenant_id, object_id=object_id, object_name=name,
                      clone=j, provider=provider_id, attempt=attempt, elapsed=elapsed)
        return True

    def _discard_clones(self, object_id: str, crows: list[dict[str, Any]]) -> None:
        """Step 7: tell every provider that held a clone to discard it; remember the ones that missed it."""
        failed = []
        for c in crows:
            if c["state"] != "live" or c["provider_state"] not in _ALIVE:
                continue
            record = {"id": c["provider_id"], "name": c["name"], "zone": c["zone"], "url": c["url"],
                      "state": c["provider_state"], "t1": c["t1"], "t2": c["t2"], "public_key": c["public_key"]}
            if not self._tell_discard(record, object_id):
                failed.append(c["provider_id"])
        if failed:
            with self.db.write() as conn:
                conn.execute(update(clone_table).where(clone_table.c.object_id == object_id, clone_table.c.provider_id.in_(failed))
                             .values(discard_pending=True))

    def _deliver_pending(self, tenant: Tenant, row: Any, now: float, basis: str | None, shots: int | None,
                         seed: int | None) -> dict[str, Any] | None:
        """The output of a retrieval that a crash interrupted after the decryption, delivered once."""
        out = self.substrate.output(row.id)
        if out is None or out.get("attempt") != row.attempt:
            return None
        with self.db.write() as conn:
            won = conn.execute(update(objects).where(
                objects.c.id == row.id, objects.c.state == "retrieved", objects.c.attempt == row.attempt,
                or_(objects.c.lease_until.is_(None), objects.c.lease_until <= now))
                .values(lease_until=now + self.lease_seconds)).rowcount
            if won == 1:
                self._log(conn, now, tenant.name, "get.deliver", tenant_id=tenant.id, object_id=row.id,
                          object_name=row.name, attempt=row.attempt)
        if won != 1:
            return None
        provider = None
        with self.db.read() as conn:
            provider = conn.execute(select(clone_table.c.provider_id).where(clone_table.c.object_id == row.id,
                                                                      clone_table.c.j == out["clone"])).scalar()
        result = self._output(row, out, provider, None, basis, shots, seed, recovered=True)
        faults.crash_point("get.deliver")
        self.substrate.release(row.id)
        return result

    def _rollback(self, object_id: str, attempt: str, *, restore_key: bool = True) -> None:
        """Undo a claim whose decryption never happened: the key back to held (unless ``restore_key``
        is False: it was never released), the object back to stored."""
        try:
            if restore_key:
                self.vault.restore(object_id, attempt)
        except NotFoundError:
            pass
        except Exception as e:  # noqa: BLE001 - leave the object retrieving: recovery finishes the rollback
            log.warning("rollback of %s: vault: %s", object_id, e)
            return
        with self.db.write() as conn:
            undone = conn.execute(update(objects).where(objects.c.id == object_id, objects.c.state == "retrieving",
                                                        objects.c.attempt == attempt)
                                  .values(state="stored", attempt=None, lease_until=None, chosen_clone=None)).rowcount
            if undone:
                self._log(conn, self._now(), "system", "get.rollback", object_id=object_id, attempt=attempt)

    def _recover_quietly(self, object_id: str) -> None:
        try:
            self._recover_object(object_id)
        except Exception as e:  # noqa: BLE001 - recovery runs again at the next start or lease expiry
            log.warning("recovery of %s deferred: %s", object_id, e)

    def _mark_lost(self, object_id: str, reason: str) -> None:
        with self.db.write() as conn:
            row = conn.execute(select(objects.c.tenant_id, objects.c.name).where(objects.c.id == object_id)).first()
            lost = conn.execute(update(objects).where(objects.c.id == object_id, objects.c.state == "stored")
                                .values(state="lost", finished_at=self._now(), purge_pending=True)).rowcount
            if lost:
                self._log(conn, self._now(), "system", "object.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, reason=reason)
        if lost:
            self._purge_object(object_id)

    # ------------------------------------------------------------------ recovery
    def _recover_object(self, object_id: str) -> str | None:
        """Finish or undo an interrupted retrieval; returns what was done (None: nothing)."""
        with self.db.read() as conn:
            row = conn.execute(_Q_OBJECT_BY_ID, {"b_id": object_id}).first()
            crows = self._clone_rows(conn, object_id) if row is not None else []
        if row is None or row.state != "retrieving":
            return None
        attempt = row.attempt
        if self.substrate.exists(object_id):
            self._rollback(object_id, attempt)
            return "rolled back"
        out = self.substrate.output(object_id)
        if out is not None and out.get("attempt") == attempt:
            self.vault.consume(object_id, attempt)
            provider = next((c["provider_id"] for c in crows if c["j"] == out["clone"]), None)
            if self._finish(object_id, attempt, "system", row.tenant_id, row.name, int(out["clone"]), provider, None,
                            lease_until=None, action="get.recovered"):
                self._discard_clones(object_id, crows)
            return "completed"
        with self.db.write() as conn:
            lost = conn.execute(update(objects).where(objects.c.id == object_id, objects.c.state == "retrieving",
                                                      objects.c.attempt == attempt)
                                .values(state="lost", finished_at=self._now(), lease_until=None)).rowcount
            if lost:
                self._log(conn, self._now(), "system", "object.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, reason="the substrate holds neither its state nor an output")
        return "lost"

    def recover(self, *, expired_only: bool = False) -> dict[str, int]:
        """Repair what crashes left behind; run at start-up (``expired_only=False``) or periodically.

        Puts that never committed are undone (their parts destroyed, the name freed).
        Interrupted retrievals are rolled back (the decryption never happened) or completed (it
        did: the output waits for the next get). Deletions are purged, pending discards sent.
        At start-up also: an output a dead process decrypted but never delivered is offered to
        the next get at once (its lease is lifted), and records a provider keeps of objects it
        holds no live clone of are dropped.

        Returns:
            Counts: ``{"abandoned", "rolled_back", "completed", "lost", "undelivered", "purged", "discards",
            "orphans"}``.
        """
        now = self._now()
        counts = {"abandoned": 0, "rolled_back": 0, "completed": 0, "lost": 0, "undelivered": 0, "purged": 0,
                  "discards": 0, "orphans": 0}
        q = select(objects.c.id).where(objects.c.state == "retrieving")
        if expired_only:
            q = q.where(objects.c.lease_until <= now)
        with self.db.read() as conn:
            retrieving = conn.execute(q).scalars().all()
            purge = conn.execute(select(objects.c.id).where(objects.c.purge_pending.is_(True))).scalars().all()
            prows = [self._provider_record(r) for r in conn.execute(select(providers)).all()]
            storing_q = select(objects.c.id).where(objects.c.state == "storing")
            if expired_only:
                storing_q = storing_q.where(objects.c.lease_until <= now)
            storing = conn.execute(storing_q).scalars().all()
            leased = [] if expired_only else conn.execute(
                select(objects.c.id, objects.c.attempt).where(objects.c.state == "retrieved",
                                                              objects.c.lease_until > now)).all()
        for object_id in storing:
            if self._abandon_put(object_id):
                counts["abandoned"] += 1
        for object_id, attempt in leased:
            try:
                out = self.substrate.output(object_id)
            except Exception as e:  # noqa: BLE001
                log.warning("recovery of %s deferred: %s", object_id, e)
                continue
            if out is not None and out.get("attempt") == attempt:
                with self.db.write() as conn:
                    conn.execute(update(objects).where(objects.c.id == object_id, objects.c.state == "retrieved",
                                                       objects.c.attempt == attempt).values(lease_until=None))
                counts["undelivered"] += 1
        for object_id in retrieving:
            try:
                done = self._recover_object(object_id)
            except Exception as e:  # noqa: BLE001 - a component is down: try again later
                log.warning("recovery of %s deferred: %s", object_id, e)
                continue
            key = {"rolled back": "rolled_back", "completed": "completed", "lost": "lost"}.get(done or "")
            if key:
                counts[key] += 1
        for object_id in purge:
            if self._purge_object(object_id):
                counts["purged"] += 1
        for p in prows:
            if p["state"] in _ALIVE:
                sent, orphans = self._sync_provider(p, orphans_before=None if expired_only else math.inf)
                counts["discards"] += sent
                counts["orphans"] += orphans
        if any(counts.values()):
            self._write_log("system", "recover", **counts)
        return counts

    def _destroy_quantum(self, object_id: str, why: str) -> bool:
        """Discard the object's joint state and destroy its key; False (logged, retried at the next
        recovery) when the substrate or the vault cannot be reached."""
        try:
            self.substrate.discard(object_id)
            self.vault.destroy(object_id)
        except Exception as e:  # noqa: BLE001 - retried at the next recovery
            log.warning("%s of %s deferred: %s", why, object_id, e)
            return False
        return True

    def _purge_object(self, object_id: str) -> bool:
        """Remove a deleted or lost object from the substrate, the vault and its providers."""
        with self.db.read() as conn:
            crows = self._clone_rows(conn, object_id)
        if not self._destroy_quantum(object_id, "purge"):
            return False
        failed = []
        for c in crows:
            record = {"id": c["provider_id"], "name": c["name"], "zone": c["zone"], "url": c["url"],
                      "state": c["provider_state"], "t1": c["t1"], "t2": c["t2"], "public_key": c["public_key"]}
            if c["state"] != "lost" and not self._tell_discard(record, object_id):
                failed.append(c["provider_id"])
        with self.db.write() as conn:
            conn.execute(update(objects).where(objects.c.id == object_id).values(purge_pending=False))
            conn.execute(update(clone_table).where(clone_table.c.object_id == object_id)
                         .values(discard_pending=clone_table.c.provider_id.in_(failed) if failed else False))
        return True

    def _sync_provider(self, record: Mapping[str, Any], *, orphans_before: float | None) -> tuple[int, int]:
        """Deliver a provider's pending discards and (unless ``orphans_before`` is None) drop the
        records it keeps, stored before that time, of objects it holds no live clone of (a put
        still running stores its records before it commits, so only older ones are orphans).
        Returns (discards sent, orphans dropped)."""
        orphans = orphans_before is not None
        with self.db.read() as conn:
            pending = conn.execute(select(clone_table.c.object_id).where(clone_table.c.provider_id == record["id"],
                                                                   clone_table.c.discard_pending.is_(True))).scalars().all()
            live = set(conn.execute(select(clone_table.c.object_id).where(clone_table.c.provider_id == record["id"],
                                                                    clone_table.c.state == "live")).scalars()) if orphans else set()
        node = self._node(record)
        sent: list[str] = []
        dropped = 0
        try:
            for object_id in pending:
                node.discard(object_id)
                sent.append(object_id)
            if orphans:
                for rec in node.records():
                    if rec["object_id"] not in live and rec["object_id"] not in sent \
                            and float(rec["stored_at"]) < orphans_before:
                        node.discard(rec["object_id"])
                        dropped += 1
        except Exception as e:  # noqa: BLE001 - the provider is unreachable: next time
            log.warning("provider %s: discards deferred: %s", record["id"], e)
        if sent:
            with self.db.write() as conn:
                conn.execute(update(clone_table).where(clone_table.c.provider_id == record["id"],
                                                  clone_table.c.object_id.in_(sent)).values(discard_pending=False))
        return len(sent), dropped

    # ------------------------------------------------------------------ delete, peek
    def delete(self, tenant: Tenant, name: str) -> dict[str, Any]:
        """Delete a stored (or lost) object: its clones and key are destroyed.

        Returns:
            ``{"name", "object_id", "state": "deleted"}``.

        Raises:
            NotFoundError: no such object. ConflictError: it is being or was retrieved, or was deleted.
        """
        name = _check_name(name)
        now = self._now()
        with self.db.read() as conn:
            row = self._object_row(conn, tenant, name)
        if row.state == "retrieving" and row.lease_until is not None and row.lease_until <= now:
            self._recover_object(row.id)
        with self.db.write() as conn:
            done = conn.execute(update(objects).where(objects.c.id == row.id, objects.c.state.in_(("stored", "lost")))
                                .values(state="deleted", finished_at=now, purge_pending=True)).rowcount
            if done:
                conn.execute(update(clone_table).where(clone_table.c.object_id == row.id, clone_table.c.state == "live")
                             .values(state="discarded"))
                self._log(conn, now, tenant.name, "delete", tenant_id=tenant.id, object_id=row.id, object_name=name)
        if not done:
            with self.db.read() as conn:
                row = self._object_row(conn, tenant, name)
            self._refuse_delete(tenant, row)
        faults.crash_point("delete.mark")
        self._purge_object(row.id)
        faults.crash_point("delete.purge")
        return {"name": name, "object_id": row.id, "state": "deleted"}

    def _refuse_delete(self, tenant: Tenant, row: Any) -> None:
        self._write_log(tenant.name, "delete.refused", tenant_id=tenant.id, object_id=row.id, object_name=row.name,
                        state=row.state)
        raise ConflictError(f"object {row.name!r} cannot be deleted: it is {row.state}")

    def peek(self, tenant: Tenant, name: str, provider_id: str) -> dict[str, Any]:
        """What provider ``provider_id`` can learn of an object by reading its clone: the reduced
        state of the qubits it holds, after the memory noise of its storage time.

        Returns:
            ``{"name", "object_id", "provider", "clone", "labels", "density_matrix", "bloch" (per
            qubit), "purity", "maximally_mixed", "elapsed"}``.

        Raises:
            NotFoundError: no such object, or the provider holds no live clone of it.
            ConflictError: the object is not stored. UnavailableError: the provider is down.
        """
        name = _check_name(name)
        now = self._now()
        with self.db.read() as conn:
            row = self._object_row(conn, tenant, name)
            crows = self._clone_rows(conn, row.id)
        if row.state != "stored":
            raise ConflictError(f"object {row.name!r} is {row.state}: no provider holds a clone of it to read")
        c = next((c for c in crows if c["provider_id"] == provider_id and c["state"] == "live"), None)
        if c is None:
            raise NotFoundError(f"provider {provider_id!r} holds no live clone of object {name!r}")
        if c["provider_state"] not in _ALIVE:
            raise UnavailableError(f"provider {provider_id!r} is {c['provider_state']}")
        elapsed = max(0.0, now - row.stored_at)
        if elapsed > 0:
            self.substrate.age(row.id, list(c["labels"]), elapsed, c["t1"], c["t2"])
        rho = np.asarray(self.substrate.peek(row.id, list(c["labels"])), dtype=complex)
        self._write_log(tenant.name, "peek", tenant_id=tenant.id, object_id=row.id, object_name=name,
                        provider=provider_id, clone=c["j"])
        return {"name": name, "object_id": row.id, "provider": provider_id, "clone": c["j"],
                "labels": list(c["labels"]), **_state_summary(rho), "elapsed": elapsed}

    # ------------------------------------------------------------------ providers
    def _provider(self, conn: Any, provider_id: str) -> dict[str, Any]:
        row = conn.execute(select(providers).where(providers.c.id == provider_id)).first()
        if row is None:
            raise NotFoundError(f"no provider {provider_id!r}")
        return self._provider_record(row)

    def providers_add(self, provider_id: str, *, zone: str | None = None, url: str | None = None,
                      t1: float | None = None, t2: float | None = None, name: str | None = None,
                      join: str | None = None, actor: str = "admin") -> dict[str, Any]:
        """Add a provider (embedded, or the provider node at ``url``, enrolled with its join token) in state ``up``.

        Zone, T1 and T2 default to what a remote node reports, else ``default`` and 3600 s.

        A provider node that exists at the same url and is given a new join token (its key was
        rotated) is enrolled again: its new key is pinned (audit ``provider.enroll``).

        Returns:
            The provider as :meth:`providers_list` shows it.

        Raises:
            InvalidArgumentError: bad id/zone/T1/T2, a join token refused. ConflictError: the id exists.
            UnavailableError: the node does not answer its health check.
        """
        check_provider_id(provider_id)
        if provider_id == VAULT_PARTY:
            raise InvalidArgumentError(f"{VAULT_PARTY!r} names the key vault; choose another provider id")
        if url is not None and (not isinstance(url, str) or not url.strip()):
            raise InvalidArgumentError(f"a provider url is a non-empty string, got {url!r}")
        reported: Mapping[str, Any] = {}
        public_key = None
        if join is not None and not url:
            raise InvalidArgumentError("a join token enrolls a provider node: give its url too")
        if url:
            if self.directory.enroll is None:
                raise InvalidArgumentError("this gateway runs embedded providers only (no url)")
            public_key = self.directory.enroll(url, join)
            probe = {"id": provider_id, "name": name or provider_id, "zone": zone or "default", "url": url,
                     "state": "up", "t1": t1 or DEFAULT_T1, "t2": t2 or DEFAULT_T2, "public_key": public_key}
            try:
                reported = self._node(probe).health()
            except QcloneError:
                raise
            except Exception as e:  # noqa: BLE001
                raise UnavailableError(f"provider {provider_id!r} at {url} does not answer: {e}") from None
            finally:
                self.directory.forget(provider_id)
        zone = zone if zone is not None else reported.get("zone", "default")
        if not isinstance(zone, str) or not zone.strip() or len(zone) > 100:
            raise InvalidArgumentError(f"a zone is a non-empty name of at most 100 characters, got {zone!r}")
        t1v, t2v = check_coherence(t1 if t1 is not None else reported.get("t1", DEFAULT_T1),
                                   t2 if t2 is not None else reported.get("t2", DEFAULT_T2))
        record = {"id": provider_id, "name": name or provider_id, "zone": zone.strip(), "url": url or None,
                  "state": "up", "t1": t1v, "t2": t2v, "public_key": public_key}
        node = self._node(record)
        try:
            node.health()
        except QcloneError:
            self.directory.forget(provider_id)
            raise
        except Exception as e:  # noqa: BLE001
            self.directory.forget(provider_id)
            raise UnavailableError(f"provider {provider_id!r} does not answer: {e}") from None
        now = self._now()
        try:
            with self.db.write() as conn:
                conn.execute(insert(providers).values(**record, created_at=now))
                self._log(conn, now, actor, "provider.add", provider=provider_id, zone=record["zone"], url=record["url"],
                          t1=t1v, t2=t2v)
        except IntegrityError:
            if public_key is None:
                raise ConflictError(f"a provider {provider_id!r} exists") from None
            return self._reenroll(provider_id, url, public_key, actor, now)
        return {**record, "live_clones": 0, "discards_pending": 0, "node": "up"}

    def _reenroll(self, provider_id: str, url: str | None, public_key: str, actor: str, now: float) -> dict[str, Any]:
        """A provider node at the same url enrolled again (its key was rotated): pin its new key."""
        with self.db.write() as conn:
            existing = self._provider(conn, provider_id)
            if existing["url"] != url:
                raise ConflictError(f"a provider {provider_id!r} exists (at another url)")
            conn.execute(update(providers).where(providers.c.id == provider_id).values(public_key=public_key))
            self._log(conn, now, actor, "provider.enroll", provider=provider_id, url=url)
        self.directory.forget(provider_id)
        return next(p for p in self.providers_list() if p["id"] == provider_id)

    def providers_list(self) -> list[dict[str, Any]]:
        """Every provider: ``{"id", "name", "zone", "url", "state", "t1", "t2", "public_key", "live_clones",
        "discards_pending", "node"}``, by id; ``node`` is ``up`` or ``down``: whether the node answers
        (a cached health probe, see :func:`~qclone.storage.ports.node_statuses`)."""
        live = func.sum(case((clone_table.c.state == "live", 1), else_=0)).label("live")
        pending = func.sum(case((clone_table.c.discard_pending.is_(True), 1), else_=0)).label("pending")
        q = (select(providers, live, pending).select_from(providers.outerjoin(clone_table, clone_table.c.provider_id == providers.c.id))
             .group_by(*providers.c).order_by(providers.c.id))
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        out = [{**self._provider_record(r), "live_clones": int(r.live or 0), "discards_pending": int(r.pending or 0)}
               for r in rows]
        for p, status in zip(out, node_statuses([self._node_or_none(p) for p in out]), strict=True):
            p["node"] = "up" if status.get("status") == "ok" else "down"
        return out

    def _set_provider_state(self, provider_id: str, state: str, action: str, actor: str, **detail: Any) -> dict[str, Any]:
        now = self._now()
        with self.db.write() as conn:
            record = self._provider(conn, provider_id)
            conn.execute(update(providers).where(providers.c.id == provider_id).values(state=state))
            self._log(conn, now, actor, action, provider=provider_id, previous=record["state"], **detail)
        return {**record, "state": state}

    def providers_drain(self, provider_id: str, *, actor: str = "admin") -> dict[str, Any]:
        """Move the provider's live clones to other up providers holding no clone of the same object,
        then mark it drained (no new placements). Clones that cannot move stay; it stays draining.

        Returns:
            ``{"id", "state", "moved": [{"object_id", "clone", "to"}], "stuck": [{"object_id", "clone", "reason"}]}``.

        Raises:
            NotFoundError: no such provider. ConflictError: it is down.
        """
        with self.db.read() as conn:
            record = self._provider(conn, provider_id)
        if record["state"] == "down":
            raise ConflictError(f"provider {provider_id!r} is down: revive it before draining it")
        if record["state"] != "drained":
            record = self._set_provider_state(provider_id, "draining", "provider.drain", actor)
        with self.db.read() as conn:
            moving = conn.execute(
                select(clone_table.c.object_id, clone_table.c.j, clone_table.c.labels, objects.c.policy, objects.c.stored_at,
                       objects.c.n, objects.c.k, objects.c.state.label("object_state"))
                .join(objects, objects.c.id == clone_table.c.object_id)
                .where(clone_table.c.provider_id == provider_id, clone_table.c.state == "live")).all()
            up = [self._provider_record(r) for r in conn.execute(select(providers).where(providers.c.state == "up"))]
            load = dict(conn.execute(select(clone_table.c.provider_id, func.count()).where(clone_table.c.state == "live")
                                     .group_by(clone_table.c.provider_id)).all())
        moved: list[dict[str, Any]] = []
        stuck: list[dict[str, Any]] = []
        old = self._node(record)
        for m in moving:
            if m.object_state != "stored":
                stuck.append({"object_id": m.object_id, "clone": m.j, "reason": f"the object is {m.object_state}"})
                continue
            target = self._move_clone(m, record, old, up, load)
            if isinstance(target, str):
                stuck.append({"object_id": m.object_id, "clone": m.j, "reason": target})
            else:
                moved.append({"object_id": m.object_id, "clone": m.j, "to": target["id"]})
                load[target["id"]] = load.get(target["id"], 0) + 1
        state = "draining"
        if not stuck:
            state = self._set_provider_state(provider_id, "drained", "provider.drained", actor, moved=len(moved))["state"]
        return {"id": provider_id, "state": state, "moved": moved, "stuck": stuck}

    def _move_clone(self, m: Any, record: Mapping[str, Any], old: Any, up: list[dict[str, Any]],
                    load: Mapping[str, int]) -> dict[str, Any] | str:
        """Move one clone off a draining provider; the target record, or why it could not move."""
        with self.db.read() as conn:
            crows = self._clone_rows(conn, m.object_id)
        holders = {c["provider_id"] for c in crows if c["state"] == "live"}
        zones = {c["zone"] for c in crows if c["state"] == "live" and c["provider_id"] != record["id"]}
        options = [p for p in up if p["id"] not in holders and (m.policy != "distinct-zones" or p["zone"] not in zones)]
        if not options:
            return "no up provider without a clone of this object" + (" in another zone" if m.policy == "distinct-zones" else "")
        target = min(options, key=lambda p: (load.get(p["id"], 0), p["id"]))
        now = self._now()
        try:
            # the clone's time at the old provider is noise at the old provider's T1/T2
            elapsed = max(0.0, now - m.stored_at)
            if elapsed > 0:
                self.substrate.age(m.object_id, list(m.labels), elapsed, record["t1"], record["t2"])
            self._node(target).store(m.object_id, m.j, list(m.labels), now)
        except Exception as e:  # noqa: BLE001
            return f"could not move to {target['id']}: {e}"
        holder_ids = {c["j"]: c["provider_id"] for c in crows}
        holder_ids[m.j] = target["id"]
        ordered = tuple(holder_ids[j] for j in sorted(holder_ids))
        summary, full = _audit(m.n, m.k, ordered, default_max_coalition(m.n))
        with self.db.write() as conn:
            row = conn.execute(select(objects.c.placement, objects.c.tenant_id, objects.c.name)
                               .where(objects.c.id == m.object_id)).first()
            placement = dict(row.placement)
            placement["clones"] = {**placement["clones"], str(m.j): {**placement["clones"][str(m.j)],
                                                                     "provider": target["id"], "zone": target["zone"]}}
            done = conn.execute(update(clone_table).where(clone_table.c.object_id == m.object_id, clone_table.c.j == m.j,
                                                     clone_table.c.provider_id == record["id"], clone_table.c.state == "live")
                                .values(provider_id=target["id"], stored_at=now)).rowcount
            if done:
                conn.execute(update(objects).where(objects.c.id == m.object_id)
                             .values(placement=placement, audit={"summary": summary, "report": full}))
                self._log(conn, now, "system", "clone.move", tenant_id=row.tenant_id, object_id=m.object_id,
                          object_name=row.name, clone=m.j, source=record["id"], target=target["id"], safe=summary["safe"])
        if not done:
            self._tell_discard(target, m.object_id)
            return "the clone changed while it was being moved"
        self._tell_discard(record, m.object_id)
        return target

    def providers_kill(self, provider_id: str, *, destroy: bool = False, actor: str = "admin") -> dict[str, Any]:
        """Take a provider down: its clones become unavailable (``destroy``: lost for good; an object
        left with no live clone is lost).

        Returns:
            ``{"id", "state": "down", "destroyed": bool, "lost_clones": int, "lost_objects": [object ids]}``.
        """
        now = self._now()
        lost_objects: list[str] = []
        with self.db.write() as conn:
            record = self._provider(conn, provider_id)
            conn.execute(update(providers).where(providers.c.id == provider_id).values(state="down"))
            lost_clones = 0
            if destroy:
                hit = conn.execute(select(clone_table.c.object_id).where(clone_table.c.provider_id == provider_id,
                                                                   clone_table.c.state == "live")).scalars().all()
                lost_clones = conn.execute(update(clone_table).where(clone_table.c.provider_id == provider_id,
                                                                clone_table.c.state == "live")
                                           .values(state="lost", discard_pending=False)).rowcount
                if hit:
                    alive = set(conn.execute(select(clone_table.c.object_id).where(clone_table.c.object_id.in_(hit),
                                                                             clone_table.c.state == "live")).scalars())
                    for row in conn.execute(select(objects.c.id, objects.c.tenant_id, objects.c.name).where(
                            objects.c.id.in_([o for o in hit if o not in alive]), objects.c.state == "stored")).all():
                        conn.execute(update(objects).where(objects.c.id == row.id)
                                     .values(state="lost", finished_at=now, purge_pending=True))
                        self._log(conn, now, "system", "object.lost", tenant_id=row.tenant_id, object_id=row.id,
                                  object_name=row.name, reason=f"provider {provider_id} destroyed its last live clone")
                        lost_objects.append(row.id)
            self._log(conn, now, actor, "provider.kill", provider=provider_id, previous=record["state"],
                      destroy=bool(destroy), lost_clones=lost_clones, lost_objects=len(lost_objects))
        if destroy:
            node = self._node(record)
            try:
                for rec in node.records():
                    node.discard(rec["object_id"])
            except Exception as e:  # noqa: BLE001 - a node already gone has nothing left
                log.info("provider %s: %s", provider_id, e)
        if self.directory.on_kill is not None:
            self.directory.on_kill({**record, "state": "down"}, bool(destroy))
        for object_id in lost_objects:
            self._purge_object(object_id)
        return {"id": provider_id, "state": "down", "destroyed": bool(destroy), "lost_clones": lost_clones,
                "lost_objects": lost_objects}

    def providers_revive(self, provider_id: str, *, actor: str = "admin") -> dict[str, Any]:
        """Bring a provider back up; it receives the discards it missed.

        Returns:
            ``{"id", "state": "up", "discards_delivered": int, "orphans_dropped": int}``.
        """
        with self.db.read() as conn:
            record = self._provider(conn, provider_id)
        if self.directory.on_revive is not None:
            self.directory.on_revive({**record, "state": "up"})
        revived_at = self._now()
        record = self._set_provider_state(provider_id, "up", "provider.revive", actor)
        sent, dropped = self._sync_provider(record, orphans_before=revived_at)
        return {"id": provider_id, "state": "up", "discards_delivered": sent, "orphans_dropped": dropped}

    # The names the gateway app uses.
    def providers(self) -> list[dict[str, Any]]:
        """Alias of :meth:`providers_list`."""
        return self.providers_list()

    def add_provider(self, provider_id: str, **kw: Any) -> dict[str, Any]:
        """Alias of :meth:`providers_add`."""
        return self.providers_add(provider_id, **kw)

    def drain_provider(self, provider_id: str) -> dict[str, Any]:
        return self.providers_drain(provider_id)

    def kill_provider(self, provider_id: str, *, destroy: bool = False) -> dict[str, Any]:
        return self.providers_kill(provider_id, destroy=destroy)

    def revive_provider(self, provider_id: str) -> dict[str, Any]:
        return self.providers_revive(provider_id)

    # ------------------------------------------------------------------ audit log, health
    def audit_log(self, tenant: Tenant | None = None, *, limit: int = 1000, since: float | None = None,
                  after: int | None = None) -> list[dict[str, Any]]:
        """Audit entries, oldest first: ``{"id", "at", "tenant", "actor", "action", "object_id",
        "object_name", "detail"}``. A tenant sees its own entries; None (admin) sees all.

        Args:
            limit: at most this many entries. since: only entries at or after this time.
            after: only entries with a larger id (paging).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be an integer >= 1, got {limit!r}")
        q = (select(audit_log, tenants.c.name.label("tenant"))
             .select_from(audit_log.outerjoin(tenants, tenants.c.id == audit_log.c.tenant_id)))
        if tenant is not None:
            q = q.where(audit_log.c.tenant_id == tenant.id)
        if since is not None:
            q = q.where(audit_log.c.at >= float(since))
        if after is not None:
            q = q.where(audit_log.c.id > int(after))
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(audit_log.c.id).limit(limit)).all()
        return [{"id": r.id, "at": r.at, "tenant": r.tenant, "actor": r.actor, "action": r.action,
                 "object_id": r.object_id, "object_name": r.object_name, "detail": r.detail} for r in rows]

    def health(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded", "database", "substrate", "vault", "providers": {state: count,
        "unreachable": provider nodes that do not answer}}``; nodes answer from cached probes
        (:func:`~qclone.storage.ports.node_statuses`), so a stalled node never blocks it."""
        out: dict[str, Any] = {"status": "ok"}
        try:
            with self.db.read() as conn:
                counts = dict(conn.execute(select(providers.c.state, func.count()).group_by(providers.c.state)).all())
            out["database"] = {"status": "ok", "dialect": self.db.dialect, "revision": self.db.revision()}
        except Exception as e:  # noqa: BLE001
            counts = {}
            out["database"] = {"status": "down", "error": str(e)}
        out["substrate"], out["vault"] = node_statuses([self.substrate, self.vault])
        out["providers"] = {s: int(counts.get(s, 0)) for s in ("up", "draining", "drained", "down")}
        out["providers"]["unreachable"] = sum(p["node"] == "down" and p["url"] is not None for p in self.providers_list())
        if any(out[p].get("status") != "ok" for p in ("database", "substrate", "vault")) or not counts.get("up") \
                or out["providers"]["unreachable"]:
            out["status"] = "degraded"
        return out


__all__ = ["DEFAULT_CLONES", "LEASE_SECONDS", "POLICIES", "ProviderDirectory", "StorageService", "Tenant",
           "default_max_coalition"]
