"""Objects: put (reserve, encrypt, deposit, place, commit), stat, list, delete, peek."""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Select, delete, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from qclone.errors import InvalidArgumentError, is_int
from qclone.protocol import Layout
from qclone.protocol.layout import single_clone_warning
from qclone.storage import faults
from qclone.storage.db import db_now
from qclone.storage.errors import ConflictError, NotFoundError, UnavailableError
from qclone.storage.inputs import check_name
from qclone.storage.models import clones as clone_table
from qclone.storage.models import objects, providers
from qclone.storage.paging import decode_cursor, encode_cursor
from qclone.storage.placements import register_indices, resolve_placement
from qclone.storage.ports import node_statuses
from qclone.storage.service.common import (
    ALIVE,
    DEFAULT_CLONES,
    NODE_ERRORS,
    POLICIES,
    VAULT_PARTY,
    Tenant,
    state_summary,
)
from qclone.storage.service.holders import HoldersMixin
from qclone.storage.service.placement import (
    PlacementMixin,
    audit_document,
    default_max_coalition,
)
from qclone.storage.service.statements import (
    INSERT_CLONES,
    INSERT_LOG,
    INSERT_OBJECT,
    INSERT_PARTS,
    Q_OBJECT,
    STORED,
)
from qclone.storage.states import ObjectState, transition

log = logging.getLogger(__name__)
#: What telling a key holder to destroy parts may meet (told again later).
PART_ERRORS: tuple[type[Exception], ...] = (*NODE_ERRORS, NotFoundError)



def check_put_options(clones: Any, policy: Any, *, force: bool) -> None:
    """The options every put takes (one object or a batch): ``clones`` an integer >= 1 (a single
    clone only with ``force``), ``policy`` one of :data:`POLICIES`."""
    if not is_int(clones) or clones < 1:
        raise InvalidArgumentError(f"the number of clones must be an integer >= 1, got {clones!r}")
    if clones == 1 and not force:
        raise InvalidArgumentError(f"refusing to store a single clone: {single_clone_warning(1)} "
                                   "(force=True, or --force on the command line, stores it anyway).")
    if policy not in POLICIES:
        raise InvalidArgumentError(f"unknown placement policy {policy!r}; choose one of {', '.join(POLICIES)}")


#: Set in a listing's transaction on PostgreSQL: a keyset page is read in the order of the index
#: (tenant_id, created_at, name), never sorted. Right after a bulk load, before autovacuum has
#: analysed the table, the planner's statistics still describe a small table and it would read every
#: row of the tenant after the cursor and sort them (O(objects) a page: 100 ms at 10^5 objects,
#: against 1 ms in index order). With sorting priced out the only plan left is the index walk.
PAGE_PLAN = "SET LOCAL enable_sort = off"


def listing_query(tenant_id: str, *, state: str | None = None, after: Sequence[Any] | None = None,
                  limit: int) -> Select[Any]:
    """The statement of one page of a tenant's objects: ``limit`` rows after the sort key ``after``
    (``(created_at, name)`` of the last row shown; None: from the start), in that order."""
    q = select(objects.c.name, objects.c.id.label("object_id"), objects.c.state, objects.c.k.label("qubits"),
               objects.c.n.label("clones"), objects.c.policy, objects.c.created_at, objects.c.stored_at,
               objects.c.finished_at).where(objects.c.tenant_id == tenant_id)
    if state is not None:
        q = q.where(objects.c.state == state)
    if after is not None:
        # a row-value comparison: both databases seek the index to (at, name) and read on. (Spelled
        # created_at >= at AND (created_at > at OR name > name) instead, the index range starts at
        # created_at = at and every earlier row of that instant is read and filtered out: a batch
        # stores up to 1000 objects at one instant.)
        q = q.where(tuple_(objects.c.created_at, objects.c.name) > tuple_(*after))
    return q.order_by(objects.c.created_at, objects.c.name).limit(limit)


class ObjectsMixin(PlacementMixin, HoldersMixin):
    def put(self, tenant: Tenant, name: str, state: Any, *, clones: int = DEFAULT_CLONES,
            policy: str = "distinct-providers", force: bool = False, keep_reference: bool = False,
            placement: Any = None) -> dict[str, Any]:
        """Store ``state`` (an :class:`~qclone.storage.inputs.InputState` or ``{"kind", "data"}``) as
        ``clones`` encrypted clones at distinct providers, the key and ``A`` where ``placement`` says
        (:mod:`qclone.storage.placements`: ``today``, the default, keeps the key in the vault and
        ``A`` nowhere; ``keep-A``, ``split-key``, ``split-key:V`` or a custom mapping).

        Returns:
            The object's record as :meth:`stat` returns it.

        Raises:
            InvalidArgumentError: bad name, state, number of clones, policy, placement; n = 1 without ``force``.
            ConflictError: the name exists. UnavailableError: too few providers up (or in distinct
                zones), a component down.
        """
        from qclone.storage.inputs import InputState, parse_state

        name = check_name(name)
        if isinstance(state, Mapping):
            state = parse_state(state.get("kind"), state.get("data"))
        if not isinstance(state, InputState):
            raise InvalidArgumentError("state must be an InputState or {\"kind\": ..., \"data\": ...}")
        check_put_options(clones, policy, force=force)
        n, k = clones, state.qubits
        where = resolve_placement(placement, n, self._holders_up())
        object_id = uuid.uuid4().hex
        now = self._now()
        # the reservation (with the choice of providers, in one transaction): the name is taken
        # atomically, and a crash from here on leaves a 'storing' row that recovery cleans up
        lay = Layout(n, qubits=k)
        held = {h: [lay.label(q, long=True) for q in register_indices(lay, labels)] for h, labels in where.keys}
        chosen, up = self._reserve(tenant, name, object_id, k, n, policy, bool(keep_reference), now, held)
        faults.crash_point("put.reserve")
        placed: list[dict[str, Any]] = []
        placed_parts: list[str] = []
        try:
            clone_labels = {j: [lay.label(q, long=True) for q in lay.clone(j)] for j in range(1, n + 1)}
            parties = {**held, **{f"provider:{p['id']}": clone_labels[j] for j, p in enumerate(chosen, 1)}}
            info = self.substrate.create(object_id, state, n, keep_reference=bool(keep_reference), holders=parties)
            faults.crash_point("put.create")
            records = self._holder_records(held)
            for h, labels in held.items():
                placed_parts.append(h)
                self._holder_node(h, records).deposit(tenant.id, object_id, labels)
            faults.crash_point("put.deposit")
            first = list(chosen)
            chosen = self._place(object_id, info, chosen, up, policy, now, placed)
            for j, (was, now_at) in enumerate(zip(first, chosen, strict=True), 1):
                if was["id"] != now_at["id"]:  # a provider replaced: the substrate asks the new one's release
                    self.substrate.assign(object_id, clone_labels[j], f"provider:{now_at['id']}")
            faults.crash_point("put.place")
            audit_doc = audit_document(n, k, tuple(p["id"] for p in chosen), default_max_coalition(n), where.keys)
            summary = audit_doc["summary"]
            placement = {
                "policy": policy,
                "name": where.name,
                "clones": {str(j): {"provider": p["id"], "zone": p["zone"], "labels": info["clone_qubits"][str(j)]}
                           for j, p in enumerate(chosen, 1)},
                "key": {"holder": VAULT_PARTY, "labels": held.get(VAULT_PARTY, [])},
                "keys": [[h, list(labels)] for h, labels in where.keys],
                "parts": held,
            }
            with self.db.fast_write() as conn:
                if conn.execute(STORED, {"b_id": object_id, "b_placement": placement,
                                          "b_audit": audit_doc}).rowcount != 1:
                    raise ConflictError(f"the put of {name!r} took longer than its lease and was abandoned; put it again")
                conn.execute(INSERT_CLONES, [
                    {"object_id": object_id, "j": j, "provider_id": p["id"], "labels": info["clone_qubits"][str(j)],
                     "state": "live", "discard_pending": False, "stored_at": now} for j, p in enumerate(chosen, 1)])
                conn.execute(INSERT_PARTS, [
                    {"object_id": object_id, "holder_id": h, "labels": labels, "state": "live",
                     "discard_pending": False} for h, labels in held.items()])
                self._log(conn, now, tenant.name, "put", tenant_id=tenant.id, object_id=object_id, object_name=name,
                          qubits=k, clones=n, policy=policy, placement=where.name, providers=[p["id"] for p in chosen],
                          holders=list(held), safe=summary["safe"])
        except Exception:
            self._discard_parts(object_id, [h for h in placed_parts if h != VAULT_PARTY])
            self._purge(object_id, placed)
            self._unreserve(object_id)
            raise
        faults.crash_point("put.commit")
        out = self._describe(object_id, tenant, name, k, n, policy, "stored", now, now, None, bool(keep_reference),
                             [{"clone": j, "provider": p["id"], "zone": p["zone"], "state": "live",
                               "provider_state": "up", "stored_at": now} for j, p in enumerate(chosen, 1)],
                             summary)
        out["placement_name"] = where.name
        out["parts"] = [{"holder": h, "labels": list(labels), "state": "live", "discard_pending": False}
                        for h, labels in held.items()]
        return out

    def _reserve(self, tenant: Tenant, name: str, object_id: str, k: int, n: int, policy: str, keep_reference: bool,
                 now: float, held: Mapping[str, list[str]] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Choose the providers and take the name (a 'storing' row, naming the key holders ``held``
        so that recovery can tell them if the put dies); what :meth:`_choose_providers` returns."""
        row = {"id": object_id, "tenant_id": tenant.id, "name": name, "k": k, "n": n, "policy": policy,
               "state": "storing", "attempt": None, "lease_until": None, "chosen_clone": None, "fence": 0, "get_key": None,
               "created_at": now, "stored_at": now, "finished_at": None, "keep_reference": keep_reference,
               "purge_pending": False, "placement": {"policy": policy, "clones": {}, "key": None,
                                                     "parts": dict(held or {})},
               "audit": {"summary": None, "report": None}}
        for _ in range(2):
            try:
                with self.db.fast_write() as conn:
                    chosen, up, db_time = self._choose_providers(conn, n, policy)  # too few: 503 before the name is taken
                    conn.execute(INSERT_OBJECT, {**row, "lease_until": db_time + self.lease_seconds})
                return chosen, up
            except IntegrityError:
                with self.db.read() as conn:
                    old = conn.execute(Q_OBJECT, {"b_tenant": tenant.id, "b_name": name}).first()
                if old is None or old.state != "storing" or (old.lease_until is not None and old.lease_until > old.db_now):
                    break
                self._abandon_put(old.id)  # a put that died holding the name
        raise ConflictError(f"an object named {name!r} exists (names are never reused)")

    def _unreserve(self, object_id: str) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(delete(objects).where(objects.c.id == object_id, objects.c.state == "storing"))
        except SQLAlchemyError as e:  # recovery removes it later
            log.warning("reservation of %s stays until recovery: %s", object_id, e)

    def _abandon_put(self, object_id: str) -> bool:
        """Clean up after a put that never committed: its parts everywhere, then its reservation."""
        return self._abandon_puts([object_id]) == 1

    def _abandon_puts(self, object_ids: builtins.list[str]) -> int:
        """Clean up after puts that never committed (a single put's or a batch's reservations):
        their parts everywhere, then their reservations, :data:`~qclone.storage.inputs.MAX_BATCH`
        at a time with one call per node. A chunk whose substrate, vault or key holder cannot be
        told now stays reserved (the next recovery tries again); a provider that is down is swept
        when revived. Returns how many reservations were removed."""
        from qclone.storage.inputs import MAX_BATCH

        return sum(self._abandon_chunk(object_ids[i:i + MAX_BATCH]) for i in range(0, len(object_ids), MAX_BATCH))

    def _abandon_chunk(self, object_ids: builtins.list[str]) -> int:
        with self.db.read() as conn:
            prows = [self._provider_record(r) for r in conn.execute(select(providers)).all()]
        # end the reservations' leases first: from now on those puts can no longer commit (a commit
        # needs its lease), so what is destroyed below cannot belong to an acknowledged object; a
        # put that committed before this is seen as stored and left alone (another gateway's put
        # still running when this one's start-up recovery came)
        storing = (objects.c.id.in_(object_ids), objects.c.state == "storing")
        with self.db.write() as conn:
            conn.execute(update(objects).where(*storing, objects.c.lease_until > db_now()).values(lease_until=db_now()))
            rows = conn.execute(select(objects.c.id, objects.c.tenant_id, objects.c.name, objects.c.placement)
                                .where(*storing)).all()
        if not rows:
            return 0
        ids = [r.id for r in rows]
        try:
            self.substrate.discard_many(ids)
            self.vault.destroy_many(ids)
        except NODE_ERRORS as e:  # retried at the next recovery
            log.warning("abandoned puts of %d objects: undoing deferred: %s", len(ids), e)
            return 0
        by_holder: dict[str, builtins.list[str]] = {}
        for r in rows:
            for h in (r.placement or {}).get("parts") or {}:
                if h != VAULT_PARTY:
                    by_holder.setdefault(h, []).append(r.id)
        records = self._holder_records(list(by_holder))
        for h, held in by_holder.items():
            try:
                self._holder_node(h, records).destroy_many(held)
            except PART_ERRORS as e:  # a holder that cannot be told now: the next recovery
                log.warning("abandoned puts: discard at holder %s deferred: %s", h, e)
                return 0
        for p in prows:  # any provider may have recorded a clone of them; one that is down is swept when revived
            if p["state"] in ALIVE:
                try:
                    self._node(p).discard_many(ids)
                except NODE_ERRORS as e:
                    log.warning("abandoned puts: discard at provider %s: %s", p["id"], e)
        now = self._now()
        with self.db.write() as conn:
            gone = conn.execute(delete(objects).where(objects.c.id.in_(ids), objects.c.state == "storing")).rowcount
            if gone:
                conn.execute(INSERT_LOG, [{"at": now, "tenant_id": r.tenant_id, "actor": "system",
                                           "action": "put.abandoned", "object_id": r.id, "object_name": r.name,
                                           "detail": {}} for r in rows])
        return int(gone)

    def _purge(self, object_id: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Best-effort removal of an object everywhere; the ids of providers that could not be told."""
        failed = []
        for what in (lambda: self.substrate.discard(object_id), lambda: self.vault.destroy(object_id)):
            try:
                what()
            except NODE_ERRORS as e:  # best effort; recovery retries
                log.warning("purge of %s: %s", object_id, e)
        for p in records:
            if not self._tell_discard(p, object_id):
                failed.append(p["id"])
        return failed

    def stat(self, tenant: Tenant, name: str, *, full_audit: bool = False) -> dict[str, Any]:
        """One object's record.

        Returns:
            ``{"name", "object_id", "tenant", "state", "qubits", "clones", "policy", "keep_reference",
            "created_at", "stored_at", "finished_at", "live_clones", "retrievable", "placement": [{"clone",
            "provider", "zone", "state", "provider_state", "stored_at"}], "audit": {"safe", "complete",
            "coalitions_examined", "max_coalition", "learning", "warnings", "notes"}}``, plus
            ``"audit_report"`` (the full coalition audit) with ``full_audit``; ``"placement_name"``
            (``today``, ``keep-A``, ...), ``"parts"`` (``[{"holder", "labels", "state",
            "discard_pending"}]``: who holds the key qubits and A) and, for a stored object,
            ``"recovery"`` (:meth:`_recoverability`: retrievable now, and from which sets of
            holders; ``retrievable`` is its ``now``); ``"logical"``: the logical gates applied to it
            (:meth:`~qclone.storage.service.compute.ComputeMixin.logical_history`).
        """
        name = check_name(name)
        with self.db.read() as conn:
            row = self._object_row(conn, tenant, name, audit=True)
            crows = self._clone_rows(conn, row.id)
            prows = self._part_rows(conn, row.id)
        out = self._describe_row(tenant, row, crows)
        out["placement_name"] = (row.placement or {}).get("name") or "today"
        out["parts"] = [{"holder": p["holder_id"], "labels": list(p["labels"]), "state": p["state"],
                         "discard_pending": bool(p["discard_pending"])} for p in prows]
        if row.state == ObjectState.STORED:
            out["recovery"] = self._recoverability(row, crows, prows)
            out["retrievable"] = out["recovery"]["now"]
        else:
            out["recovery"] = None
        if full_audit:
            out["audit_report"] = row.audit["report"]
        with self.db.read() as conn:
            out["logical"] = self.logical_history(conn, row.id)
        return out  # a read: in the gateway's access log, not in the audit log

    #: Most holder sets :meth:`stat` lists under ``recovery.sets``.
    MAX_SHOWN_SETS = 8

    def _recoverability(self, row: Any, crows: list[dict[str, Any]], prows: list[dict[str, Any]]) -> dict[str, Any]:
        """Whether a get could recover the object now, and from which sets of holders.

        The holders that answer now (a cached health probe, :func:`~qclone.storage.ports.node_statuses`):
        key holders with a live part, providers up or draining with a live clone. ``sets``: the set
        a get would use now (:func:`~qclone.analysis.recovery.choose_recovery`, without the
        load-sharing ranks), then the set it would use if each holder of that one failed in turn
        (distinct sets, at most :attr:`MAX_SHOWN_SETS`).

        Returns:
            ``{"now": bool, "sets": [[holder, ...], ...], "live": [holders], "down": [holders],
            "reason": None or why no set of the live holders can recover it}``.
        """
        from qclone.analysis.recovery import UnauthorizedSetError, choose_recovery

        lay = Layout(row.n, qubits=row.k)
        labels = ({p["holder_id"]: list(p["labels"]) for p in prows if p["state"] == "live"} if prows
                  else {VAULT_PARTY: list((row.placement.get("key") or {}).get("labels") or [])})
        holders: dict[str, list[int]] = {h: [lay.index_of(x, long=True) for x in ls] for h, ls in labels.items()}
        nodes: list[Any] = [self._holder_node_or_none(h) for h in holders]
        for c in crows:
            if c["state"] == "live" and c["provider_state"] in ALIVE:
                holders[c["provider_id"]] = list(lay.clone(c["j"]))
                nodes.append(self._node_or_none(self._clone_provider(c)))
        statuses = node_statuses(nodes)
        live = [h for h, st in zip(holders, statuses, strict=True) if st.get("status") == "ok"]
        down = [h for h in holders if h not in live]
        sets: list[list[str]] = []
        try:
            _, used = choose_recovery(lay, holders, live)
        except UnauthorizedSetError as e:
            return {"now": False, "sets": [], "live": live, "down": down, "reason": e.missing}
        sets.append(list(used))
        for h in used:
            if len(sets) >= self.MAX_SHOWN_SETS:
                break
            try:
                _, other = choose_recovery(lay, holders, [x for x in live if x != h])
            except UnauthorizedSetError:
                continue
            if list(other) not in sets:
                sets.append(list(other))
        return {"now": True, "sets": sets, "live": live, "down": down, "reason": None}

    def list(self, tenant: Tenant, *, state: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The tenant's objects, oldest first: ``{"name", "object_id", "state", "qubits", "clones", "policy",
        "created_at", "stored_at", "finished_at"}`` (optionally only those in ``state``); the first ``limit``
        (:meth:`list_page` reads the rest)."""
        return self.list_page(tenant, state=state, limit=limit)[0]

    def list_page(self, tenant: Tenant, *, state: str | None = None, limit: int = 1000,
                  cursor: str | None = None) -> tuple[builtins.list[dict[str, Any]], str | None]:
        """One page of :meth:`list`: the first ``limit`` objects after ``cursor`` (None: from the start)
        in the stable order (created_at, name), and the cursor of the next page (None: this was the last).

        Keyset paging on the index ``(tenant_id, created_at, name)``: a page costs O(limit) at any
        position, whatever the number of objects.

        Raises:
            InvalidArgumentError: a ``limit`` below 1, or a cursor that is not one of this listing's.
        """
        if not is_int(limit) or limit < 1:
            raise InvalidArgumentError(f"limit must be an integer >= 1, got {limit!r}")
        key = None if cursor is None else decode_cursor(cursor, "objects", (float, str))
        with self.db.read() as conn:
            if self.db.dialect == "postgresql":
                conn.execute(text(PAGE_PLAN))
            result = conn.execute(listing_query(tenant.id, state=state, after=key, limit=limit + 1))
            keys = list(result.keys())
            # fetched at once and zipped: ~10x faster than a Row mapping per row (this is the whole page cost)
            out = [dict(zip(keys, r, strict=True)) for r in result.all()]
        more = len(out) > limit
        del out[limit:]
        nxt = encode_cursor("objects", out[-1]["created_at"], out[-1]["name"]) if more else None
        return out, nxt  # a read: in the gateway's access log, not in the audit log

    def delete(self, tenant: Tenant, name: str) -> dict[str, Any]:
        """Delete a stored (or lost) object: its clones and key are destroyed.

        Returns:
            ``{"name", "object_id", "state": "deleted"}``.

        Raises:
            NotFoundError: no such object. ConflictError: it is being or was retrieved, or was deleted.
        """
        name = check_name(name)
        now = self._now()
        with self.db.read() as conn:
            row = self._object_row(conn, tenant, name)
        if row.state == "retrieving" and self._expired(row):
            self._recover_object(row.id)
        with self.db.write() as conn:
            done = conn.execute(transition((ObjectState.STORED, ObjectState.LOST), ObjectState.DELETED,
                                           objects.c.id == row.id, finished_at=now, purge_pending=True)).rowcount
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
            qubit), "purity", "maximally_mixed", "elapsed"}``; ``labels[i]`` is qubit i: bit i of a
            density-matrix index (Qiskit's order) and item i of ``bloch``.

        Raises:
            NotFoundError: no such object, or the provider holds no live clone of it.
            ConflictError: the object is not stored. UnavailableError: the provider is down.
        """
        name = check_name(name)
        now = self._now()
        with self.db.read() as conn:
            row = self._object_row(conn, tenant, name)
            crows = self._clone_rows(conn, row.id)
        if row.state != "stored":
            raise ConflictError(f"object {row.name!r} is {row.state}: no provider holds a clone of it to read")
        c = next((c for c in crows if c["provider_id"] == provider_id and c["state"] == "live"), None)
        if c is None:
            raise NotFoundError(f"provider {provider_id!r} holds no live clone of object {name!r}")
        if c["provider_state"] not in ALIVE:
            raise UnavailableError(f"provider {provider_id!r} is {c['provider_state']}")
        elapsed = max(0.0, now - row.stored_at)
        if elapsed > 0:
            self.substrate.age(row.id, list(c["labels"]), elapsed, c["t1"], c["t2"])
        rho = np.asarray(self.substrate.peek(row.id, list(c["labels"])), dtype=complex)
        self._write_log(tenant.name, "peek", tenant_id=tenant.id, object_id=row.id, object_name=name,
                        provider=provider_id, clone=c["j"])
        return {"name": name, "object_id": row.id, "provider": provider_id, "clone": c["j"],
                "labels": list(c["labels"]), **state_summary(rho), "elapsed": elapsed}

