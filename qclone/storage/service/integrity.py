"""Data-loss detection: keys the vault no longer holds, clones a provider no longer holds.

:meth:`IntegrityMixin.check_integrity` (run by the reconciler every few passes, and on demand)
compares counts first (one call per node) and looks object by object only where a node holds
fewer than the database expects; what it finds is marked with the reason and an audit entry:
a clone a provider lost becomes ``lost`` (the object too, when it was its last live clone), an
object whose key the vault lost becomes ``lost``. :meth:`health` reports the last check.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import exists, func, or_, select, update

from qclone.protocol import Layout
from qclone.storage.models import clones as clone_table
from qclone.storage.models import objects, parts, providers
from qclone.storage.service.common import ALIVE, NODE_ERRORS, VAULT_PARTY
from qclone.storage.service.holders import HoldersMixin
from qclone.storage.states import ObjectState, transition

log = logging.getLogger(__name__)


class IntegrityMixin(HoldersMixin):
    _integrity: dict[str, Any] | None = None

    def check_integrity(self) -> dict[str, Any]:
        """Look for data the vault, another key holder or a provider lost.

        Returns:
            ``{"at", "vault": {"status", "missing_keys"}, "holders": {id: {"status", "missing_parts"}},
            "providers": {id: {"status", "missing_clones"}}, "lost_objects": [object ids]}`` (also
            kept for :meth:`health`).
        """
        report: dict[str, Any] = {"at": self._now(), "vault": {}, "holders": {}, "providers": {}, "lost_objects": []}
        report["vault"] = self._check_vault(report["lost_objects"])
        for holder_id in sorted(self._holder_records()):
            report["holders"][holder_id] = self._check_holder(holder_id, report["lost_objects"])
        with self.db.read() as conn:
            prows = [self._provider_record(r) for r in conn.execute(select(providers)).all()]
        for p in prows:
            if p["state"] in ALIVE:
                report["providers"][p["id"]] = self._check_provider(p, report["lost_objects"])
        previous = self._integrity or {}
        report["lost_total"] = int(previous.get("lost_total", 0)) + len(report["lost_objects"])
        self._integrity = report
        return report

    def _check_vault(self, lost: list[str]) -> dict[str, Any]:
        try:
            keys = self.vault.health().get("keys", {})
        except NODE_ERRORS as e:
            return {"status": "down", "error": str(e)}
        # objects whose key the vault should hold: stored before parts existed, or with a live part there
        at_vault = or_(~exists().where(parts.c.object_id == objects.c.id),
                       exists().where(parts.c.object_id == objects.c.id, parts.c.holder_id == VAULT_PARTY,
                                      parts.c.state == "live"))
        with self.db.read() as conn:
            expected = conn.execute(select(func.count()).select_from(objects).where(
                objects.c.state.in_((ObjectState.STORED.value, ObjectState.RETRIEVING.value)), at_vault)).scalar()
        if int(keys.get("held", 0)) + int(keys.get("released", 0)) >= int(expected or 0):
            return {"status": "ok", "missing_keys": 0}
        with self.db.read() as conn:
            stored = conn.execute(select(objects.c.id).where(objects.c.state == ObjectState.STORED.value,
                                                             at_vault)).scalars().all()
        missing = 0
        for object_id in stored:
            try:
                if self.vault.state(object_id) is not None:
                    continue
            except NODE_ERRORS as e:
                return {"status": "down", "error": str(e), "missing_keys": missing}
            missing += 1
            if self._part_gone(object_id, VAULT_PARTY) and self._lose(object_id, "the vault no longer holds its key"):
                lost.append(object_id)
        return {"status": "data lost" if missing else "ok", "missing_keys": missing}

    def _check_holder(self, holder_id: str, lost: list[str]) -> dict[str, Any]:
        """A key holder beside the vault: the live parts of stored objects it no longer holds are
        marked lost (and their objects lost where no recovery is left)."""
        q = select(parts.c.object_id).join(objects, objects.c.id == parts.c.object_id).where(
            parts.c.holder_id == holder_id, parts.c.state == "live", objects.c.state == ObjectState.STORED.value)
        try:
            node = self._holder_node(holder_id)
            keys = node.health().get("keys", {})
            with self.db.read() as conn:
                expected = conn.execute(select(func.count()).select_from(q.subquery())).scalar() or 0
            if int(keys.get("held", 0)) + int(keys.get("released", 0)) >= expected:
                return {"status": "ok", "missing_parts": 0}
            with self.db.read() as conn:
                stored = conn.execute(q).scalars().all()
            missing = 0
            for object_id in stored:
                if node.state(object_id) is not None:
                    continue
                missing += 1
                if self._part_gone(object_id, holder_id) \
                        and self._lose(object_id, f"{holder_id} no longer holds its part and no recovery is left"):
                    lost.append(object_id)
        except NODE_ERRORS as e:
            return {"status": "down", "error": str(e)}
        return {"status": "data lost" if missing else "ok", "missing_parts": missing}

    def _check_provider(self, record: dict[str, Any], lost: list[str]) -> dict[str, Any]:
        node = self._node(record)
        try:
            held = int(node.health().get("clones", 0))
        except NODE_ERRORS as e:
            return {"status": "down", "error": str(e)}
        q = select(clone_table.c.object_id).where(clone_table.c.provider_id == record["id"],
                                                 clone_table.c.state == "live")
        with self.db.read() as conn:
            expected = conn.execute(select(func.count()).select_from(q.subquery())).scalar() or 0
        if held >= expected:
            return {"status": "ok", "missing_clones": 0}
        with self.db.read() as conn:
            live = set(conn.execute(q).scalars())
        try:
            present = {r["object_id"] for r in node.records()}
        except NODE_ERRORS as e:
            return {"status": "down", "error": str(e)}
        missing = 0
        now = self._now()
        for object_id in sorted(live - present):
            with self.db.write() as conn:
                gone = conn.execute(update(clone_table).where(
                    clone_table.c.object_id == object_id, clone_table.c.provider_id == record["id"],
                    clone_table.c.state == "live").values(state="lost", discard_pending=False)).rowcount
                if not gone:
                    continue  # moved or discarded meanwhile
                row = conn.execute(select(objects.c.tenant_id, objects.c.name).where(objects.c.id == object_id)).first()
                # the clone row just updated references the object, and an object that has clone
                # rows is never deleted (only a 'storing' reservation, which has none, is)
                assert row is not None, f"clone of {object_id} without its object"
                self._log(conn, now, "system", "clone.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, provider=record["id"],
                          reason=f"provider {record['id']} no longer holds the clone")
                left = conn.execute(select(func.count()).select_from(clone_table).where(
                    clone_table.c.object_id == object_id, clone_table.c.state == "live")).scalar()
            missing += 1
            why = (f"provider {record['id']} lost its last live clone" if not left
                   else f"provider {record['id']} lost a clone no recovery can do without")
            if (not left or not self._recoverable(object_id)) and self._lose(object_id, why):
                lost.append(object_id)
        return {"status": "data lost" if missing else "ok", "missing_clones": missing}

    def _recoverable(self, object_id: str) -> bool:
        """Whether the object's live parts and live clones together can still recover it (whoever
        is up now): when not, it is lost for good."""
        from qclone.analysis.recovery import is_authorized

        with self.db.read() as conn:
            row = conn.execute(select(objects.c.k, objects.c.n, objects.c.placement).where(objects.c.id == object_id)).first()
            if row is None:
                return False
            js = conn.execute(select(clone_table.c.j).where(clone_table.c.object_id == object_id,
                                                            clone_table.c.state == "live")).scalars().all()
            prows = conn.execute(select(parts.c.labels, parts.c.state).where(parts.c.object_id == object_id)).all()
        lay = Layout(row.n, qubits=row.k)
        labels = ([x for p in prows if p.state == "live" for x in p.labels] if prows
                  else list((row.placement.get("key") or {}).get("labels") or []))
        held = [lay.index_of(x, long=True) for x in labels] + [q for j in js for q in lay.clone(j)]
        return is_authorized(lay, held)

    def _part_gone(self, object_id: str, holder: str) -> bool:
        """A holder lost its part of the object: the part is marked lost (audited); True when the
        object can no longer be recovered (or it has no parts recorded: the vault held its key)."""
        with self.db.write() as conn:
            done = conn.execute(update(parts).where(parts.c.object_id == object_id, parts.c.holder_id == holder,
                                                    parts.c.state == "live").values(state="lost", discard_pending=False)).rowcount
            row = conn.execute(select(objects.c.tenant_id, objects.c.name).where(objects.c.id == object_id)).first()
            if done and row is not None:
                self._log(conn, self._now(), "system", "part.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, holder=holder, reason=f"{holder} no longer holds its part")
        return not self._recoverable(object_id)

    def _lose(self, object_id: str, reason: str) -> bool:
        """A stored object marked lost (with the reason, audited) and purged."""
        now = self._now()
        with self.db.write() as conn:
            row = conn.execute(select(objects.c.tenant_id, objects.c.name).where(objects.c.id == object_id)).first()
            if row is None:  # no such object: nothing to mark lost
                return False
            done = conn.execute(transition(ObjectState.STORED, ObjectState.LOST, objects.c.id == object_id,
                                           finished_at=now, purge_pending=True)).rowcount
            if done:
                self._log(conn, now, "system", "object.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, reason=reason)
        if done:
            log.warning("object %s lost: %s", object_id, reason)
            self._purge_object(object_id)
        return bool(done)
