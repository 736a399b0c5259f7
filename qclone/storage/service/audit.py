"""The audit log (reads) and health."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from qclone.errors import InvalidArgumentError, is_int
from qclone.storage.models import audit_log, providers, tenants
from qclone.storage.paging import decode_cursor, encode_cursor
from qclone.storage.ports import node_statuses
from qclone.storage.service.common import ServiceBase, Tenant


class AuditMixin(ServiceBase):
    def audit_log(self, tenant: Tenant | None = None, *, limit: int = 1000, since: float | None = None,
                  after: int | None = None, object_name: str | None = None,
                  action: str | None = None) -> list[dict[str, Any]]:
        """Audit entries, oldest first: ``{"id", "at", "tenant", "actor", "action", "object_id",
        "object_name", "detail"}``. A tenant sees its own entries; None (admin) sees all.

        Args:
            limit: at most this many entries. since: only entries at or after this time.
            after: only entries with a larger id (paging).
            object_name, action: only the entries of this object (by name), only this action (or,
                ending in ``.``, actions starting so: ``provider.``).
        """
        if not is_int(limit) or limit < 1:
            raise InvalidArgumentError(f"limit must be an integer >= 1, got {limit!r}")
        q = (select(audit_log, tenants.c.name.label("tenant"))
             .select_from(audit_log.outerjoin(tenants, tenants.c.id == audit_log.c.tenant_id)))
        if tenant is not None:
            q = q.where(audit_log.c.tenant_id == tenant.id)
        if since is not None:
            q = q.where(audit_log.c.at >= float(since))
        if after is not None:
            q = q.where(audit_log.c.id > int(after))
        if object_name is not None:
            q = q.where(audit_log.c.object_name == str(object_name))
        if action is not None:
            action = str(action)
            q = q.where(audit_log.c.action.startswith(action, autoescape=True) if action.endswith(".")
                        else audit_log.c.action == action)
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(audit_log.c.id).limit(limit)).all()
        return [{"id": r.id, "at": r.at, "tenant": r.tenant, "actor": r.actor, "action": r.action,
                 "object_id": r.object_id, "object_name": r.object_name, "detail": r.detail} for r in rows]

    def audit_page(self, tenant: Tenant | None = None, *, limit: int = 1000, cursor: str | None = None,
                   after: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of :meth:`audit_log`: the first ``limit`` entries after ``cursor`` (or after the
        id ``after``), and the cursor of the next page (None: this was the last). Keyset paging on the
        id (the index ``(tenant_id, id)`` for a tenant): O(limit) at any position.

        Raises:
            InvalidArgumentError: a ``limit`` below 1, or a cursor that is not one of this listing's.
        """
        if not is_int(limit) or limit < 1:
            raise InvalidArgumentError(f"limit must be an integer >= 1, got {limit!r}")
        if cursor is not None:
            (last,) = decode_cursor(cursor, "audit", (int,))
            after = last if after is None else max(after, last)
        rows = self.audit_log(tenant, limit=limit + 1, after=after)
        more = len(rows) > limit
        del rows[limit:]
        return rows, encode_cursor("audit", rows[-1]["id"]) if more else None

    def health(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded", "database", "substrate", "vault", "providers": {state: count,
        "unreachable": provider nodes that do not answer}}``; nodes answer from cached probes
        (:func:`~qclone.storage.ports.node_statuses`), so a stalled node never blocks it."""
        out: dict[str, Any] = {"status": "ok"}
        try:
            with self.db.read() as conn:
                counts: dict[str, int] = dict(conn.execute(select(providers.c.state, func.count()).group_by(providers.c.state)).all())
            out["database"] = {"status": "ok", "dialect": self.db.dialect, "revision": self.db.revision()}
        except SQLAlchemyError as e:  # the database cannot be reached
            counts = {}
            out["database"] = {"status": "down", "error": str(e)}
        out["substrate"], out["vault"] = node_statuses([self.substrate, self.vault])
        out["providers"] = {s: int(counts.get(s, 0)) for s in ("up", "draining", "drained", "down")}
        try:
            with self.db.read() as conn:
                nodes = [self._provider_record(r) for r in conn.execute(select(providers).where(providers.c.url.is_not(None)))]
        except SQLAlchemyError:
            nodes = []
        out["providers"]["unreachable"] = sum(s.get("status") != "ok"
                                              for s in node_statuses([self._node_or_none(p) for p in nodes]))
        integrity = getattr(self, "_integrity", None)
        if integrity is not None:  # the last data-loss check (the reconciler runs it)
            out["integrity"] = {"at": integrity["at"], "lost_objects": len(integrity["lost_objects"]),
                                "lost_total": integrity["lost_total"],
                                "vault": integrity["vault"].get("status"),
                                "providers": {p: r.get("status") for p, r in integrity["providers"].items()}}
            if integrity["vault"].get("status") == "data lost":
                out["vault"] = {**out["vault"], "status": "data lost"}
        if any(out[p].get("status") != "ok" for p in ("database", "substrate", "vault")) or not counts.get("up") \
                or (integrity is not None and integrity["lost_objects"]) or out["providers"]["unreachable"]:
            out["status"] = "degraded"
        return out
