"""Node identities: an Ed25519 key pair per node, join tokens, enrollment records, signed requests.

Every process of a multi-process deployment (the gateway, the substrate, the
vault, each provider) has its own Ed25519 key pair, made at first start in its
data directory (``node-key``, mode 0600, the directory 0700). No secret is
shared between roles: a node knows only public keys of others.

* A node that has not been enrolled yet writes a **join token** to
  ``DIR/join-token`` (0600) and prints it: ``qcj1.<role>.<public key>.<secret>``.
  The operator gives it to the gateway (``qclone providers add ID --node-url URL
  --join TOKEN``, or ``--substrate-join`` / ``--vault-join`` of the gateway).
  The gateway then calls the node's ``POST /v1/enroll`` with its own public key
  and a proof (HMAC of its public key with the token's secret); the node pins
  the gateway's public key (``DIR/enrollment.json``), answers with a signature
  of the gateway's challenge (so the gateway knows it talks to the holder of
  the token's key) and forgets the secret: a join token works once.
* Every later request from the gateway is signed: method, path, the SHA-256 of
  the body, the node it is meant for, a timestamp and a random nonce
  (:func:`sign_request`). The node (:class:`RequestGuard`) accepts only the
  pinned gateway's signature, only within :data:`SKEW_SECONDS` of its own
  clock, never a nonce twice, and never a request signed before it started
  (so a recorded request cannot be replayed after a restart either).
* The vault signs one-time **decryption authorizations** (:func:`issue_grant`):
  the object, the get attempt, a time and a nonce. The substrate decrypts only
  with one (:func:`check_grant`, against the vault's public key the gateway
  handed it at enrollment) and remembers used nonces in its database.
* ``qclone node rotate-key --data-dir DIR`` makes a new key pair and a new join
  token and forgets the enrollment: the node must be enrolled again.

Examples:
    >>> gw, node = Identity.generate(), Identity.generate()
    >>> guard = RequestGuard(node, gateway_key=gw.key_id)
    >>> headers = sign_request(gw, "POST", "/v1/exists", b"{}", audience=node.key_id)
    >>> guard.verify("POST", "/v1/exists", headers, b"{}")
    'gateway'
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import UnauthorizedError

__all__ = [
    "GRANT_SECONDS",
    "NODE_ROLES",
    "SKEW_SECONDS",
    "Identity",
    "JoinToken",
    "NodeKeys",
    "RequestGuard",
    "check_grant",
    "issue_grant",
    "private_dir",
    "sign_request",
    "write_private",
]

#: Roles that run as node processes (the gateway calls them).
NODE_ROLES = ("substrate", "vault", "provider")
#: How far a request's timestamp may be from the node's clock (seconds).
SKEW_SECONDS = 30.0
#: How long a decryption authorization stays valid after the vault issued it (seconds).
GRANT_SECONDS = 300.0
#: Nonces remembered per node at most (a burst beyond this within the skew window is refused).
MAX_NONCES = 1_000_000

H_KEY, H_TIME, H_NONCE, H_SIG = "x-qclone-key", "x-qclone-time", "x-qclone-nonce", "x-qclone-signature"
_TOKEN_PREFIX = "qcj1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str, what: str) -> bytes:
    if not isinstance(text, str) or len(text) > 200:
        raise UnauthorizedError(f"malformed {what}")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise UnauthorizedError(f"malformed {what}") from None


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings (any characters: compared as UTF-8)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically by a 0600 file holding ``text`` (never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@lru_cache(maxsize=256)
def public_key_of(key_id: str) -> Ed25519PublicKey:
    """The public key a key id (its 32 raw bytes, base64url) stands for (parsed once per key)."""
    raw = _unb64(key_id, "public key")
    if len(raw) != 32:
        raise UnauthorizedError("malformed public key")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify(key_id: str, signature: str, message: bytes, what: str) -> None:
    """Raise :class:`UnauthorizedError` unless ``signature`` is ``key_id``'s signature of ``message``."""
    try:
        public_key_of(key_id).verify(_unb64(signature, what), message)
    except InvalidSignature:
        raise UnauthorizedError(f"bad {what}") from None


class Identity:
    """An Ed25519 key pair; ``key_id`` is the public key (32 bytes, base64url)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.key_id = _b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @classmethod
    def generate(cls) -> Identity:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> str:
        return _b64(self._private.sign(message))

    def private_text(self) -> str:
        from cryptography.hazmat.primitives.serialization import (
            NoEncryption,
            PrivateFormat,
        )

        return _b64(self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def from_text(cls, text: str) -> Identity:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def load_or_create(cls, path: Path) -> Identity:
        """The key in ``path`` (made, 0600, in a 0700 directory, if missing)."""
        private_dir(path.parent)
        try:
            return cls.from_text(path.read_text())
        except FileNotFoundError:
            pass
        made = cls.generate()
        try:  # O_EXCL: of two processes starting together, one key wins
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.from_text(path.read_text())
        with os.fdopen(fd, "w") as f:
            f.write(made.private_text() + "\n")
        return made


class JoinToken:
    """``qcj1.<role>.<node public key>.<one-time secret>`` (printed by a node, given to the gateway)."""

    def __init__(self, role: str, key_id: str, secret: str) -> None:
        self.role, self.key_id, self.secret = role, key_id, secret

    def __str__(self) -> str:
        return f"{_TOKEN_PREFIX}.{self.role}.{self.key_id}.{self.secret}"

    @classmethod
    def parse(cls, text: Any, *, role: str | None = None) -> JoinToken:
        parts = text.strip().split(".") if isinstance(text, str) else []
        if len(parts) != 4 or parts[0] != _TOKEN_PREFIX or parts[1] not in NODE_ROLES or not all(parts):
            raise InvalidArgumentError("a join token looks like qcj1.<role>.<key>.<secret> (printed by the node at "
                                       "its first start and kept in its DATA_DIR/join-token)")
        if role is not None and parts[1] != role:
            raise InvalidArgumentError(f"this join token belongs to a {parts[1]} node, not a {role}")
        try:
            public_key_of(parts[2])
        except UnauthorizedError:
            raise InvalidArgumentError("the join token's key is malformed") from None
        return cls(parts[1], parts[2], parts[3])

    def proof(self, gateway_key: str) -> str:
        """What the gateway sends to show it holds the token (the secret itself never travels)."""
        return _b64(hmac.new(self.secret.encode(), f"enroll\n{gateway_key}\n{self.key_id}".encode(),
                             hashlib.sha256).digest())


def enrollment_reply_message(gateway_key: str, challenge: str, node_key: str) -> bytes:
    return f"qclone-enrolled-v1\n{gateway_key}\n{challenge}\n{node_key}".encode()


class NodeKeys:
    """A node's identity and enrollment under its data dir.

    Files: ``node-key`` (the private key), ``join-token`` (while not enrolled),
    ``enrollment.json`` (``{"gateway": key id, "peers": {"vault": key id}}``), all 0600.
    Several worker processes of one node share them: each reads ``enrollment.json`` again
    when it changes, and an enrollment runs under a lock on ``enroll.lock`` with the files read
    afresh (a join token works once across the workers too).
    """

    def __init__(self, data_dir: Path, role: str) -> None:
        if role not in NODE_ROLES:
            raise InvalidArgumentError(f"not a node role: {role!r}")
        self.dir = private_dir(Path(data_dir))
        self.role = role
        self.identity = Identity.load_or_create(self.dir / "node-key")
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # (inode, size, mtime) of enrollment.json read
        self._enrollment = self._read_enrollment()
        self.join_token: JoinToken | None = None
        if self._enrollment is None:
            self.join_token = self._read_or_make_token()

    # -- files
    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.dir / "enrollment.json")
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _read_enrollment(self) -> dict[str, Any] | None:
        self._seen = self._stat()
        try:
            data = json.loads((self.dir / "enrollment.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("gateway"), str) else None

    def _refresh(self) -> None:
        """Read the enrollment again if another process (a worker of this node) changed it."""
        if self._stat() != self._seen:
            with self._lock:
                enrollment = self._read_enrollment()
                if enrollment is not None:
                    self._enrollment, self.join_token = enrollment, None

    def _read_or_make_token(self) -> JoinToken:
        path = self.dir / "join-token"
        try:
            token = JoinToken.parse(path.read_text(), role=self.role)
            if token.key_id == self.identity.key_id:
                return token
        except (FileNotFoundError, InvalidArgumentError):
            pass
        token = JoinToken(self.role, self.identity.key_id, secrets.token_urlsafe(24))
        write_private(path, str(token) + "\n")
        return token

    @staticmethod
    def rotate(data_dir: Path, role: str) -> JoinToken:
        """A new key pair and join token; the enrollment is forgotten (run while the node is stopped)."""
        d = private_dir(Path(data_dir))
        write_private(d / "node-key", Identity.generate().private_text() + "\n")
        (d / "enrollment.json").unlink(missing_ok=True)
        (d / "join-token").unlink(missing_ok=True)
        token = NodeKeys(d, role).join_token
        assert token is not None
        return token

    # -- state
    @property
    def gateway_key(self) -> str | None:
        self._refresh()
        return None if self._enrollment is None else self._enrollment["gateway"]

    def peer(self, role: str) -> str | None:
        """The public key of another node the gateway introduced (the substrate: the vault's)."""
        self._refresh()
        peers = {} if self._enrollment is None else self._enrollment.get("peers") or {}
        value = peers.get(role)
        return value if isinstance(value, str) else None

    def enroll(self, body: Mapping[str, Any], *, signed_by_gateway: bool) -> dict[str, Any]:
        """Handle ``POST /v1/enroll``: with the join token's proof (first enrollment), or signed by
        the pinned gateway (to update the peers). Returns the signed reply."""
        gateway_key, challenge, peers = body.get("gateway_key"), body.get("challenge"), body.get("peers") or {}
        if not isinstance(gateway_key, str) or not isinstance(challenge, str) or len(challenge) > 200 \
                or not isinstance(peers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in peers.items()):
            raise InvalidArgumentError("an enrollment carries gateway_key, challenge and peers")
        public_key_of(gateway_key)
        for value in peers.values():
            public_key_of(value)
        with self._lock, open(self.dir / "enroll.lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
            enrollment = self._read_enrollment()  # as another worker of this node may have left it
            if enrollment is not None:
                self._enrollment, self.join_token = enrollment, None
            if not signed_by_gateway:
                token = self.join_token
                proof = body.get("proof")
                if token is None:
                    raise UnauthorizedError("this node is enrolled already; rotate its key to enroll it again")
                if not isinstance(proof, str) or not _same(proof, token.proof(gateway_key)):
                    raise UnauthorizedError("bad join proof")
            elif self._enrollment is None or gateway_key != self._enrollment["gateway"]:
                raise UnauthorizedError("the gateway's key changes only with a join token")
            self._enrollment = {"gateway": gateway_key, "peers": dict(peers)}
            write_private(self.dir / "enrollment.json", json.dumps(self._enrollment) + "\n")
            self._seen = self._stat()
            if self.join_token is not None:
                (self.dir / "join-token").unlink(missing_ok=True)
                self.join_token = None
        return {"role": self.role, "public_key": self.identity.key_id,
                "signature": self.identity.sign(enrollment_reply_message(gateway_key, challenge, self.identity.key_id))}


def _request_message(method: str, path: str, body: bytes, audience: str, at: str, nonce: str) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"qclone-rpc-v1\n{method}\n{path}\n{audience}\n{at}\n{nonce}\n{digest}".encode()


def sign_request(identity: Identity, method: str, path: str, body: bytes, *, audience: str) -> dict[str, str]:
    """The headers of a signed request to the node whose key id is ``audience``."""
    at, nonce = f"{time.time():.6f}", secrets.token_urlsafe(18)
    return {H_KEY: identity.key_id, H_TIME: at, H_NONCE: nonce,
            H_SIG: identity.sign(_request_message(method, path, body, audience, at, nonce))}


class RequestGuard:
    """Checks the signed requests a node receives (see the module docstring).

    Args:
        identity: the node's own identity (its key id is the audience requests must name).
        gateway_key: the pinned gateway key id, or a callable giving it (None: not enrolled).
    """

    def __init__(self, identity: Identity, *, gateway_key: Any, skew: float = SKEW_SECONDS) -> None:
        self.identity = identity
        self._gateway_key = gateway_key if callable(gateway_key) else (lambda: gateway_key)
        self.skew = float(skew)
        self.started = time.time()
        self._nonces: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
        """The caller's role (``"gateway"``), or :class:`UnauthorizedError`."""
        key, at, nonce, sig = (headers.get(h) for h in (H_KEY, H_TIME, H_NONCE, H_SIG))
        if not (key and at and nonce and sig):
            raise UnauthorizedError("this node answers signed requests only")
        gateway = self._gateway_key()
        if gateway is None:
            raise UnauthorizedError("this node is not enrolled with a gateway yet")
        if not _same(key, gateway):
            raise UnauthorizedError("the request is not signed by this node's gateway")
        try:
            when = float(at)
        except ValueError:
            raise UnauthorizedError("malformed request time") from None
        now = time.time()
        if not abs(now - when) <= self.skew:
            raise UnauthorizedError(f"the request time is more than {self.skew:g} s from the node's clock")
        if when < self.started - 0.001:  # (the time travels rounded to a microsecond)
            raise UnauthorizedError("the request was signed before this node started")
        if len(nonce) > 64:
            raise UnauthorizedError("malformed nonce")
        verify(key, sig, _request_message(method, path, body, self.identity.key_id, at, nonce), "request signature")
        with self._lock:
            while self._nonces and next(iter(self._nonces.values())) < now - 2 * self.skew:
                self._nonces.popitem(last=False)
            if nonce in self._nonces:
                raise UnauthorizedError("replayed request")
            if len(self._nonces) >= MAX_NONCES:
                raise UnauthorizedError("too many requests within the replay window")
            self._nonces[nonce] = max(now, when)
        return "gateway"


# ---------------------------------------------------------------------- decryption authorizations
def _grant_message(object_id: str, attempt: str, at: float, nonce: str, purpose: str = "decrypt") -> bytes:
    return f"qclone-{purpose}-v1\n{object_id}\n{attempt}\n{at!r}\n{nonce}".encode()


def issue_grant(vault: Identity, object_id: str, attempt: str, *, purpose: str = "decrypt") -> dict[str, Any]:
    """A one-time authorization, signed by the vault, to decrypt ``object_id`` for ``attempt``
    (``purpose`` ``apply``: a holder's receipt of its part of a logical gate, ``attempt`` naming the
    gate and the digest of its local gates; a receipt never passes for a decryption's release)."""
    at, nonce = time.time(), secrets.token_urlsafe(18)
    return {"object_id": object_id, "attempt": attempt, "issued_at": at, "nonce": nonce, "vault": vault.key_id,
            "signature": vault.sign(_grant_message(object_id, attempt, at, nonce, purpose))}


def check_grant(grant: Any, vault_key: str | None, object_id: str, attempt: str, *,
                lifetime: float = GRANT_SECONDS, purpose: str = "decrypt") -> str:
    """The grant's nonce if ``grant`` authorizes this decryption; else :class:`UnauthorizedError`.

    The caller must also refuse a nonce it has seen before (the substrate records them)."""
    if vault_key is None:
        raise UnauthorizedError("the substrate knows no vault key: enroll it through the gateway after the vault")
    if not isinstance(grant, dict):
        raise UnauthorizedError("a decryption needs the vault's authorization")
    at, nonce, signature = grant.get("issued_at"), grant.get("nonce"), grant.get("signature")
    if not (isinstance(at, float) and isinstance(nonce, str) and 0 < len(nonce) <= 64 and isinstance(signature, str)):
        raise UnauthorizedError("malformed decryption authorization")
    if grant.get("object_id") != object_id or grant.get("attempt") != attempt:
        raise UnauthorizedError("the vault's authorization is for another object or attempt")
    if not _same(str(grant.get("vault")), vault_key):
        raise UnauthorizedError("the authorization is not signed by this deployment's vault")
    verify(vault_key, signature, _grant_message(object_id, attempt, at, nonce, purpose), "decryption authorization")
    if not -SKEW_SECONDS <= time.time() - at <= lifetime:
        raise UnauthorizedError("the vault's authorization has expired")
    return nonce
