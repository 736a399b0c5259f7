"""Providers: add, list, drain, kill, revive."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from qclone.errors import InvalidArgumentError, QcloneError
from qclone.storage.errors import ConflictError, UnavailableError
from qclone.storage.models import clones as clone_table
from qclone.storage.models import holders, objects, providers
from qclone.storage.ports import node_statuses
from qclone.storage.provider import check_provider_id
from qclone.storage.service.common import NODE_ERRORS, VAULT_PARTY, ServiceBase
from qclone.storage.service.placement import default_max_coalition, object_keys, placement_audit
from qclone.storage.states import ObjectState, transition
from qclone.storage.vault import DEFAULT_T1, DEFAULT_T2, check_coherence

log = logging.getLogger(__name__)


class ProvidersMixin(ServiceBase):
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
        with self.db.read() as conn:
            if conn.execute(select(holders.c.id).where(holders.c.id == provider_id)).first() is not None:
                raise InvalidArgumentError(f"{provider_id!r} is a key holder's id; a provider needs its own")
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
            except (OSError, sqlite3.Error) as e:
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
        except (OSError, sqlite3.Error) as e:
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
        if self.directory.introduce is not None:
            self.directory.introduce(provider_id, public_key)
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
        if self.directory.introduce is not None:
            self.directory.introduce(provider_id, public_key)
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
            load: dict[str, int] = dict(conn.execute(select(clone_table.c.provider_id, func.count())
                                                     .where(clone_table.c.state == "live")
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
            # from now on a recovery that uses this clone needs the new provider's release
            self.substrate.assign(m.object_id, list(m.labels), f"provider:{target['id']}")
        except NODE_ERRORS as e:
            return f"could not move to {target['id']}: {e}"
        holder_ids = {c["j"]: c["provider_id"] for c in crows}
        holder_ids[m.j] = target["id"]
        ordered = tuple(holder_ids[j] for j in sorted(holder_ids))
        with self.db.read() as conn:
            stored = conn.execute(select(objects.c.placement).where(objects.c.id == m.object_id)).scalar()
        keys = object_keys(stored or {}, m.n)
        summary, full = placement_audit(m.n, m.k, ordered, default_max_coalition(m.n), keys)
        with self.db.write() as conn:
            row = conn.execute(select(objects.c.placement, objects.c.tenant_id, objects.c.name)
                               .where(objects.c.id == m.object_id)).first()
            # the object was stored with a live clone here, and an object that has clone rows is
            # never deleted (only a 'storing' reservation, which has none, is)
            assert row is not None, f"clone of {m.object_id} without its object"
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
                        conn.execute(transition(ObjectState.STORED, ObjectState.LOST, objects.c.id == row.id,
                                                finished_at=now, purge_pending=True))
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
            except NODE_ERRORS as e:  # a node already gone has nothing left
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
        self.directory.forget(provider_id)  # a fresh client: the operator says the node is back (breaker closed)
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

