"""Key holders beside the vault: custodians and more vaults (nodes like the vault), and the parts
of each object they hold.

A key holder is a :class:`~qclone.storage.vault.KeyVault` (embedded, under
``<data_dir>/holders/<id>``) or a vault node at a url: it holds some of an
object's key qubits ``N_j`` or its input qubits ``A`` (see
:mod:`qclone.storage.placements`), and releases them once per retrieval attempt
(a one-time release, signed by the node where it has a key). The deployment's
vault is the holder ``vault``; it is not in the ``holders`` table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError, NotFoundError
from qclone.storage.models import HOLDER_KINDS, holders, parts, providers
from qclone.storage.ports import node_statuses
from qclone.storage.provider import check_provider_id
from qclone.storage.service.common import NODE_ERRORS, VAULT_PARTY, NodeDirectory, ServiceBase
from qclone.storage.vault import DEFAULT_T1, DEFAULT_T2, KeyVault, check_coherence

log = logging.getLogger(__name__)
#: What telling a holder to destroy its part may meet (told again later).
_PART_ERRORS: tuple[type[Exception], ...] = (*NODE_ERRORS, NotFoundError)


class HolderDirectory(NodeDirectory):
    """Holder id -> the object to talk to it (a :class:`KeyVault` or a remote vault client), made
    once by ``factory(record)`` (``record`` is the holder's row) and remade when its url, key or
    T1/T2 change."""

    @classmethod
    def local(cls, data_dir: Path | str | None) -> HolderDirectory:
        """Embedded holders, holder ``h`` keeping its records in ``<data_dir>/holders/h``."""

        def factory(record: Mapping[str, Any]) -> KeyVault:
            if record.get("url"):
                raise InvalidArgumentError(f"holder {record['id']}: this gateway runs embedded holders only (no url)")
            where = None if data_dir is None else Path(data_dir) / "holders" / record["id"]
            return KeyVault(where, t1=record["t1"], t2=record["t2"])

        return cls(factory)



def _holder_record(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {"id": m["id"], "kind": m["kind"], "zone": m["zone"], "url": m["url"], "state": m["state"],
            "t1": m["t1"], "t2": m["t2"], "public_key": m["public_key"]}


class HoldersMixin(ServiceBase):
    holder_directory: HolderDirectory

    def holders_add(self, holder_id: str, kind: str, *, zone: str = "default", t1: float | None = None,
                    t2: float | None = None, url: str | None = None, actor: str = "admin") -> dict[str, Any]:
        """Register a key holder (``kind`` ``vault`` or ``custodian``) in state ``up``; adding the same
        holder again is a no-op.

        Raises:
            InvalidArgumentError: a bad id (or ``vault``, or a provider's id), kind, zone, T1/T2.
            ConflictError: the id exists with another kind or url.
        """
        check_provider_id(holder_id)
        if holder_id == VAULT_PARTY:
            raise InvalidArgumentError(f"{VAULT_PARTY!r} names the deployment's vault; choose another holder id")
        if kind not in HOLDER_KINDS:
            raise InvalidArgumentError(f"a holder is one of {', '.join(HOLDER_KINDS)}, got {kind!r}")
        if not isinstance(zone, str) or not zone.strip() or len(zone) > 100:
            raise InvalidArgumentError(f"a zone is a non-empty name of at most 100 characters, got {zone!r}")
        t1v, t2v = check_coherence(DEFAULT_T1 if t1 is None else t1, DEFAULT_T2 if t2 is None else t2)
        record = {"id": holder_id, "kind": kind, "zone": zone.strip(), "url": url or None, "state": "up",
                  "t1": t1v, "t2": t2v, "public_key": None}
        now = self._now()
        with self.db.read() as conn:
            if conn.execute(select(providers.c.id).where(providers.c.id == holder_id)).first() is not None:
                raise InvalidArgumentError(f"{holder_id!r} is a provider's id; a holder needs its own")
        try:
            with self.db.write() as conn:
                conn.execute(insert(holders).values(**record, created_at=now))
                self._log(conn, now, actor, "holder.add", holder=holder_id, kind=kind, zone=record["zone"],
                          url=record["url"])
        except IntegrityError:
            with self.db.read() as conn:
                row = conn.execute(select(holders).where(holders.c.id == holder_id)).first()
            if row is None or (row.kind, row.url) != (kind, record["url"]):
                raise ConflictError(f"a holder {holder_id!r} exists (a {row.kind if row else '?'})") from None
            return _holder_record(row)
        return record

    def holders_list(self) -> list[dict[str, Any]]:
        """The key holders, the vault first: ``{"id", "kind", "zone", "url", "state", "t1", "t2",
        "live_parts", "discards_pending", "node"}`` (``node``: whether it answers now)."""
        live = func.sum(case((parts.c.state == "live", 1), else_=0)).label("live")
        pending = func.sum(case((parts.c.discard_pending.is_(True), 1), else_=0)).label("pending")
        with self.db.read() as conn:
            rows = conn.execute(select(holders).order_by(holders.c.id)).all()
            counts = {r.holder_id: (int(r.live or 0), int(r.pending or 0)) for r in conn.execute(
                select(parts.c.holder_id, live, pending).group_by(parts.c.holder_id)).all()}
        t1, t2 = self._vault_times_or_default()
        out: list[dict[str, Any]] = [{"id": VAULT_PARTY, "kind": "vault", "zone": "default", "url": None, "state": "up",
                                      "t1": t1, "t2": t2}]
        out += [_holder_record(r) for r in rows]
        nodes = []
        for h in out:
            h["live_parts"], h["discards_pending"] = counts.get(h["id"], (0, 0))
            h.pop("public_key", None)
            nodes.append(self._holder_node_or_none(str(h["id"])))
        for h, status in zip(out, node_statuses(nodes), strict=True):
            h["node"] = "up" if status.get("status") == "ok" else "down"
        return out

    def _vault_times_or_default(self) -> tuple[float, float]:
        try:
            return self._vault_times()
        except NODE_ERRORS:
            return DEFAULT_T1, DEFAULT_T2

    def _holder_records(self, ids: Any = None) -> dict[str, dict[str, Any]]:
        """The holders' rows by id (``ids`` given and only the vault among them: no read at all)."""
        if ids is not None and all(h == VAULT_PARTY for h in ids):
            return {}
        with self.db.read() as conn:
            return {r.id: _holder_record(r) for r in conn.execute(select(holders)).all()}

    def _holder_node(self, holder_id: str, records: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
        """The node of a key holder (the vault for ``vault``)."""
        if holder_id == VAULT_PARTY:
            return self.vault
        record = (records if records is not None else self._holder_records()).get(holder_id)
        if record is None:
            raise NotFoundError(f"no key holder {holder_id!r}")
        return self.holder_directory.node(record)

    def _holder_node_or_none(self, holder_id: str) -> Any:
        try:
            return self._holder_node(holder_id)
        except (InvalidArgumentError, NotFoundError):
            return None

    def _holder_times(self, holder_id: str, records: Mapping[str, Mapping[str, Any]]) -> tuple[float, float]:
        """The T1/T2 of a holder's memory (the vault's as it reports them)."""
        if holder_id == VAULT_PARTY:
            return self._vault_times()
        record = records[holder_id]
        return float(record["t1"]), float(record["t2"])

    def _holders_up(self) -> dict[str, str]:
        """Key holders in state ``up``: id -> kind (the vault always listed: a put finds out if it is not)."""
        with self.db.read() as conn:
            rows = conn.execute(select(holders.c.id, holders.c.kind).where(holders.c.state == "up")).all()
        return {VAULT_PARTY: "vault", **{r.id: r.kind for r in rows}}

    def _part_rows(self, conn: Any, object_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(select(parts).where(parts.c.object_id == object_id).order_by(parts.c.holder_id)).all()
        return [dict(r._mapping) for r in rows]

    def _discard_parts(self, object_id: str, holder_ids: list[str]) -> list[str]:
        """Tell holders to destroy their parts of the object; the ids that could not be told."""
        failed = []
        records = self._holder_records(holder_ids)
        for h in holder_ids:
            try:
                self._holder_node(h, records).destroy(object_id)
            except _PART_ERRORS as e:  # told again by the reconciler
                log.warning("discard of %s at holder %s deferred: %s", object_id, h, e)
                failed.append(h)
        return failed

    def _sync_holders(self) -> int:
        """Deliver the discards holders missed (they were down): the parts a recovery did without,
        and those of deleted or lost objects. Returns how many were delivered."""
        with self.db.read() as conn:
            pending = conn.execute(select(parts.c.object_id, parts.c.holder_id)
                                   .where(parts.c.discard_pending.is_(True))).all()
        sent = 0
        records = self._holder_records()
        for object_id, holder_id in pending:
            try:
                self._holder_node(holder_id, records).destroy(object_id)
            except _PART_ERRORS as e:
                log.warning("discard of %s at holder %s deferred: %s", object_id, holder_id, e)
                continue
            with self.db.write() as conn:
                conn.execute(update(parts).where(parts.c.object_id == object_id, parts.c.holder_id == holder_id)
                             .values(discard_pending=False))
                self._log(conn, self._now(), "system", "part.discarded", object_id=object_id, holder=holder_id)
            sent += 1
        return sent

    def _part_lost(self, row: Any, holder: str) -> None:
        """A key holder no longer holds its part of the object: the part is lost (audited)."""
        with self.db.write() as conn:
            done = conn.execute(update(parts).where(parts.c.object_id == row.id,
                                                         parts.c.holder_id == holder,
                                                         parts.c.state == "live")
                                .values(state="lost", discard_pending=False)).rowcount
            if done:
                self._log(conn, self._now(), "system", "part.lost", tenant_id=row.tenant_id, object_id=row.id,
                          object_name=row.name, holder=holder, reason=f"{holder} no longer holds its part")

    def _discard_unused_parts(self, object_id: str, prows: list[dict[str, Any]], used: list[str]) -> None:
        """After a recovery: the key holders it did without destroy their parts (they hold noise
        now); those that cannot be told now are told by the reconciler."""
        if not prows:
            return
        rest = [p["holder_id"] for p in prows if p["holder_id"] not in used and p["state"] == "live"]
        missed = self._discard_parts(object_id, rest)
        with self.db.write() as conn:
            conn.execute(update(parts).where(parts.c.object_id == object_id, parts.c.state == "live")
                         .values(state="discarded",
                                 discard_pending=parts.c.holder_id.in_(missed) if missed else False))
