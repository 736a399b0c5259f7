"""Logical gates on stored objects: the ``applying`` state.

* state ``applying``: a logical gate is being applied by the object's holders (its op id in
  ``attempt``, the fence raised, a lease on the database's clock); the gate itself, its register
  qubits and its plan are in the ``apply.begin`` entry of the audit log, written in the same
  transaction as the move (the durable intent the reconciler finishes).
* SQLite rebuilds the table for the new check constraint (``Database.upgrade`` turns foreign keys
  off around it and checks them afterwards).

Revision ID: 0005_applying
Revises: 0004_holders
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0005_applying"
down_revision = "0004_holders"
branch_labels = None
depends_on = None

_OLD_STATES = "state in ('storing', 'stored', 'retrieving', 'delivering', 'retrieved', 'lost', 'deleted')"
_NEW_STATES = "state in ('storing', 'stored', 'retrieving', 'applying', 'delivering', 'retrieved', 'lost', 'deleted')"


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.drop_constraint("ck_objects_state", type_="check")
        batch.create_check_constraint("ck_objects_state", _NEW_STATES)


def downgrade() -> None:
    # a gate in progress is finished by rolling forward, which the old code cannot do: keep it stored
    op.execute("UPDATE objects SET state = 'stored', attempt = NULL, get_key = NULL, lease_until = NULL "
               "WHERE state = 'applying'")
    with op.batch_alter_table("objects") as batch:
        batch.drop_constraint("ck_objects_state", type_="check")
        batch.create_check_constraint("ck_objects_state", _OLD_STATES)
