"""Node keys: each provider node's public key (pinned when it was enrolled with its join token).

Revision ID: 0002_node_keys
Revises: 0003_delivery
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_node_keys"
down_revision = "0003_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("providers", sa.Column("public_key", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("providers", "public_key")  # SQLite >= 3.35 and PostgreSQL drop a column in place
