"""Recovery: finishing or undoing what crashes and failures left behind."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select, update

from qclone.storage.db import db_now
from qclone.storage.models import clones as clone_table
from qclone.storage.models import objects, providers
from qclone.storage.models import parts as part_table
from qclone.storage.service.common import (
    ALIVE,
    NODE_ERRORS,
    RECOVERY_ERRORS,
    VAULT_PARTY,
)
from qclone.storage.service.holders import HoldersMixin
from qclone.storage.service.statements import Q_OBJECT_BY_ID
from qclone.storage.states import ObjectState, transition

log = logging.getLogger(__name__)


class RecoveryMixin(HoldersMixin):
    def _recover_object(self, object_id: str) -> str | None:
        """Take over an interrupted retrieval (fenced) and finish or undo it; what was done (None: nothing).

        The substrate's fence is raised above the attempt's first: from then on that attempt
        can no longer decrypt, so what the substrate answers (joint state still there, or this
        attempt's output) cannot change under the decision taken here.
        """
        with self.db.read() as conn:
            row = conn.execute(Q_OBJECT_BY_ID, {"b_id": object_id}).first()
            crows = self._clone_rows(conn, object_id) if row is not None else []
        if row is None or row.state != ObjectState.RETRIEVING:
            return None
        attempt, fence = row.attempt, row.fence
        seen = self.substrate.fence(object_id, fence + 1)
        if seen["exists"]:
            return "rolled back" if self._rollback(object_id, attempt) else None
        if seen["output_attempt"] == attempt:
            out = self.substrate.output(object_id)
            used = [VAULT_PARTY] if out is None or "parties" not in out else \
                [h for h in out["parties"] if not str(h).startswith("provider:")]
            records = self._holder_records(used)
            for h in used:
                self._holder_node(h, records).consume(object_id, attempt)
            clone = None if out is None else out.get("clone")
            provider = next((c["provider_id"] for c in crows if clone is not None and c["j"] == clone), None)
            if not self._finish(object_id, attempt, fence, "system", row.tenant_id, row.name,
                                int(clone) if clone is not None else 0, provider, None, action="get.recovered"):
                return None  # another gateway's recovery (or a retry of the get) finished it first
            self._discard_clones(object_id, crows)
            with self.db.read() as conn:
                prows = self._part_rows(conn, object_id)
            self._discard_unused_parts(object_id, prows, used)
            return "completed"
        with self.db.write() as conn:
            lost = conn.execute(transition(ObjectState.RETRIEVING, ObjectState.LOST, objects.c.id == object_id,
                                           objects.c.attempt == attempt, objects.c.fence == fence,
                                           finished_at=self._now(), lease_until=None)).rowcount
            if lost:
                self._log(conn, self._now(), "system", "object.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, reason="the substrate holds neither its state nor an output")
        return "lost" if lost else None

    def recover(self, *, expired_only: bool = False) -> dict[str, int]:
        """Repair what crashes and failures left behind: at start-up (``expired_only=False``: every
        interrupted put and get is taken over) and, with ``expired_only``, continuously (the
        :class:`Reconciler`: only those whose lease on the database's clock has ended).

        * puts that never committed are undone (their parts destroyed, the name freed);
        * interrupted retrievals are rolled back (the decryption never happened) or completed
          (it did: the output waits for the next get or the acknowledgement);
        * outputs whose retention ended unacknowledged are discarded (the object is lost);
        * acknowledged outputs still in the substrate are released;
        * objects written before the delivery schema (``delivering`` with no lease) are settled:
          ``retrieved`` when their output was delivered, else kept for the next get;
        * deletions are purged, pending discards sent; at start-up also, records a provider keeps
          of objects it holds no live clone of are dropped.

        Returns:
            Counts: ``{"abandoned", "rolled_back", "completed", "lost", "expired", "released",
            "settled", "purged", "discards", "orphans", "gates"}`` (``gates``: logical gates
            finished, :meth:`~qclone.storage.service.compute.ComputeMixin.finish_gates`).
        """
        counts = dict.fromkeys(("abandoned", "rolled_back", "completed", "lost", "expired", "released", "settled",
                                "purged", "discards", "orphans"), 0)
        ended = or_(objects.c.lease_until.is_(None), objects.c.lease_until <= db_now())
        q_retrieving = select(objects.c.id).where(objects.c.state == ObjectState.RETRIEVING.value)
        q_storing = select(objects.c.id).where(objects.c.state == ObjectState.STORING.value)
        if expired_only:
            q_retrieving, q_storing = q_retrieving.where(ended), q_storing.where(ended)
        with self.db.read() as conn:
            retrieving = conn.execute(q_retrieving).scalars().all()
            storing = conn.execute(q_storing).scalars().all()
            delivering = conn.execute(
                select(objects.c.id, objects.c.attempt, objects.c.lease_until, objects.c.tenant_id, objects.c.name)
                .where(objects.c.state == ObjectState.DELIVERING.value, ended)).all()
            releasing = conn.execute(select(objects.c.id).where(objects.c.state.in_(("retrieved", "lost")),
                                                                objects.c.lease_until.is_not(None))).scalars().all()
            purge = conn.execute(select(objects.c.id).where(objects.c.purge_pending.is_(True))).scalars().all()
            prows = [self._provider_record(r) for r in conn.execute(select(providers)).all()]
        for object_id in storing:
            if self._abandon_put(object_id):
                counts["abandoned"] += 1
        for object_id in retrieving:
            try:
                done = self._recover_object(object_id)
            except RECOVERY_ERRORS as e:  # a component is down: try again later
                log.warning("recovery of %s deferred: %s", object_id, e)
                continue
            key = {"rolled back": "rolled_back", "completed": "completed", "lost": "lost"}.get(done or "")
            if key:
                counts[key] += 1
        for row in delivering:
            try:
                counts[self._settle_delivery(row)] += 1
            except RECOVERY_ERRORS as e:
                log.warning("delivery of %s: settling deferred: %s", row.id, e)
        released = []
        for object_id in releasing:
            try:
                self.substrate.release(object_id)
                released.append(object_id)
            except NODE_ERRORS as e:
                log.warning("release of the output of %s deferred: %s", object_id, e)
        if released:
            with self.db.write() as conn:
                conn.execute(update(objects).where(objects.c.id.in_(released)).values(lease_until=None))
            counts["released"] = len(released)
        for object_id in purge:
            if self._purge_object(object_id):
                counts["purged"] += 1
        for p in prows:
            if p["state"] in ALIVE:
                sent, orphans = self._sync_provider(p, orphans_before=None if expired_only else math.inf)
                counts["discards"] += sent
                counts["orphans"] += orphans
        counts["discards"] += self._sync_holders()
        counts["gates"] = self.finish_gates(expired_only=expired_only)
        if any(v for k, v in counts.items() if k != "released"):
            self._write_log("system", "recover", **counts)
        return counts

    def _settle_delivery(self, row: Any) -> str:
        """A ``delivering`` object whose lease ended: its retention is over (lost, the output
        discarded), or (no lease: written before the delivery schema) it is settled by what the
        substrate holds."""
        now = self._now()
        if row.lease_until is None:
            out = self.substrate.output(row.id)
            with self.db.write() as conn:
                if out is None or out.get("attempt") != row.attempt:  # delivered (and released) before
                    conn.execute(transition(ObjectState.DELIVERING, ObjectState.RETRIEVED, objects.c.id == row.id,
                                            objects.c.lease_until.is_(None)))
                    self._log(conn, now, "system", "get.ack", tenant_id=row.tenant_id, object_id=row.id,
                              object_name=row.name, attempt=row.attempt, reason="delivered before the upgrade")
                else:  # an output a crash left undelivered: it waits for the next get, from now on
                    conn.execute(update(objects).where(objects.c.id == row.id, objects.c.lease_until.is_(None),
                                                       objects.c.state == ObjectState.DELIVERING.value)
                                 .values(lease_until=db_now() + self.retention_seconds))
            return "settled"
        with self.db.write() as conn:
            lost = conn.execute(transition(ObjectState.DELIVERING, ObjectState.LOST, objects.c.id == row.id,
                                           objects.c.attempt == row.attempt, objects.c.lease_until <= db_now(),
                                           purge_pending=True)).rowcount
            if lost:
                self._log(conn, now, "system", "object.lost", tenant_id=row.tenant_id, object_id=row.id,
                          object_name=row.name, reason=f"its output was not acknowledged within "
                                                       f"{self.retention_seconds:g} s and was discarded")
        if lost:
            self._purge_object(row.id)
        return "expired"

    def _destroy_quantum(self, object_id: str, why: str) -> bool:
        """Discard the object's joint state and destroy its key; False (logged, retried at the next
        recovery) when the substrate or the vault cannot be reached."""
        try:
            self.substrate.discard(object_id)
            self.vault.destroy(object_id)
        except NODE_ERRORS as e:  # retried at the next recovery
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
                      "state": c["provider_state"], "t1": c["t1"], "t2": c["t2"],
                      "public_key": c["public_key"]}
            if c["state"] != "lost" and not self._tell_discard(record, object_id):
                failed.append(c["provider_id"])
        with self.db.read() as conn:
            prows = self._part_rows(conn, object_id)
        others = [p["holder_id"] for p in prows if p["holder_id"] != VAULT_PARTY and p["state"] != "lost"]
        missed = self._discard_parts(object_id, others)
        with self.db.write() as conn:
            conn.execute(update(objects).where(objects.c.id == object_id).values(purge_pending=False))
            conn.execute(update(clone_table).where(clone_table.c.object_id == object_id)
                         .values(discard_pending=clone_table.c.provider_id.in_(failed) if failed else False))
            if prows:
                conn.execute(update(part_table).where(part_table.c.object_id == object_id, part_table.c.state == "live")
                             .values(state="discarded"))
                conn.execute(update(part_table).where(part_table.c.object_id == object_id)
                             .values(discard_pending=part_table.c.holder_id.in_(missed) if missed else False))
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
            if orphans_before is not None:
                for rec in node.records():
                    if rec["object_id"] not in live and rec["object_id"] not in sent \
                            and float(rec["stored_at"]) < orphans_before:
                        node.discard(rec["object_id"])
                        dropped += 1
        except NODE_ERRORS as e:  # the provider is unreachable: next time
            log.warning("provider %s: discards deferred: %s", record["id"], e)
        if sent:
            with self.db.write() as conn:
                conn.execute(update(clone_table).where(clone_table.c.provider_id == record["id"],
                                                  clone_table.c.object_id.in_(sent)).values(discard_pending=False))
        return len(sent), dropped



class Reconciler:
    """Runs :meth:`~RecoveryMixin.recover` (``expired_only``) every ``interval`` seconds in a
    background thread: interrupted puts and gets whose lease ended, unacknowledged outputs whose
    retention ended, releases, purges and discards that could not be done at the time; and every
    ``integrity_every`` passes the data-loss check (``check_integrity``).

    Safe beside other gateways on the same database: every takeover is fenced, every decision is
    one compare-and-set on the object's row (the attempt and the fence it read), so of two
    reconcilers that take over the same object one acts and the other finds it done (its counts
    then say nothing was done: :meth:`~RecoveryMixin.recover` counts only what this pass decided).
    A put is abandoned only after its lease is ended, which its commit needs.
    """

    def __init__(self, service: Any, interval: float = 2.0, *, integrity_every: int = 10) -> None:
        self.service = service
        self.interval = float(interval)
        self.integrity_every = int(integrity_every)
        self.passes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Reconciler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qclone-reconciler", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.service.recover(expired_only=True)
                if self.passes % self.integrity_every == 0:
                    self.service.check_integrity()
            except RECOVERY_ERRORS as e:  # the database or a node is down: next pass
                log.warning("reconciler: %s", e)
            except Exception:  # noqa: BLE001 - a bug must not stop the background loop; logged with its traceback
                log.exception("reconciler pass failed")
            self.passes += 1
