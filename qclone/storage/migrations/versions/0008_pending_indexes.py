"""Partial indexes for the reconciler's scans, so that a pass costs what is pending, not the
number of objects.

Every pass of the reconciler (every few seconds, at every gateway) looks for the clones whose
discard has still to reach their provider, the parts whose discard has still to reach their
holder, and the objects whose purge is pending. Without an index each of these reads the whole
table: at 10^6 objects, about 0.5 s of PostgreSQL per provider per pass. The partial indexes hold
only the pending rows (none, most of the time).

Revision ID: 0008_pending_indexes
Revises: 0007_ui_sessions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_pending_indexes"
down_revision = "0007_ui_sessions"
branch_labels = None
depends_on = None

_INDEXES = (("ix_clones_discard_pending", "clones", ["provider_id"], "discard_pending"),
            ("ix_parts_discard_pending", "parts", ["holder_id"], "discard_pending"),
            ("ix_objects_purge_pending", "objects", ["id"], "purge_pending"))


def upgrade() -> None:
    for name, table, columns, flag in _INDEXES:
        op.create_index(name, table, columns, postgresql_where=sa.text(flag), sqlite_where=sa.text(flag))


def downgrade() -> None:
    for name, table, _, _ in _INDEXES:
        op.drop_index(name, table_name=table)
