"""SQLAlchemy Core statements of the hot paths, built once.

Run through SQLAlchemy (``Database.write``/``read``) or prepared once and run on the DBAPI
connection (``Database.fast_write``/``fast_read``: put and get).
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update

from qclone.storage.models import audit_log, objects, providers
from qclone.storage.models import clones as clone_table
from qclone.storage.states import ObjectState, transition

#: Provider states whose providers hold and hand out clones.
ALIVE = ("up", "draining")

OBJECT_COLS = [c for c in objects.c if c.name != "audit"]
Q_OBJECT = select(*OBJECT_COLS).where(objects.c.tenant_id == bindparam("b_tenant"), objects.c.name == bindparam("b_name"))
Q_OBJECT_AUDIT = select(objects).where(objects.c.tenant_id == bindparam("b_tenant"), objects.c.name == bindparam("b_name"))
Q_OBJECT_BY_ID = select(*OBJECT_COLS).where(objects.c.id == bindparam("b_id"))
Q_UP = select(providers).where(providers.c.state == "up")
Q_CLONES = (select(clone_table.c.j, clone_table.c.provider_id, clone_table.c.state, clone_table.c.stored_at,
                    clone_table.c.labels, clone_table.c.discard_pending, providers.c.zone,
                    providers.c.state.label("provider_state"), providers.c.name, providers.c.url, providers.c.t1,
                    providers.c.t2, providers.c.public_key)
             .join(providers, providers.c.id == clone_table.c.provider_id)
             .where(clone_table.c.object_id == bindparam("b_id")).order_by(clone_table.c.j))
INSERT_LOG = insert(audit_log)
INSERT_OBJECT = insert(objects)
INSERT_CLONES = insert(clone_table)
STORED = transition(ObjectState.STORING, ObjectState.STORED, objects.c.id == bindparam("b_id"), lease_until=None,
                    placement=bindparam("b_placement"), audit=bindparam("b_audit"))
CLAIM = transition(ObjectState.STORED, ObjectState.RETRIEVING, objects.c.id == bindparam("b_id"),
                   attempt=bindparam("b_attempt"), lease_until=bindparam("b_lease"), chosen_clone=bindparam("b_clone"))
FINISH = transition(ObjectState.RETRIEVING, ObjectState.RETRIEVED, objects.c.id == bindparam("b_id"),
                    objects.c.attempt == bindparam("b_attempt"), finished_at=bindparam("b_now"),
                    lease_until=bindparam("b_lease"))
DISCARD_CLONES = (update(clone_table).where(clone_table.c.object_id == bindparam("b_id"), clone_table.c.state == "live")
                   .values(state="discarded", discard_pending=clone_table.c.provider_id.in_(
                       select(providers.c.id).where(*(providers.c.state != s for s in ALIVE)).scalar_subquery())))

