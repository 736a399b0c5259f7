"""Dashboard sessions: an encrypted session cookie, CSRF tokens and durable sign-out.

The cookie holds ``{sid, token, admin, expires}`` encrypted and authenticated with AES-GCM
under a server key (``DIR/ui-secret``, mode 0600, made on first use; a process without a data
dir makes a fresh key in memory). So the cookie is opaque: the browser never holds the raw token
in plain, and a cookie changed by one bit is refused. Every request decrypts it and then
authenticates the token it carries with the SAME call the JSON API makes (the tenant's
``service.authenticate`` or the admin-token check), so a tenant whose token is gone loses its
pages at once.

Sign-out records the session id as revoked until the session would have expired, in the
metadata database (table ``ui_revoked_sessions``: shared by every gateway of that database, so a
sign-out at one gateway holds at all of them; several gateways also share ``DIR/ui-secret``, see
:data:`qclone.storage.server.GATEWAY_SHARED_FILES`). Without a database: in
``DIR/ui-sessions.sqlite3`` (shared by the worker processes of one data dir), or in memory without
a data dir. A copy of the cookie is worth nothing afterwards, also after a restart. Revocations an
earlier version kept in ``DIR/ui-sessions.sqlite3`` are moved into the database on first start.

CSRF: every form carries ``csrf_token`` = HMAC(key, "csrf:" + sid) (the synchronizer token of
the session); the sign-in form, which has no session yet, carries HMAC(key, "login:" + nonce)
with the nonce in its own short-lived HttpOnly cookie (a login-CSRF guard). Cookies are
``HttpOnly; SameSite=Strict; Path=/ui`` (``Secure`` under TLS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["COOKIE", "LOGIN_COOKIE", "SESSION_SECONDS", "Session", "SessionKeeper"]

#: Name of the session cookie.
COOKIE = "qclone_ui"
#: Name of the sign-in form's nonce cookie.
LOGIN_COOKIE = "qclone_ui_login"
#: A session lasts this long from sign-in (then the user signs in again).
SESSION_SECONDS = 8 * 3600
_AAD = b"qclone-ui-session-1"
_MAX_COOKIE = 4096


@dataclass(frozen=True)
class Session:
    """A decrypted session: its id, the token it signed in with, whether that is the admin token."""

    sid: str
    token: str
    admin: bool
    expires: float


class SessionKeeper:
    """Makes and reads session cookies; remembers revoked sessions (see the module docstring)."""

    def __init__(self, state_dir: str | Path | None = None, *, clock: object = time.time, database: Any = None) -> None:
        """``state_dir``: where ``ui-secret`` is (None: a key in memory); ``database``: the metadata
        :class:`~qclone.storage.db.Database` that keeps the revocations (None: a file in
        ``state_dir``, or memory)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._revoked_mem: dict[str, float] = {}
        self._db: Path | None = None
        self._meta = database
        if state_dir is None:
            self._key = AESGCM.generate_key(bit_length=256)
        else:
            d = Path(state_dir)
            d.mkdir(parents=True, exist_ok=True)
            self._key = _load_or_create_key(d / "ui-secret")
            if database is not None:
                self._import_legacy(d / "ui-sessions.sqlite3")
            else:
                self._db = d / "ui-sessions.sqlite3"
                with self._connect() as conn:
                    conn.execute("CREATE TABLE IF NOT EXISTS revoked (sid TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID")
        self._aead = AESGCM(self._key)

    def _import_legacy(self, path: Path) -> None:
        """Move the unexpired revocations of an earlier version's ``ui-sessions.sqlite3`` into the
        database, then remove the file (with its -wal and -shm)."""
        if not path.exists():
            return
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
            try:
                rows = conn.execute("SELECT sid, until FROM revoked WHERE until > ?", (self._now(),)).fetchall()
            finally:
                conn.close()
        except sqlite3.Error:  # gone meanwhile (another worker moved it), or never had the table
            rows = []
        for sid, until in rows:
            self._revoke_in_db(str(sid), float(until))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def _revoke_in_db(self, sid: str, until: float) -> None:
        from sqlalchemy import delete
        from sqlalchemy.dialects import postgresql, sqlite

        from qclone.storage.models import ui_revoked_sessions as table

        insert = postgresql.insert if self._meta.dialect == "postgresql" else sqlite.insert
        with self._meta.write() as conn:
            conn.execute(insert(table).values(sid=sid, until=until).on_conflict_do_nothing(index_elements=["sid"]))
            conn.execute(delete(table).where(table.c.until <= self._now()))

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]  # a callable clock

    def _connect(self) -> sqlite3.Connection:
        assert self._db is not None
        conn = sqlite3.connect(self._db, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    # ------------------------------------------------------------------ cookies
    def issue(self, token: str, *, admin: bool) -> tuple[Session, str]:
        """A new session for ``token`` and its cookie value."""
        session = Session(secrets.token_hex(16), token, bool(admin), self._now() + SESSION_SECONDS)
        plain = json.dumps({"sid": session.sid, "tok": session.token, "adm": session.admin,
                            "exp": session.expires}).encode()
        nonce = os.urandom(12)
        value = base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plain, _AAD)).decode().rstrip("=")
        return session, value

    def read(self, value: str | None) -> Session | None:
        """The session of a cookie value; None if missing, forged, expired or signed out."""
        if not value or len(value) > _MAX_COOKIE:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:12], raw[12:], _AAD)
            doc = json.loads(plain)
            session = Session(str(doc["sid"]), str(doc["tok"]), bool(doc["adm"]), float(doc["exp"]))
        except (ValueError, InvalidTag, KeyError, TypeError):
            return None
        if session.expires <= self._now() or self.revoked(session.sid):
            return None
        return session

    # ------------------------------------------------------------------ CSRF
    def _mac(self, what: str) -> str:
        return hmac.new(self._key, what.encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, session: Session) -> str:
        """The CSRF token every form of this session carries."""
        return self._mac(f"csrf:{session.sid}")

    def check_csrf(self, session: Session, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(self.csrf_token(session), token)

    def login_nonce(self) -> tuple[str, str]:
        """``(nonce for the sign-in cookie, token for the sign-in form)``."""
        nonce = secrets.token_hex(16)
        return nonce, self._mac(f"login:{nonce}")

    def check_login(self, nonce: object, token: object) -> bool:
        return (isinstance(nonce, str) and isinstance(token, str) and len(nonce) <= 64
                and hmac.compare_digest(self._mac(f"login:{nonce}"), token))

    # ------------------------------------------------------------------ sign-out
    def revoke(self, session: Session) -> None:
        """Sign a session out for good (durably with a data dir)."""
        now = self._now()
        if self._meta is not None:
            self._revoke_in_db(session.sid, session.expires)
            return
        if self._db is None:
            with self._lock:
                self._revoked_mem[session.sid] = session.expires
                for sid in [s for s, until in self._revoked_mem.items() if until <= now]:
                    del self._revoked_mem[sid]
            return
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO revoked (sid, until) VALUES (?, ?)", (session.sid, session.expires))
            conn.execute("DELETE FROM revoked WHERE until <= ?", (now,))

    def revoked(self, sid: str) -> bool:
        if self._meta is not None:
            from sqlalchemy import select

            from qclone.storage.models import ui_revoked_sessions as table

            with self._meta.read() as conn:
                return conn.execute(select(table.c.sid).where(table.c.sid == sid)).first() is not None
        if self._db is None:
            with self._lock:
                return sid in self._revoked_mem
        conn = self._connect()
        try:
            return conn.execute("SELECT 1 FROM revoked WHERE sid = ?", (sid,)).fetchone() is not None
        finally:
            conn.close()


def _load_or_create_key(path: Path) -> bytes:
    """32 random bytes in ``path`` (0600), written once (a concurrent worker's file wins)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    if len(data) != 32:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process made it first: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        data = path.read_bytes()
    return data
