"""The first schema: tenants, providers, objects, clones and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY = "audit_log is append-only"


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("zone", sa.String(100), nullable=False),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("t1", sa.Float, nullable=False),
        sa.Column("t2", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.CheckConstraint("state in ('up', 'draining', 'drained', 'down')", name="ck_providers_state"),
    )
    op.create_table(
        "objects",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("chosen_clone", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("stored_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("keep_reference", sa.Boolean, nullable=False),
        sa.Column("purge_pending", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("placement", sa.JSON, nullable=False),
        sa.Column("audit", sa.JSON, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_objects_tenant_name"),
        sa.CheckConstraint("state in ('storing', 'stored', 'retrieving', 'retrieved', 'lost', 'deleted')", name="ck_objects_state"),
    )
    op.create_index("ix_objects_state", "objects", ["state"])
    op.create_table(
        "clones",
        sa.Column("object_id", sa.String(32), sa.ForeignKey("objects.id"), primary_key=True),
        sa.Column("j", sa.Integer, primary_key=True),
        sa.Column("provider_id", sa.String(64), sa.ForeignKey("providers.id"), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("discard_pending", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("stored_at", sa.Float, nullable=False),
        sa.CheckConstraint("state in ('live', 'discarded', 'lost')", name="ck_clones_state"),
    )
    op.create_index("ix_clones_provider_state", "clones", ["provider_id", "state"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(32), nullable=True),
        sa.Column("object_name", sa.String(255), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_tenant", "audit_log", ["tenant_id", "id"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION qclone_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$")
        op.execute("CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION qclone_audit_log_append_only()")
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION qclone_audit_log_append_only()")
    else:
        raise NotImplementedError(f"no append-only trigger for the {dialect} database")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS qclone_audit_log_append_only()")
    for table in ("audit_log", "clones", "objects", "providers", "tenants"):
        op.drop_table(table)
