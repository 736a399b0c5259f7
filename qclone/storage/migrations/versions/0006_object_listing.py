"""The index that makes a page of an object listing O(page).

``GET /v1/objects`` pages a tenant's objects in the order (created_at, name) with a keyset
cursor; the index ``(tenant_id, created_at, name)`` lets every page start where the last one
ended without scanning the rows before it (the audit log's ``(tenant_id, id)`` index already
exists since 0001).

Revision ID: 0006_object_listing
Revises: 0005_applying
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0006_object_listing"
down_revision = "0005_applying"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_objects_tenant_created_name", "objects", ["tenant_id", "created_at", "name"])


def downgrade() -> None:
    op.drop_index("ix_objects_tenant_created_name", table_name="objects")
