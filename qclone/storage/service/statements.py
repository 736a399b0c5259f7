"""SQLAlchemy Core statements of the hot paths, built once.

Run through SQLAlchemy (``Database.write``/``read``) or prepared once and run on the DBAPI
connection (``Database.fast_write``/``fast_read``: put and get).
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, insert, select, update

from qclone.storage.db import db_now
from qclone.storage.models import audit_log, objects, parts, providers
from qclone.storage.models import clones as clone_table
from qclone.storage.states import ObjectState, transition

#: Provider states whose providers hold and hand out clones.
ALIVE = ("up", "draining")

OBJECT_COLS = [c for c in objects.c if c.name != "audit"]
#: The database's clock, read with an object's row (leases are compared with it).
NOW = db_now().label("db_now")
Q_OBJECT = select(*OBJECT_COLS, NOW).where(objects.c.tenant_id == bindparam("b_tenant"),
                                           objects.c.name == bindparam("b_name"))
Q_OBJECT_AUDIT = select(objects, NOW).where(objects.c.tenant_id == bindparam("b_tenant"),
                                            objects.c.name == bindparam("b_name"))
Q_OBJECT_BY_ID = select(*OBJECT_COLS, NOW).where(objects.c.id == bindparam("b_id"))
Q_UP = select(providers, NOW).where(providers.c.state == "up")
Q_CLONES = (select(clone_table.c.j, clone_table.c.provider_id, clone_table.c.state, clone_table.c.stored_at,
                    clone_table.c.labels, clone_table.c.discard_pending, providers.c.zone,
                    providers.c.state.label("provider_state"), providers.c.name, providers.c.url, providers.c.t1,
                    providers.c.t2, providers.c.public_key)
             .join(providers, providers.c.id == clone_table.c.provider_id)
             .where(clone_table.c.object_id == bindparam("b_id")).order_by(clone_table.c.j))
INSERT_LOG = insert(audit_log)
INSERT_OBJECT = insert(objects)
INSERT_CLONES = insert(clone_table)
INSERT_PARTS = insert(parts)
# the commit of a put: only while its reservation's lease runs (a recovery that abandons the put
# first ends the lease, so the commit and the abandonment exclude each other)
STORED = transition(ObjectState.STORING, ObjectState.STORED, objects.c.id == bindparam("b_id"),
                    objects.c.lease_until > db_now(), lease_until=None,
                    placement=bindparam("b_placement"), audit=bindparam("b_audit"))
# the claim: the one compare-and-set that lets exactly one get through; it raises the fence
CLAIM = transition(ObjectState.STORED, ObjectState.RETRIEVING, objects.c.id == bindparam("b_id"),
                   objects.c.fence == bindparam("b_fence"), fence=objects.c.fence + 1, attempt=bindparam("b_attempt"),
                   get_key=bindparam("b_key"), lease_until=db_now() + bindparam("b_lease"),
                   chosen_clone=bindparam("b_clone"), finished_at=bindparam("b_now"))
# decrypted: finished_at is when (a recovery that cannot know keeps the claim's time, an upper
# bound of how long the output has waited); the output waits in the substrate for the acknowledgement until lease_until (the retention)
FINISH = transition(ObjectState.RETRIEVING, ObjectState.DELIVERING, objects.c.id == bindparam("b_id"),
                    objects.c.attempt == bindparam("b_attempt"), objects.c.fence == bindparam("b_fence"),
                    finished_at=func.coalesce(bindparam("b_now"), objects.c.finished_at),
                    lease_until=db_now() + bindparam("b_retention"))
# the client acknowledged the output; lease_until now marks its release in the substrate as due
ACK = transition(ObjectState.DELIVERING, ObjectState.RETRIEVED, objects.c.id == bindparam("b_id"),
                 objects.c.get_key == bindparam("b_key"), lease_until=db_now())
DISCARD_CLONES = (update(clone_table).where(clone_table.c.object_id == bindparam("b_id"), clone_table.c.state == "live")
                   .values(state="discarded", discard_pending=clone_table.c.provider_id.in_(
                       select(providers.c.id).where(*(providers.c.state != s for s in ALIVE)).scalar_subquery())))

