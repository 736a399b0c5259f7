"""Tenants: creation, tokens, authentication."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError, UnauthorizedError
from qclone.storage.models import new_token, tenants, token_matches, token_tenant_id
from qclone.storage.service.common import TENANT_NAME, ServiceBase, Tenant


class TenantsMixin(ServiceBase):
    def create_tenant(self, name: str) -> str:
        """Create a tenant; returns its token (shown once: only a hash of its secret is stored).

        Raises:
            InvalidArgumentError: bad name. ConflictError: the name is taken.
        """
        if not isinstance(name, str) or not TENANT_NAME.fullmatch(name):
            raise InvalidArgumentError(f"a tenant name is 1-200 letters, digits, '_', '.', '@' or '-', got {name!r}")
        tenant_id = uuid.uuid4().hex
        token, digest = new_token(tenant_id)
        now = self._now()
        try:
            with self.db.write() as conn:
                conn.execute(insert(tenants).values(id=tenant_id, name=name, token_hash=digest, created_at=now))
                self._log(conn, now, "admin", "tenant.create", tenant_id=tenant_id, tenant=name)
        except IntegrityError:
            raise ConflictError(f"a tenant named {name!r} exists") from None
        return token

    def first_tenant(self, name: str = "default") -> str | None:
        """Create tenant ``name`` if there is no tenant at all; its token, or None if tenants exist."""
        with self.db.read() as conn:
            if conn.execute(select(func.count()).select_from(tenants)).scalar():
                return None
        try:
            return self.create_tenant(name)
        except ConflictError:
            return None

    def authenticate(self, token: str) -> Tenant:
        """The tenant a token belongs to.

        Raises:
            UnauthorizedError: missing, malformed or unknown token.
        """
        with self._tokens_lock:
            hit = self._tokens.get(token) if isinstance(token, str) else None
            if hit is not None:
                self._tokens.move_to_end(token)
                return hit
        tenant_id = token_tenant_id(token)
        if tenant_id is None:
            raise UnauthorizedError("bad API token")
        with self.db.read() as conn:
            row = conn.execute(select(tenants.c.name, tenants.c.token_hash).where(tenants.c.id == tenant_id)).first()
        if row is None or not token_matches(token, row.token_hash):
            raise UnauthorizedError("bad API token")
        tenant = Tenant(tenant_id, row.name)
        with self._tokens_lock:
            self._tokens[token] = tenant
            while len(self._tokens) > 1024:
                self._tokens.popitem(last=False)
        return tenant

    def tenants(self) -> list[dict[str, Any]]:
        """Every tenant: ``{"id", "name", "created_at"}`` (no secrets)."""
        with self.db.read() as conn:
            rows = conn.execute(select(tenants.c.id, tenants.c.name, tenants.c.created_at).order_by(tenants.c.created_at))
            return [dict(r._mapping) for r in rows]

