"""The dashboard's signed-out sessions, shared by every gateway of the database.

A session id is recorded when its user signs out, until the session would have expired; every
gateway refuses a cookie whose session id is here (``qclone.storage.web.session``), so a sign-out
at one gateway holds at all of them.

Revision ID: 0007_ui_sessions
Revises: 0006_object_listing
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_ui_sessions"
down_revision = "0006_object_listing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("ui_revoked_sessions",
                    sa.Column("sid", sa.String(64), primary_key=True),
                    sa.Column("until", sa.Float, nullable=False))
    op.create_index("ix_ui_revoked_sessions_until", "ui_revoked_sessions", ["until"])


def downgrade() -> None:
    op.drop_index("ix_ui_revoked_sessions_until", table_name="ui_revoked_sessions")
    op.drop_table("ui_revoked_sessions")
