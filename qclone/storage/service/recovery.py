"""Recovery: finishing or undoing what crashes and failures left behind."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from qclone.storage.models import clones as clone_table
from qclone.storage.models import objects, providers
from qclone.storage.service.common import (
    ALIVE,
    NODE_ERRORS,
    RECOVERY_ERRORS,
    ServiceBase,
)
from qclone.storage.service.statements import Q_OBJECT_BY_ID
from qclone.storage.states import ObjectState, transition

log = logging.getLogger(__name__)


class RecoveryMixin(ServiceBase):
    def _recover_object(self, object_id: str) -> str | None:
        """Finish or undo an interrupted retrieval; returns what was done (None: nothing)."""
        with self.db.read() as conn:
            row = conn.execute(Q_OBJECT_BY_ID, {"b_id": object_id}).first()
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
            lost = conn.execute(transition(ObjectState.RETRIEVING, ObjectState.LOST, objects.c.id == object_id,
                                           objects.c.attempt == attempt, finished_at=self._now(),
                                           lease_until=None)).rowcount
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
            except NODE_ERRORS as e:
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
            except RECOVERY_ERRORS as e:  # a component is down: try again later
                log.warning("recovery of %s deferred: %s", object_id, e)
                continue
            key = {"rolled back": "rolled_back", "completed": "completed", "lost": "lost"}.get(done or "")
            if key:
                counts[key] += 1
        for object_id in purge:
            if self._purge_object(object_id):
                counts["purged"] += 1
        for p in prows:
            if p["state"] in ALIVE:
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
        except NODE_ERRORS as e:  # the provider is unreachable: next time
            log.warning("provider %s: discards deferred: %s", record["id"], e)
        if sent:
            with self.db.write() as conn:
                conn.execute(update(clone_table).where(clone_table.c.provider_id == record["id"],
                                                  clone_table.c.object_id.in_(sent)).values(discard_pending=False))
        return len(sent), dropped

