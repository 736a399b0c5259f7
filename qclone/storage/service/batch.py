"""Batch put: many objects in one request, each store written once per batch.

:meth:`BatchMixin.put_many` stores up to :data:`~qclone.storage.inputs.MAX_BATCH` objects with
the engine of :meth:`~qclone.storage.service.objects.ObjectsMixin.put` (each object its own
encrypted joint state in the substrate, its key parts at the vault and the placement's holders,
its clones at n providers, its metadata rows, one audit entry), in the steps of a put, each step
done once for the whole batch:

1. **reserve**: one metadata transaction chooses the providers of every object and takes every
   name (``storing`` rows naming the key holders, with the put lease);
2. **create**: one substrate call, one transaction (``create_many``);
3. **deposit**: one call per key holder (``deposit_many``), one transaction each;
4. **place**: one call per provider (``store_many``), one transaction each;
5. **commit**: one metadata transaction: every object ``stored``, its clone and part rows and its
   audit entry.

All or nothing: the input is checked whole before anything is stored (a bad item is refused with
its index, ``objects[i]``); a failure at any step undoes every object of the batch and the error
is answered; a crash at any step (crash points ``put.batch.reserve``, ``.create``, ``.deposit``,
``.place``, ``.commit``) leaves ``storing`` rows that the start-up recovery (or, once their lease
ends, the reconciler) undoes as abandoned puts, so nothing stays half stored and nothing is
acknowledged before every part is stored.

Idempotent: an object's id is derived from the tenant, the batch's key, the name, the state and
the options (:func:`batch_object_id`), so the same batch sent again with the same key finds what an
earlier attempt stored and reports it (``"created": false``) instead of storing it twice; an item
that differs (another state or options) is another object, whose name is taken: 409.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qclone.errors import InvalidArgumentError, QcloneError, TooLargeError
from qclone.protocol import Layout
from qclone.storage import faults
from qclone.storage.db import JSONDocument, db_now, insert_rows
from qclone.storage.errors import ConflictError, UnavailableError
from qclone.storage.inputs import MAX_BATCH, MAX_BATCH_AMPLITUDES, MAX_BATCH_QASM, InputState, check_name, parse_state
from qclone.storage.models import audit_log, objects, parts
from qclone.storage.models import clones as clone_table
from qclone.storage.placements import ObjectPlacement, register_indices, resolve_placement
from qclone.storage.service.common import DEFAULT_CLONES, VAULT_PARTY, Tenant, check_key
from qclone.storage.service.objects import ObjectsMixin, check_put_options
from qclone.storage.service.placement import audit_document, default_max_coalition, pick_providers
from qclone.storage.service.statements import STORED_MANY

__all__ = ["BatchMixin", "batch_object_id"]

log = logging.getLogger(__name__)


def batch_object_id(tenant_id: str, key: str, name: str, state: InputState, clones: int, policy: str,
                    keep_reference: bool, placement: ObjectPlacement) -> str:
    """The id of an object a batch stores: the same for the same item of the same batch (tenant,
    key, name, state, options), so a retry finds it; 32 hex digits, as a put's ids."""
    data = np.ascontiguousarray(state.engine_state, dtype="<c16")
    h = hashlib.sha256()
    for part in (tenant_id, key, name, str(data.shape), str(clones), policy, str(bool(keep_reference)),
                 placement.name, repr(placement.keys)):
        h.update(part.encode())
        h.update(b"\0")
    h.update(data.tobytes())
    return h.hexdigest()[:32]


def parse_batch(items: Any) -> list[tuple[str, InputState]]:
    """The ``(name, state)`` of every item of a batch (``[{"name", "state"}]``, a state an
    :class:`~qclone.storage.inputs.InputState` or ``{"kind", "data"}``), checked whole against the
    budgets before any state is simulated.

    Raises:
        InvalidArgumentError: a malformed item, a bad name or state, a name twice (the message names
            the item as ``objects[i]``). TooLargeError: more than MAX_BATCH objects, more than
            MAX_BATCH_QASM OpenQASM states, states of more than MAX_BATCH_AMPLITUDES entries.
    """
    if not isinstance(items, list) or not items:
        raise InvalidArgumentError("a batch is a non-empty list of objects {\"name\", \"state\"}")
    if len(items) > MAX_BATCH:
        raise TooLargeError(f"a batch holds at most {MAX_BATCH} objects, got {len(items)}; send several batches")
    programs = sum(1 for item in items if isinstance(item, Mapping) and isinstance(item.get("state"), Mapping)
                   and item["state"].get("kind") == "qasm")
    if programs > MAX_BATCH_QASM:
        raise TooLargeError(f"a batch holds at most {MAX_BATCH_QASM} OpenQASM states (each is simulated), got {programs}")
    seen: dict[str, int] = {}
    out: list[tuple[str, InputState]] = []
    amplitudes = 0
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not set(item) <= {"name", "state"} or "state" not in item:
            raise InvalidArgumentError(f"objects[{i}]: each object is {{\"name\", \"state\"}}")
        try:
            name = check_name(item.get("name"))
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"objects[{i}]: {e}") from None
        if name in seen:
            raise InvalidArgumentError(f"objects[{i}]: the name {name!r} is also objects[{seen[name]}]'s; "
                                       "a batch stores each name once")
        seen[name] = i
        state = item["state"]
        try:
            if isinstance(state, Mapping):
                state = parse_state(state.get("kind"), state.get("data"))
            if not isinstance(state, InputState):
                raise InvalidArgumentError("the state must be {\"kind\": ..., \"data\": ...}")
        except QcloneError as e:
            raise type(e)(f"objects[{i}] ({name!r}): {e}") from None
        amplitudes += int(state.engine_state.size)
        if amplitudes > MAX_BATCH_AMPLITUDES:
            raise TooLargeError(f"the states of a batch hold at most {MAX_BATCH_AMPLITUDES} amplitudes together "
                                f"(2^k a state vector, 4^k a density matrix); objects[{i}] goes over: send smaller batches")
        out.append((name, state))
    return out


class _NamesTakenError(Exception):
    """A name of the batch exists: the reservation wrote nothing (see :meth:`BatchMixin.put_many`)."""


class BatchMixin(ObjectsMixin):
    def put_many(self, tenant: Tenant, items: Any, *, clones: int = DEFAULT_CLONES, policy: str = "distinct-providers",
                 force: bool = False, keep_reference: bool = False, placement: Any = None,
                 key: str | None = None) -> dict[str, Any]:
        """Store a batch of objects (see the module doc): ``items`` is ``[{"name", "state"}]``; the
        options are :meth:`put`'s, the same for every object; ``key`` names the batch for retries
        (default: a fresh one, so a retry without it stores nothing twice only by the names).

        Returns:
            ``{"key", "stored": objects of the batch that exist now, "created": stored by this call,
            "objects": [{"name", "object_id", "state", "created"}]}`` in the batch's order (``state``:
            ``stored``, or the state of an object an earlier attempt stored).

        Raises:
            InvalidArgumentError / TooLargeError: a bad item, option or key (nothing is stored).
            ConflictError: a name of the batch is taken (by another object, or by the same name with
                another state or options); nothing is stored. UnavailableError: too few providers
                up, a node down, an earlier attempt of this batch still running (retry).
        """
        batch = parse_batch(items)
        check_put_options(clones, policy, force=force)
        key = uuid.uuid4().hex if key is None else check_key(key)
        keep = bool(keep_reference)
        where = resolve_placement(placement, clones, self._holders_up())
        ids = {name: batch_object_id(tenant.id, key, name, state, clones, policy, keep, where) for name, state in batch}
        earlier: dict[str, str] = {}
        try:  # a first attempt: the reservation finds the names free (no read before it)
            self._store_batch(tenant, batch, ids, clones, policy, keep, where, key)
            todo = batch
        except _NamesTakenError:  # a retry, or a name that exists: what an earlier attempt stored is looked up
            earlier = self._earlier_attempt(tenant, ids)
            todo = [(name, state) for name, state in batch if name not in earlier]
            if todo:
                self._store_batch(tenant, todo, ids, clones, policy, keep, where, key, retry=True)
        return {"key": key, "stored": len(batch), "created": len(todo),
                "objects": [{"name": name, "object_id": ids[name], "state": earlier.get(name, "stored"),
                             "created": name not in earlier} for name, _ in batch]}

    def _earlier_attempt(self, tenant: Tenant, ids: Mapping[str, str]) -> dict[str, str]:
        """Name -> state of the batch's objects an earlier attempt stored; an abandoned attempt's
        reservations are undone. ConflictError if a name is held by another object."""
        names = list(ids)
        found: list[Any] = []
        with self.db.read() as conn:
            for i in range(0, len(names), 500):
                found += conn.execute(select(objects.c.id, objects.c.name, objects.c.state, objects.c.lease_until,
                                             db_now().label("db_now"))
                                      .where(objects.c.tenant_id == tenant.id,
                                             objects.c.name.in_(names[i:i + 500]))).all()
        done: dict[str, str] = {}
        for row in found:
            if row.id != ids[row.name]:
                raise ConflictError(f"an object named {row.name!r} exists (names are never reused); "
                                    "nothing of this batch was stored")
            if row.state != "storing":
                done[row.name] = row.state
            elif row.lease_until is not None and row.lease_until > row.db_now:
                raise UnavailableError("an earlier attempt of this batch is still storing it; retry with the same key "
                                       "once it has finished", retry_after=min(60.0, row.lease_until - row.db_now))
            elif not self._abandon_put(row.id):  # an attempt that died: undone now, then stored again
                raise UnavailableError("an earlier attempt of this batch died and cannot be undone yet; retry later")
        return done

    def _store_batch(self, tenant: Tenant, batch: list[tuple[str, InputState]], ids: Mapping[str, str], n: int,
                     policy: str, keep: bool, where: ObjectPlacement, key: str, *, retry: bool = False) -> None:
        """The five steps of the module doc for objects none of which exists yet (a name that
        exists: :class:`_NamesTakenError` the first time, ConflictError on a ``retry``)."""
        lays = {k: Layout(n, qubits=k) for k in {state.qubits for _, state in batch}}
        held = {k: {h: [lay.label(q, long=True) for q in register_indices(lay, labels)] for h, labels in where.keys}
                for k, lay in lays.items()}
        clone_labels = {k: {j: [lay.label(q, long=True) for q in lay.clone(j)] for j in range(1, n + 1)}
                        for k, lay in lays.items()}
        reserved = {k: JSONDocument(policy=policy, clones={}, key=None, parts=held[k]) for k in lays}
        empty_audit = JSONDocument(summary=None, report=None)
        now = self._now()
        chosen: dict[str, list[dict[str, Any]]] = {}
        try:
            with self.db.write() as conn:
                first, up, db_time = self._choose_providers(conn, n, policy)  # too few: 503 before any name is taken
                rows: list[Mapping[str, Any]] = []
                for i, (name, state) in enumerate(batch):
                    chosen[name] = first if i == 0 else pick_providers(up, n, policy)
                    rows.append({"id": ids[name], "tenant_id": tenant.id, "name": name, "k": state.qubits, "n": n,
                                 "policy": policy, "state": "storing", "attempt": None,
                                 "lease_until": db_time + self.lease_seconds, "chosen_clone": None, "fence": 0,
                                 "get_key": None, "created_at": now, "stored_at": now, "finished_at": None,
                                 "keep_reference": keep, "purge_pending": False, "placement": reserved[state.qubits],
                                 "audit": empty_audit})
                insert_rows(conn, objects, rows)
        except IntegrityError:
            if not retry:
                raise _NamesTakenError from None
            raise ConflictError("a name of this batch was taken meanwhile (names are never reused); "
                                "nothing of this batch was stored") from None
        faults.crash_point("put.batch.reserve")
        placed: dict[str, dict[str, Any]] = {}
        try:
            self.substrate.create_many(
                [{"object_id": ids[name], "state": state,
                  "holders": {**held[state.qubits], **{f"provider:{p['id']}": clone_labels[state.qubits][j]
                                                       for j, p in enumerate(chosen[name], 1)}}}
                 for name, state in batch], n, keep_reference=keep)
            faults.crash_point("put.batch.create")
            parties = [h for h, _ in where.keys]
            records = self._holder_records(parties)
            for h in parties:
                self._holder_node(h, records).deposit_many(tenant.id, [[ids[name], held[state.qubits][h]]
                                                                       for name, state in batch])
            faults.crash_point("put.batch.deposit")
            by_provider: dict[str, list[list[Any]]] = {}
            for name, state in batch:
                for j, p in enumerate(chosen[name], 1):
                    placed.setdefault(p["id"], p)
                    by_provider.setdefault(p["id"], []).append([ids[name], j, clone_labels[state.qubits][j], now])
            for pid, recs in by_provider.items():
                self._node(placed[pid]).store_many(recs)
            faults.crash_point("put.batch.place")
            self._commit_batch(tenant, batch, ids, chosen, n, policy, where, held, clone_labels, now, key)
        except Exception:
            self._abandon_puts([ids[name] for name, _ in batch])  # what cannot be undone now: recovery does
            raise
        faults.crash_point("put.batch.commit")

    def _commit_batch(self, tenant: Tenant, batch: list[tuple[str, InputState]], ids: Mapping[str, str],
                      chosen: Mapping[str, list[dict[str, Any]]], n: int, policy: str, where: ObjectPlacement,
                      held: Mapping[int, dict[str, list[str]]], clone_labels: Mapping[int, dict[int, list[str]]],
                      now: float, key: str) -> None:
        """Step 5: every object ``stored`` with its placement and audit, its clone and part rows and
        its audit entry, in one transaction (refused whole if a reservation was taken over)."""
        docs: dict[tuple, tuple[JSONDocument, JSONDocument, bool]] = {}
        groups: dict[tuple, list[str]] = {}  # the objects of one placement: one UPDATE
        clone_rows: list[Mapping[str, Any]] = []
        part_rows: list[Mapping[str, Any]] = []
        log_rows: list[Mapping[str, Any]] = []
        max_coalition = default_max_coalition(n)
        for name, state in batch:
            k, ps = state.qubits, chosen[name]
            sig = (k, tuple(p["id"] for p in ps))
            if sig not in docs:
                audit_doc = audit_document(n, k, sig[1], max_coalition, where.keys)
                docs[sig] = (JSONDocument(
                    policy=policy, name=where.name,
                    clones={str(j): {"provider": p["id"], "zone": p["zone"], "labels": clone_labels[k][j]}
                            for j, p in enumerate(ps, 1)},
                    key={"holder": VAULT_PARTY, "labels": held[k].get(VAULT_PARTY, [])},
                    keys=[[h, list(labels)] for h, labels in where.keys], parts=held[k]),
                    audit_doc, bool(audit_doc["summary"]["safe"]))
            oid = ids[name]
            groups.setdefault(sig, []).append(oid)
            clone_rows += [{"object_id": oid, "j": j, "provider_id": p["id"], "labels": clone_labels[k][j],
                            "state": "live", "discard_pending": False, "stored_at": now} for j, p in enumerate(ps, 1)]
            part_rows += [{"object_id": oid, "holder_id": h, "labels": labels, "state": "live",
                           "discard_pending": False} for h, labels in held[k].items()]
            log_rows.append({"at": now, "tenant_id": tenant.id, "actor": tenant.name, "action": "put", "object_id": oid,
                             "object_name": name, "detail": {
                                 "qubits": k, "clones": n, "policy": policy, "placement": where.name,
                                 "providers": [p["id"] for p in ps], "holders": list(held[k]), "safe": docs[sig][2],
                                 "batch": key}})
        with self.db.write() as conn:
            stored = sum(conn.execute(STORED_MANY, {"b_ids": oids, "b_placement": docs[sig][0],
                                                    "b_audit": docs[sig][1]}).rowcount for sig, oids in groups.items())
            if stored != len(batch):
                raise ConflictError("the batch took longer than its lease and was abandoned; send it again "
                                    "(with the same key)")
            insert_rows(conn, clone_table, clone_rows)
            insert_rows(conn, parts, part_rows)
            insert_rows(conn, audit_log, log_rows)
