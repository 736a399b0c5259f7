"""``qclone serve``: the embedded default or one component of a multi-process deployment.

* ``embedded`` (default): gateway, substrate, vault and providers in one
  process, everything under the data dir (``DIR/gateway.sqlite3``, the
  substrate's, vault's and providers' files). On first start it creates the
  tenant ``default`` and writes its token to ``DIR/token`` (mode 0600), an
  admin token to ``DIR/admin-token`` (mode 0600) and four providers
  ``p1`` .. ``p4`` in zones ``zone-1`` .. ``zone-4``.
* ``gateway``: the gateway only; ``--substrate URL`` and ``--vault URL`` name
  the node processes, enrolled once with the join tokens they printed
  (``--substrate-join``, ``--vault-join``; the gateway remembers their keys in
  ``DIR/nodes.json``); providers are added with ``qclone providers add ID
  --node-url URL --join TOKEN``; the metadata database is ``--db URL`` or
  SQLite in the data dir. Tokens are written as in the embedded mode; the
  gateway's own key is ``DIR/gateway-key`` (0600).
* ``substrate``, ``vault``, ``provider``: one node app
  (:func:`qclone.storage.nodes.build_node`) over the local class, its files
  and its key in the data dir; until enrolled it prints its join token.

With ``--workers N`` (gateway, embedded and substrate) N uvicorn worker
processes share the port; each opens the same database, whose compare-and-set
decides every state change, so exactly-once holds across workers. With N > 1
and no ``--substrate`` URL every worker runs the whole service in process, its
substrate opened with ``shared=True`` on the one substrate file (existence and
outputs read from the file, a decryption commits only if it deleted the joint
state itself); the vault's and providers' records are SQLite files that
several processes may share. The start-up recovery runs once, in the parent,
before the workers start.

Several gateways serve one service when the metadata is in PostgreSQL: each
has its own data dir holding only :data:`GATEWAY_SHARED_FILES`, copied from the
first gateway's (:func:`copy_gateway_files`); everything else is in the
database, the dashboard's sign-outs included. On PostgreSQL the start-up
recovery takes over only what the leases say was abandoned (other gateways may
be serving); on a SQLite file, everything. ``qclone cluster up`` starts such a
service on one machine (:class:`qclone.storage.launcher.Cluster`).

The substrate's state lives in PostgreSQL when ``--db`` is a PostgreSQL URL:
for the substrate node (``--role substrate --db URL``: its key stays in its
data dir) and for the substrate in process of an embedded server or a gateway
(with the metadata, in the schema :mod:`qclone.storage.pgstore` names; a
substrate file from before that already holds objects stays in use). Any
number of substrate processes, on any machines, may then serve the same
objects (each opened shared).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qclone.errors import InvalidArgumentError

__all__ = ["GATEWAY_SHARED_FILES", "ROLES", "ServeOptions", "build_app", "copy_gateway_files", "create_tenant_in",
           "make_private", "serve"]

ROLES = ("embedded", "gateway", "substrate", "vault", "provider")
#: Name of the first tenant an embedded server or gateway creates.
FIRST_TENANT = "default"
_OPTIONS_ENV = "QCLONE_SERVE_OPTIONS"


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``qclone serve`` takes (see the module docstring)."""

    role: str = "embedded"
    data_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8470
    db_url: str | None = None
    substrate_url: str | None = None
    vault_url: str | None = None
    provider_id: str | None = None
    zone: str = "zone-a"
    t1: float = 3600.0
    t2: float = 3600.0
    substrate_join: str | None = None
    vault_join: str | None = None
    settable_clock: bool = False
    workers: int = 1
    log_level: str = "warning"
    max_body_bytes: int = 4 * 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    lease_seconds: float = 60.0
    retention_seconds: float = 86400.0
    reconcile_interval: float = 2.0
    #: key holders beside the vault: ``KIND:ID`` (embedded in the gateway) or ``KIND:ID=URL`` (a vault
    #: node process, enrolled once with its join token in :attr:`holder_joins` as ``ID=TOKEN``)
    holders: tuple[str, ...] = ()
    holder_joins: tuple[str, ...] = ()

    def checked(self) -> ServeOptions:
        if self.role not in ROLES:
            raise InvalidArgumentError(f"unknown role {self.role!r}; choose one of {', '.join(ROLES)}")
        if not 0 <= self.port <= 65535:
            raise InvalidArgumentError(f"--port must be between 0 and 65535, got {self.port}")
        if self.workers < 1:
            raise InvalidArgumentError(f"--workers must be >= 1, got {self.workers}")
        for value, what in ((self.lease_seconds, "--lease"), (self.retention_seconds, "--retention"),
                            (self.reconcile_interval, "the reconciler's interval")):
            if not (isinstance(value, (int, float)) and 0 < value < 1e9):
                raise InvalidArgumentError(f"{what} must be a number of seconds > 0, got {value!r}")
        if self.workers > 1 and self.role not in ("embedded", "gateway", "substrate"):
            raise InvalidArgumentError("--workers applies to the embedded server, the gateway and the substrate node only")
        if self.db_url and self.role in ("vault", "provider"):
            raise InvalidArgumentError(f"--db is an option of the gateway, the embedded server and the substrate node, "
                                       f"not of a {self.role} node (its records stay in its data dir)")
        if self.db_url and self.role == "substrate":
            from qclone.storage.pgstore import is_postgres_url

            if not is_postgres_url(self.db_url):
                raise InvalidArgumentError("a substrate node's --db is a PostgreSQL URL (postgresql://user@host:port/db); "
                                           "without it the substrate keeps its state in its data dir")
        if self.role == "provider" and not self.provider_id:
            raise InvalidArgumentError("a provider node needs --id")
        if self.role not in ("embedded", "gateway") and (self.substrate_url or self.vault_url):
            raise InvalidArgumentError("--substrate and --vault are options of the gateway (and the embedded server)")
        if (self.substrate_join and not self.substrate_url) or (self.vault_join and not self.vault_url):
            raise InvalidArgumentError("--substrate-join / --vault-join go with --substrate URL / --vault URL")
        if self.holders and self.role not in ("embedded", "gateway"):
            raise InvalidArgumentError("--holder is an option of the gateway (and the embedded server)")
        self.holder_specs()
        if self.max_body_bytes < 1024:
            raise InvalidArgumentError(f"--max-body-bytes must be >= 1024, got {self.max_body_bytes}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InvalidArgumentError("--tls-cert and --tls-key go together")
        for flag, path in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key)):
            if path is not None and not Path(path).is_file():
                raise InvalidArgumentError(f"{flag}: no such file {str(path)!r}")
        if self.tls_cert is not None:
            import ssl

            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.tls_cert, self.tls_key)
            except (ssl.SSLError, OSError) as e:
                raise InvalidArgumentError(f"--tls-cert / --tls-key: not a PEM certificate and its key ({e})") from None
        data_dir = Path(self.data_dir if self.data_dir is not None else "qclone-data").resolve()
        return dataclasses.replace(self, data_dir=data_dir)

    def holder_specs(self) -> list[tuple[str, str, str | None, str | None]]:
        """``(kind, id, url or None, join token or None)`` of every ``--holder``."""
        joins: dict[str, str] = {}
        for item in self.holder_joins:
            hid, sep, token = str(item).partition("=")
            if not sep or not hid or not token:
                raise InvalidArgumentError(f"--holder-join takes ID=TOKEN, got {item!r}")
            joins[hid] = token
        out = []
        for spec in self.holders:
            kind, sep, rest = str(spec).partition(":")
            hid, _, url = rest.partition("=")
            if not sep or kind not in ("vault", "custodian") or not hid:
                raise InvalidArgumentError(f"--holder takes vault:ID or custodian:ID (=URL of a vault node), got {spec!r}")
            out.append((kind, hid, url or None, joins.get(hid)))
        unknown = sorted(set(joins) - {h for _, h, _, _ in out})
        if unknown:
            raise InvalidArgumentError(f"--holder-join names no --holder: {', '.join(unknown)}")
        return out

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    def to_env(self) -> str:
        return json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def from_env(cls, text: str) -> ServeOptions:
        raw = json.loads(text)
        for key in ("data_dir", "tls_cert", "tls_key"):
            raw[key] = Path(raw[key]) if raw.get(key) else None
        for key in ("holders", "holder_joins"):
            raw[key] = tuple(raw.get(key) or ())
        return cls(**raw)


#: The files of a gateway's data dir that every gateway of one service shares, copied from the first
#: gateway's data dir into each new gateway's before it starts (as one copies a TLS key to a new
#: machine; mode 0600): ``gateway-key`` (the gateway's node identity: the substrate, the vault, the
#: providers and the holders pinned its public key when they were enrolled), ``nodes.json`` (the node
#: keys the gateway pinned), ``admin-token``, ``ui-secret`` (the dashboard's cookie key: a session
#: signed in at one gateway is valid at every other) and ``token`` (the first tenant's token, a
#: convenience). Everything else a gateway needs is in the metadata database.
GATEWAY_SHARED_FILES = ("gateway-key", "nodes.json", "admin-token", "ui-secret", "token")


def copy_gateway_files(source: Path, target: Path) -> list[str]:
    """Copy :data:`GATEWAY_SHARED_FILES` from the data dir ``source`` of a gateway that has run once
    into the data dir ``target`` of another gateway of the same service (0600, each replaced
    atomically); the names copied. ``gateway-key``, ``nodes.json`` and ``admin-token`` must exist."""
    from qclone.storage.rpc.keys import write_private

    copied = []
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in GATEWAY_SHARED_FILES:
        try:
            text = (source / name).read_bytes()
        except FileNotFoundError:
            if name in ("gateway-key", "nodes.json", "admin-token"):
                raise InvalidArgumentError(f"{source} holds no {name}: start its gateway once (enrolled with its "
                                           "nodes) before copying its files to another gateway") from None
            continue
        if name == "ui-secret":  # 32 raw bytes
            tmp = target / f".{name}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target / name)
        else:
            write_private(target / name, text.decode())
        copied.append(name)
    return copied


def make_private(data_dir: Path) -> None:
    """Files in the data dir readable by their owner only: the umask 077 for everything this
    process creates from now on (SQLite's -wal/-shm files included), and mode 0700 / 0600 for
    what an earlier version left wider (symbolic links are left alone)."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(data_dir):
        for name, mode in [(d, 0o700) for d in dirs] + [(f, 0o600) for f in files] + [(".", 0o700)]:
            path = os.path.join(root, name)
            try:
                if not os.path.islink(path) and stat.S_IMODE(os.lstat(path).st_mode) != mode:
                    os.chmod(path, mode)
            except FileNotFoundError:
                pass  # removed meanwhile


def _write_secret(path: Path, value: str) -> None:
    """Write a token readable by its owner only (0600 from the start, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def admin_token_of(data_dir: Path) -> str:
    """The admin token in ``DIR/admin-token``, created (0600) on first use."""
    path = data_dir / "admin-token"
    token = _read_secret(path)
    if token is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            _write_secret(path, secrets.token_urlsafe(32))
        except FileExistsError:
            pass  # another worker won the race
        token = _read_secret(path)
    assert token is not None
    return token


# ---------------------------------------------------------------------- building the parts
#: Providers an embedded server creates on first start (so that n = 4 works at once).
EMBEDDED_PROVIDERS = (("p1", "zone-1"), ("p2", "zone-2"), ("p3", "zone-3"), ("p4", "zone-4"))


def _clock(opts: ServeOptions) -> Any:
    from qclone.storage.clock import SettableClock, SystemClock

    assert opts.data_dir is not None
    return SettableClock(opts.data_dir / "clock") if opts.settable_clock else SystemClock()


def gateway_identity(data_dir: Path) -> Any:
    """The gateway's own key pair (``DIR/gateway-key``, 0600): it signs every call to a node."""
    from qclone.storage.rpc.keys import Identity

    return Identity.load_or_create(data_dir / "gateway-key")


def provider_directory(data_dir: Path, identity: Any = None, *, opts: ServeOptions | None = None, db: Any = None) -> Any:
    """Providers: a :class:`~qclone.storage.remote.RemoteProvider` for a record with a url (calls
    signed with the gateway's ``identity``), else an embedded
    :class:`~qclone.storage.provider.ProviderNode` under ``DIR/providers/<id>``.

    With ``opts`` naming a substrate node (which checks every release), embedded providers sign
    their releases with the gateway's key, and every provider added is introduced to the
    substrate (its key, or the gateway's, as the peer ``provider:ID``): with the metadata ``db``, the
    substrate is handed every provider the database knows, so that what another gateway of the same
    database added is never dropped from the substrate's peers by this one."""
    from qclone.storage.provider import ProviderNode
    from qclone.storage.remote import RemoteProvider, enroll
    from qclone.storage.service import ProviderDirectory

    made: list[Any] = [] if identity is None else [identity]

    def me() -> Any:  # made on first need: an embedded server with no provider node has no key
        if not made:
            made.append(gateway_identity(data_dir))
        return made[0]

    def factory(record: Any) -> Any:
        if record.get("url"):
            if not record.get("public_key"):
                raise InvalidArgumentError(f"provider {record['id']} has no enrolled key: add it again with its join token")
            return RemoteProvider(record["url"], identity=me(), node_key=record["public_key"])
        signs = opts is not None and opts.substrate_url is not None
        return ProviderNode(record["id"], data_dir / "providers" / record["id"], zone=record["zone"],
                            t1=record["t1"], t2=record["t2"], issuer=me() if signs else None)

    def enroll_provider(url: str, join: str | None) -> str:
        if not join:
            raise InvalidArgumentError("a provider node is added with its join token (--join TOKEN: printed by "
                                       "the node at its first start, also in its DATA_DIR/join-token)")
        return enroll(url, join, me(), role="provider")

    def introduce(provider_id: str, public_key: str | None) -> None:
        if opts is not None and opts.substrate_url:
            known: dict[str, str | None] = {}
            if db is not None:
                from sqlalchemy import select

                from qclone.storage.models import providers

                with db.read() as conn:
                    known = {r.id: r.public_key for r in conn.execute(select(providers.c.id, providers.c.public_key))}
            known[provider_id] = public_key
            add_substrate_peers(opts, me(), {f"provider:{pid}": key or me().key_id for pid, key in known.items()})

    return ProviderDirectory(factory, enroll=enroll_provider, introduce=introduce)


def add_substrate_peers(opts: ServeOptions, identity: Any, extra: dict[str, str]) -> None:
    """Hand the substrate node more peers' keys (a provider added), keeping those it has."""
    from qclone.storage.remote import enroll
    from qclone.storage.rpc.keys import write_private

    assert opts.data_dir is not None
    path = opts.data_dir / "nodes.json"
    pins: dict[str, Any] = json.loads(path.read_text())
    pinned = pins["substrate"]
    peers = {**pinned.get("peers", {}), **extra}
    if peers != pinned.get("peers", {}):
        enroll(pinned["url"], pinned["public_key"], identity, role="substrate", peers=peers, signed=True)
        pins["substrate"] = {**pinned, "peers": peers}
        write_private(path, json.dumps(pins, indent=1) + "\n")


def enrolled_nodes(opts: ServeOptions, identity: Any, providers: dict[str, str | None] | None = None) -> dict[str, str]:
    """The public keys of the substrate and vault nodes the gateway calls (``{"substrate", "vault"}``,
    for those given by URL): enrolled now with their join tokens, or as enrolled before
    (``DIR/nodes.json``). The substrate is handed the vault's key (or, with the vault in
    process, the gateway's, which then signs the authorizations)."""
    from qclone.storage.remote import enroll
    from qclone.storage.rpc.keys import JoinToken, write_private

    assert opts.data_dir is not None
    path = opts.data_dir / "nodes.json"
    try:
        pins: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        pins = {}
    keys: dict[str, str] = {}
    changed = False
    nodes: list[tuple[str, str, str | None, str | None, str]] = [
        (f"holder:{hid}", "vault", url, join, f"--holder-join {hid}=TOKEN")
        for _, hid, url, join in opts.holder_specs() if url]
    nodes += [("vault", "vault", opts.vault_url, opts.vault_join, "--vault-join TOKEN"),
              ("substrate", "substrate", opts.substrate_url, opts.substrate_join, "--substrate-join TOKEN")]
    for name, role, url, join, flag in nodes:
        if not url:
            continue
        pinned = pins.get(name) if isinstance(pins.get(name), dict) and pins[name].get("url") == url else None
        peers: dict[str, str] = {}
        if role == "substrate":  # the keys it checks releases with: the vault's and every other holder's
            peers = {"vault": keys.get("vault", identity.key_id)}
            peers |= {f"holder:{hid}": keys.get(f"holder:{hid}", identity.key_id) for _, hid, _, _ in opts.holder_specs()}
            # and every provider's (embedded ones sign with the gateway's key)
            peers |= {f"provider:{pid}": key or identity.key_id for pid, key in (providers or {}).items()}
        if join and (pinned is None or JoinToken.parse(join, role=role).key_id != pinned.get("public_key")):
            pinned = {"url": url, "public_key": enroll(url, join, identity, role=role, peers=peers), "peers": peers}
            changed = True
        elif pinned is None:
            raise InvalidArgumentError(f"the {name} at {url} is not enrolled with this gateway: give {flag} "
                                       f"(printed by the node at its first start, also in its DATA_DIR/join-token)")
        elif pinned.get("peers", {}) != peers:  # the vault or a holder changed: tell the substrate their keys
            enroll(url, pinned["public_key"], identity, role=role, peers=peers, signed=True)
            pinned = {**pinned, "peers": peers}
            changed = True
        pins[name] = pinned
        keys[name] = pinned["public_key"]
    if changed:
        write_private(path, json.dumps(pins, indent=1) + "\n")
    return keys


def build_service(opts: ServeOptions, *, clock: Any = None, recover: bool = True) -> Any:
    """The :class:`~qclone.storage.service.StorageService` of an embedded server or a gateway:
    remote substrate / vault where their URLs are given (enrolled, see :func:`enrolled_nodes`),
    the local classes under the data dir otherwise."""
    from qclone.storage.db import Database
    from qclone.storage.remote import RemoteSubstrate, RemoteVault
    from qclone.storage.service import StorageService

    data_dir = opts.data_dir
    assert data_dir is not None
    remote_holders = any(url for _, _, url, _ in opts.holder_specs())
    identity = gateway_identity(data_dir) if opts.substrate_url or opts.vault_url or remote_holders else None
    db = Database.open(opts.db_url, data_dir=data_dir)
    known: dict[str, str | None] = {}
    if opts.substrate_url:  # the substrate checks each provider's release: it gets every provider's key
        from sqlalchemy import select

        from qclone.storage.models import providers

        with db.read() as conn:
            known = {r.id: r.public_key for r in conn.execute(select(providers.c.id, providers.c.public_key))}
    keys = enrolled_nodes(opts, identity, known) if identity is not None else {}
    if opts.substrate_url:
        assert identity is not None
        substrate: Any = RemoteSubstrate(opts.substrate_url, identity=identity, node_key=keys["substrate"])
    else:
        substrate = local_substrate(opts)
    if opts.vault_url:
        assert identity is not None
        vault: Any = RemoteVault(opts.vault_url, identity=identity, node_key=keys["vault"])
    else:
        from qclone.storage.vault import KeyVault

        # with a remote substrate, the vault in process signs its authorizations with the gateway's key
        vault = KeyVault(data_dir / "vault", t1=opts.t1, t2=opts.t2, issuer=identity if opts.substrate_url else None)
    service = StorageService(db, substrate, vault, provider_directory(data_dir, identity, opts=opts, db=db),
                             clock if clock is not None else _clock(opts), lease_seconds=opts.lease_seconds,
                             retention_seconds=opts.retention_seconds, recover=False,
                             holders=holder_directory(opts, identity if opts.substrate_url else None, keys))
    if recover:
        # On PostgreSQL other gateways may be serving the same objects right now: the start-up
        # recovery takes over only what their leases say was abandoned (as the reconciler does),
        # never a get or a put another gateway is running (a client's retry with its key takes
        # over its own get at once). A SQLite file has one gateway, which is not serving yet.
        service.recover(expired_only=db.dialect == "postgresql")
    return service


def local_substrate(opts: ServeOptions) -> Any:
    """The in-process substrate of an embedded server or a gateway: its state in PostgreSQL when
    the metadata database is PostgreSQL (shared by every process that opens it), else the SQLite
    file ``DIR/substrate/substrate.sqlite3`` (shared by the workers with ``--workers N``). A
    substrate file that already holds objects stays in use (the state it holds is never left
    behind by a new ``--db``)."""
    from qclone.storage.pgstore import is_postgres_url
    from qclone.storage.substrate import Substrate, has_local_state

    assert opts.data_dir is not None
    where = opts.data_dir / "substrate"
    if is_postgres_url(opts.db_url) and not has_local_state(where):
        return Substrate(where, db_url=opts.db_url, in_process=True)
    return Substrate(where, shared=opts.workers > 1, in_process=True)


def holder_directory(opts: ServeOptions, identity: Any, keys: dict[str, str]) -> Any:
    """Key holders: a :class:`~qclone.storage.remote.RemoteVault` for a record with a url (its key
    pinned at enrollment), else an embedded :class:`~qclone.storage.vault.KeyVault` under
    ``DIR/holders/<id>`` (signing its releases with the gateway's ``identity`` when the substrate
    is a node that checks them)."""
    from qclone.storage.remote import RemoteVault
    from qclone.storage.service import HolderDirectory
    from qclone.storage.vault import KeyVault

    assert opts.data_dir is not None
    data_dir = opts.data_dir

    def factory(record: Any) -> Any:
        if record.get("url"):
            key = keys.get(f"holder:{record['id']}")
            if key is None:
                raise InvalidArgumentError(f"holder {record['id']} at {record['url']} is not enrolled: start the gateway "
                                           f"with --holder {record['kind']}:{record['id']}={record['url']} and its join token")
            return RemoteVault(record["url"], identity=gateway_identity(data_dir), node_key=key)
        return KeyVault(data_dir / "holders" / record["id"], t1=record["t1"], t2=record["t2"], issuer=identity)

    return HolderDirectory(factory)


def first_start(service: Any, opts: ServeOptions) -> None:
    """On first start: the tenant ``default`` with its token in ``DIR/token`` (0600), and in the
    embedded mode four providers in four zones."""
    assert opts.data_dir is not None
    token = service.first_tenant(FIRST_TENANT)
    if token is not None:
        path = opts.data_dir / "token"
        path.unlink(missing_ok=True)  # a stale file from an earlier database
        _write_secret(path, token)
    if opts.role == "embedded" and not service.providers_list():
        for provider_id, zone in EMBEDDED_PROVIDERS:
            service.providers_add(provider_id, zone=zone, actor="system")
    for kind, holder_id, url, _ in opts.holder_specs():  # every start: a no-op for a holder registered before
        service.holders_add(holder_id, kind, url=url, actor="system")


def warm_up() -> None:
    """See :func:`qclone.storage.service.warm_up` (run before a thread pool serves requests)."""
    from qclone.storage.service import warm_up as service_warm_up

    service_warm_up()


def _gateway_app(opts: ServeOptions, *, recover: bool, reconcile: bool = True) -> Any:
    from qclone.storage.api import create_app

    assert opts.data_dir is not None
    warm_up()
    clock = _clock(opts)
    service = build_service(opts, clock=clock, recover=recover)
    first_start(service, opts)
    # recovery runs continuously, not only at start: expired leases, retention, missed discards
    if reconcile:
        service.start_reconciler(opts.reconcile_interval)
    return create_app(service, admin_token=admin_token_of(opts.data_dir),
                      clock=clock if opts.settable_clock else None, max_body_bytes=opts.max_body_bytes,
                      ui_state_dir=str(opts.data_dir), secure_cookies=opts.tls_cert is not None)


def build_app(opts: ServeOptions, *, recover: bool = True, reconcile: bool = True) -> Any:
    """The ASGI app of one role (for the embedded server and the gateway: with its service)."""
    from qclone.storage import nodes

    opts = opts.checked()
    data_dir = opts.data_dir
    assert data_dir is not None
    if opts.role in ("substrate", "vault", "provider"):
        if opts.role == "substrate":
            warm_up()
        return nodes.build_node(opts.role, data_dir, provider_id=opts.provider_id, zone=opts.zone, t1=opts.t1, t2=opts.t2,
                                db_url=opts.db_url, shared=opts.workers > 1)
    return _gateway_app(opts, recover=recover, reconcile=reconcile)


def _worker_app() -> Any:
    """uvicorn's app factory in a worker process (options from the environment). Workers do not
    run the start-up recovery (the parent did, before they started): recovering an object
    another worker is retrieving right now would undo its claim under it."""
    os.umask(0o077)
    opts = ServeOptions.from_env(os.environ[_OPTIONS_ENV])
    _log_to_stderr(opts.log_level)
    app = build_app(opts, recover=False)
    if opts.role not in ("embedded", "gateway"):  # as serve() does for one process
        from qclone.storage.api import RequestGuard

        app = RequestGuard(app, max_body_bytes=opts.max_body_bytes)
    return app


def create_tenant_in(data_dir: Path | None, name: str, *, db_url: str | None = None) -> dict:
    """Create a tenant directly in a server's database (``qclone tenant create --data-dir``);
    works while the server runs (the database arbitrates). The data dir must exist and, without
    ``db_url``, hold the server's SQLite database: a mistyped directory never gets a new one.
    """
    from qclone.storage.db import DEFAULT_DB_FILE, Database
    from qclone.storage.service import StorageService

    if data_dir is not None:
        if not data_dir.exists():
            raise InvalidArgumentError(f"--data-dir {str(data_dir)!r} does not exist")
        if not data_dir.is_dir():
            raise InvalidArgumentError(f"--data-dir {str(data_dir)!r} exists and is not a directory")
        if db_url is None and not (data_dir / DEFAULT_DB_FILE).is_file():
            raise InvalidArgumentError(f"--data-dir {str(data_dir)!r} is not a storage gateway's data directory (no "
                                       f"{DEFAULT_DB_FILE}; start `qclone serve --data-dir DIR` once, or give --db URL)")

    opts = ServeOptions(data_dir=data_dir, db_url=db_url).checked()
    umask = os.umask(0o077)  # what this opens in the data dir (SQLite's -wal/-shm files) is the owner's only, as the server's
    try:
        db = Database.open(opts.db_url, data_dir=opts.data_dir)
        try:
            # tenants need neither substrate, vault nor providers: none is opened
            service = StorageService(db, None, None, None, _clock(opts), recover=False)  # type: ignore[arg-type]  # a gateway without local nodes
            return {"tenant": name, "token": service.create_tenant(name)}
        finally:
            db.dispose()
    finally:
        os.umask(umask)


def _announce(opts: ServeOptions) -> None:
    """One line on stderr: what listens where, and where the tokens are."""
    where = f"{opts.scheme}://{opts.host}:{opts.port}"
    what = {"embedded": "the storage service (embedded)", "gateway": "the storage gateway"}.get(opts.role, f"a {opts.role} node")
    extra = ""
    assert opts.data_dir is not None
    if opts.role in ("embedded", "gateway"):
        extra = f"; tenant token in {opts.data_dir / 'token'}, admin token in {opts.data_dir / 'admin-token'}"
    sys.stderr.write(f"qclone: serving {what} on {where} (data dir {opts.data_dir}{extra})\n")
    join = opts.data_dir / "join-token"
    if opts.role in ("substrate", "vault", "provider") and join.exists():
        sys.stderr.write(f"qclone: not enrolled yet; join token (also in {join}):\n{join.read_text().strip()}\n")
    sys.stderr.flush()


def _log_to_stderr(level: str) -> None:
    """The gateway's log (5xx with their request ids) and, at level info, its access log on stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("qclone.storage")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if level in ("info", "debug", "trace") else logging.WARNING)
    logger.propagate = False


def serve(opts: ServeOptions) -> None:
    """Run the server until interrupted (uvicorn with uvloop and httptools)."""
    import uvicorn

    opts = opts.checked()
    assert opts.data_dir is not None
    make_private(opts.data_dir)
    _log_to_stderr(opts.log_level)
    common: dict[str, Any] = {
        "host": opts.host,
        "port": opts.port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": opts.log_level,
        "access_log": False,
        "lifespan": "off",
        "timeout_graceful_shutdown": 5,
    }
    if opts.tls_cert is not None:
        common.update(ssl_certfile=str(opts.tls_cert), ssl_keyfile=str(opts.tls_key))
    if opts.workers == 1:
        app = build_app(opts)
        if opts.role not in ("embedded", "gateway"):  # the gateway has its guard inside; a node gets one here
            from qclone.storage.api import RequestGuard

            app = RequestGuard(app, max_body_bytes=opts.max_body_bytes)
        _announce(opts)
        uvicorn.run(app, **common)
        return
    # the database, the first tenant, the providers, the admin token and the start-up
    # recovery, once, before the workers start
    first = build_app(opts, reconcile=False)  # each worker runs its own reconciler
    if opts.role == "substrate":  # the workers open the store themselves
        first.component.close()
    _announce(opts)
    os.environ[_OPTIONS_ENV] = opts.to_env()
    uvicorn.run("qclone.storage.server:_worker_app", factory=True, workers=opts.workers, **common)
