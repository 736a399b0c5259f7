"""Key holders and the parts they hold: custodians and extra vaults beside the vault.

* ``holders``: the nodes that hold an object's qubits other than its clones, beside the
  deployment's vault (``kind`` ``vault`` or ``custodian``): id, zone, url (None: embedded),
  state (``up``/``down``), T1, T2, the node's public key (pinned at enrollment; None: embedded).
* ``parts``: which holder holds which of an object's non-clone qubits (the key qubits N_j and,
  with a custodian, the input qubits A): labels, state (``live``/``discarded``/``lost``), and
  whether a discard still has to reach the holder. The vault is the holder ``vault``.

Objects stored before this revision have no rows here: their key is at the vault, as their
``placement`` column says.

Revision ID: 0004_holders
Revises: 0002_node_keys
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_holders"
down_revision = "0002_node_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holders",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("zone", sa.String(100), nullable=False),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("t1", sa.Float, nullable=False),
        sa.Column("t2", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("public_key", sa.String(64), nullable=True),
        sa.CheckConstraint("kind in ('vault', 'custodian')", name="ck_holders_kind"),
        sa.CheckConstraint("state in ('up', 'down')", name="ck_holders_state"),
    )
    op.create_table(
        "parts",
        sa.Column("object_id", sa.String(32), sa.ForeignKey("objects.id"), primary_key=True),
        sa.Column("holder_id", sa.String(64), primary_key=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("discard_pending", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("state in ('live', 'discarded', 'lost')", name="ck_parts_state"),
    )
    op.create_index("ix_parts_holder_state", "parts", ["holder_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_parts_holder_state", table_name="parts")
    op.drop_table("parts")
    op.drop_table("holders")
