"""``qclone serve``: the embedded default or one component of a multi-process deployment.

* ``embedded`` (default): gateway, substrate, vault and providers in one
  process, everything under the data dir (``DIR/gateway.sqlite3``, the
  substrate's, vault's and providers' files). On first start it creates the
  tenant ``default`` and writes its token to ``DIR/token`` (mode 0600), and
  an admin token to ``DIR/admin-token`` (mode 0600).
* ``gateway``: the gateway only; ``--substrate URL`` and ``--vault URL`` name
  the node processes, providers are added with ``qclone providers add ID
  --node-url URL``; the metadata database is ``--db URL`` or SQLite in the
  data dir. Tokens are written as in the embedded mode.
* ``substrate``, ``vault``, ``provider``: one node app
  (:mod:`qclone.storage.nodes`) over the local class, its files in the data dir.

With ``--workers N`` (gateway and embedded) N processes share the port; each
opens the same data dir and database, and the database's compare-and-set
decides every state change, so exactly-once holds across workers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qclone.errors import InvalidArgumentError

__all__ = ["ROLES", "ServeOptions", "build_app", "create_tenant_in", "serve"]

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
    node_key: str | None = None
    settable_clock: bool = False
    workers: int = 1
    log_level: str = "warning"

    def checked(self) -> ServeOptions:
        if self.role not in ROLES:
            raise InvalidArgumentError(f"unknown role {self.role!r}; choose one of {', '.join(ROLES)}")
        if not 0 <= self.port <= 65535:
            raise InvalidArgumentError(f"--port must be between 0 and 65535, got {self.port}")
        if self.workers < 1:
            raise InvalidArgumentError(f"--workers must be >= 1, got {self.workers}")
        if self.workers > 1 and self.role not in ("embedded", "gateway"):
            raise InvalidArgumentError("--workers applies to the embedded server and the gateway only")
        if self.role == "provider" and not self.provider_id:
            raise InvalidArgumentError("a provider node needs --id")
        if self.role != "gateway" and (self.substrate_url or self.vault_url):
            raise InvalidArgumentError("--substrate and --vault are options of --role gateway")
        data_dir = Path(self.data_dir if self.data_dir is not None else "qclone-data").resolve()
        return dataclasses.replace(self, data_dir=data_dir)

    def to_env(self) -> str:
        return json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def from_env(cls, text: str) -> ServeOptions:
        raw = json.loads(text)
        raw["data_dir"] = Path(raw["data_dir"]) if raw.get("data_dir") else None
        return cls(**raw)


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
def _clock(opts: ServeOptions) -> Any:
    from qclone.storage.clock import SettableClock, SystemClock

    return SettableClock(opts.data_dir / "clock") if opts.settable_clock else SystemClock()


def build_service(opts: ServeOptions, *, clock: Any = None) -> Any:
    """The :class:`~qclone.storage.service.StorageService` of an embedded server or a gateway."""
    from qclone.storage import service as service_mod
    from qclone.storage.remote import RemoteProvider, RemoteSubstrate, RemoteVault

    data_dir = opts.data_dir
    assert data_dir is not None
    clock = clock if clock is not None else _clock(opts)
    substrate = vault = None
    if opts.role == "gateway":
        if opts.substrate_url:
            substrate = RemoteSubstrate(opts.substrate_url, node_key=opts.node_key)
        if opts.vault_url:
            vault = RemoteVault(opts.vault_url, node_key=opts.node_key)

    def remote_provider(url: str) -> Any:
        return RemoteProvider(url, node_key=opts.node_key)

    return service_mod.StorageService.open(
        data_dir=data_dir,
        db_url=opts.db_url,
        clock=clock,
        substrate=substrate,
        vault=vault,
        remote_provider=remote_provider,
    )


def _first_start(service: Any, data_dir: Path) -> None:
    """Create the first tenant and write its token to ``DIR/token`` (0600) if there is none yet."""
    path = data_dir / "token"
    if path.exists():
        return
    try:
        token = service.create_tenant(FIRST_TENANT)
    except Exception:  # noqa: BLE001 - the tenant exists (token file removed by hand): leave it
        return
    _write_secret(path, token)


def build_app(opts: ServeOptions) -> Any:
    """The ASGI app of one role (for the embedded server and the gateway: with its service)."""
    from qclone.storage import nodes

    opts = opts.checked()
    data_dir = opts.data_dir
    assert data_dir is not None
    if opts.role == "substrate":
        from qclone.storage.substrate import Substrate

        return nodes.node_app("substrate", Substrate(data_dir), nodes.SUBSTRATE_METHODS, node_key=opts.node_key)
    if opts.role == "vault":
        from qclone.storage.vault import KeyVault

        return nodes.node_app("vault", KeyVault(data_dir, t1=opts.t1, t2=opts.t2), nodes.VAULT_METHODS, node_key=opts.node_key)
    if opts.role == "provider":
        from qclone.storage.provider import ProviderNode

        node = ProviderNode(opts.provider_id, data_dir, zone=opts.zone, t1=opts.t1, t2=opts.t2)  # type: ignore[arg-type]
        return nodes.node_app("provider", node, nodes.PROVIDER_METHODS, node_key=opts.node_key)
    from qclone.storage.api import create_app

    clock = _clock(opts)
    service = build_service(opts, clock=clock)
    _first_start(service, data_dir)
    return create_app(service, admin_token=admin_token_of(data_dir), clock=clock if opts.settable_clock else None)


def _worker_app() -> Any:
    """uvicorn's app factory in a worker process (options from the environment)."""
    return build_app(ServeOptions.from_env(os.environ[_OPTIONS_ENV]))


def create_tenant_in(data_dir: Path | None, name: str, *, db_url: str | None = None) -> dict:
    """Create a tenant directly in a server's database (``qclone tenant create --data-dir``)."""
    opts = ServeOptions(data_dir=data_dir, db_url=db_url).checked()
    service = build_service(opts)
    try:
        return {"tenant": name, "token": service.create_tenant(name)}
    finally:
        service.close()


def serve(opts: ServeOptions) -> None:
    """Run the server until interrupted (uvicorn with uvloop and httptools)."""
    import uvicorn

    opts = opts.checked()
    assert opts.data_dir is not None
    opts.data_dir.mkdir(parents=True, exist_ok=True)
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
    if opts.workers == 1:
        uvicorn.run(build_app(opts), **common)
        return
    # Create the database, the first tenant and the admin token once, before the workers start.
    build_app(opts)
    os.environ[_OPTIONS_ENV] = opts.to_env()
    uvicorn.run("qclone.storage.server:_worker_app", factory=True, workers=opts.workers, **common)
