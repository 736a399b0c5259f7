"""Exactly-once delivery: the ``delivering`` state, the idempotency key of a get, fencing tokens.

* ``objects.fence``: the attempt number, raised by every claim; every write of an attempt
  checks it, so a stale attempt cannot finish after another took over.
* ``objects.get_key``: the idempotency key of the get that holds (or collected) the object.
* state ``delivering``: decrypted, the output waiting in the substrate for the client's
  acknowledgement (or the end of its retention).
* ``lease_until`` is now a time on the database's clock: every lease written before is
  dropped (start-up recovery takes over what they held).
* SQLite rebuilds the table (``Database.upgrade`` turns foreign keys off around it and checks
  them afterwards);
* every ``retrieved`` object becomes ``delivering``: the service, at its next start, moves
  those whose output was delivered (released from the substrate) back to ``retrieved`` and
  keeps the others, an output a crash left undelivered, for the next get.

Revision ID: 0003_delivery
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_delivery"
down_revision = "0001"
branch_labels = None
depends_on = None

_OLD_STATES = "state in ('storing', 'stored', 'retrieving', 'retrieved', 'lost', 'deleted')"
_NEW_STATES = "state in ('storing', 'stored', 'retrieving', 'delivering', 'retrieved', 'lost', 'deleted')"


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("fence", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("get_key", sa.String(64), nullable=True))
        batch.drop_constraint("ck_objects_state", type_="check")
        batch.create_check_constraint("ck_objects_state", _NEW_STATES)
    op.execute("UPDATE objects SET state = 'delivering' WHERE state = 'retrieved'")
    op.execute("UPDATE objects SET lease_until = NULL")


def downgrade() -> None:
    op.execute("UPDATE objects SET state = 'retrieved' WHERE state = 'delivering'")
    with op.batch_alter_table("objects") as batch:
        batch.drop_constraint("ck_objects_state", type_="check")
        batch.create_check_constraint("ck_objects_state", _OLD_STATES)
        batch.drop_column("get_key")
        batch.drop_column("fence")
