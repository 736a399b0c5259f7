"""Storage commands: ``qclone serve``, ``qclone tenant create`` and the client verbs.

The client verbs (``put``, ``get``, ``ls``, ``stat``, ``rm``, ``providers``,
``peek``, ``audit-log``) talk to a gateway through :class:`qclone.Client`;
they read ``QCLONE_URL`` and ``QCLONE_TOKEN`` (or ``--url`` / ``--token``).
Administrative calls (``tenant create`` through a server, ``providers add |
drain | kill | revive``) use ``QCLONE_ADMIN_TOKEN`` / ``--admin-token``;
``tenant create --data-dir DIR`` opens the server's database directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qclone.cli.options import Json, Seed
from qclone.cli.output import console, print_json, warn
from qclone.errors import InvalidArgumentError, is_real

Url = Annotated[str, typer.Option("--url", envvar="QCLONE_URL", help="The gateway (default http://127.0.0.1:8470; env QCLONE_URL).", show_envvar=False)]
Token = Annotated[str | None, typer.Option("--token", envvar="QCLONE_TOKEN", help="The tenant's API token (env QCLONE_TOKEN).", show_envvar=False)]
AdminToken = Annotated[str | None, typer.Option(
    "--admin-token", envvar="QCLONE_ADMIN_TOKEN", show_envvar=False,
    help="The admin token (env QCLONE_ADMIN_TOKEN; written to DIR/admin-token by `qclone serve`).")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="The server's data directory (default ./qclone-data for serve).")]
DEFAULT_URL = "http://127.0.0.1:8470"


def _client(url: str, token: str | None, admin_token: str | None = None) -> Any:
    from qclone.storage.client import Client

    return Client(url or DEFAULT_URL, token, admin_token=admin_token)


def _need_token(token: str | None) -> str:
    if not token:
        raise InvalidArgumentError("no API token: set QCLONE_TOKEN or pass --token (a new server writes one to DATA_DIR/token)")
    return token


def _need_admin(admin_token: str | None) -> str:
    if not admin_token:
        raise InvalidArgumentError("this command needs the admin token: set QCLONE_ADMIN_TOKEN or pass --admin-token "
                                   "(`qclone serve` writes it to DATA_DIR/admin-token)")
    return admin_token


#: Columns that hold a time in seconds since the epoch (shown as UTC in tables).
_TIME_COLUMNS = frozenset({"created_at", "stored_at", "finished_at", "at"})


def _fmt_time(x: Any) -> str:
    if not is_real(x):
        return _fmt(x)
    return datetime.fromtimestamp(x, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, list):
        return ",".join(_fmt(v) for v in x)
    return "" if x is None else str(x)


def _table(rows: list[dict], columns: list[str], title: str | None = None) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*((_fmt_time if c in _TIME_COLUMNS else _fmt)(r.get(c)) for c in columns))
    console.print(table)


def _show_state(out: dict) -> None:
    """Bloch vectors per qubit and, for one qubit, nothing more; else the density matrix."""
    for q, b in enumerate(out.get("bloch") or []):
        typer.echo(f"bloch (qubit {q}): " + " ".join(f"{v:+.6f}" for v in b))
    if out.get("purity") is not None:
        typer.echo(f"purity: {out['purity']:.6f}")
    if len(out.get("bloch") or []) != 1:
        console.print(out["density_matrix"].round(6))


def _jsonable(out: dict) -> dict:
    from qclone.storage.wire import encode_array

    out = dict(out)
    if "density_matrix" in out:
        out["density_matrix"] = encode_array(out["density_matrix"])
    return out


# ---------------------------------------------------------------------- server side
def serve(
    data_dir: DataDir = None,
    port: Annotated[int, typer.Option("--port", help="TCP port (default 8470).")] = 8470,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default loopback).")] = "127.0.0.1",
    role: Annotated[str, typer.Option("--role", help="embedded (default: everything in one process), gateway, substrate, provider or vault.")] = "embedded",
    db: Annotated[str | None, typer.Option("--db", help="Metadata database URL (default: SQLite file DATA_DIR/meta.db).")] = None,
    substrate: Annotated[str | None, typer.Option("--substrate", help="gateway: URL of the substrate node (default: in process).")] = None,
    vault: Annotated[str | None, typer.Option("--vault", help="gateway: URL of the vault node (default: in process).")] = None,
    provider_id: Annotated[str | None, typer.Option("--id", help="provider: its id.")] = None,
    zone: Annotated[str, typer.Option("--zone", help="provider: its zone.")] = "zone-a",
    t1: Annotated[float, typer.Option("--t1", help="provider or vault: memory T1 in seconds.")] = 3600.0,
    t2: Annotated[float, typer.Option("--t2", help="provider or vault: memory T2 in seconds.")] = 3600.0,
    substrate_join: Annotated[str | None, typer.Option(
        "--substrate-join", envvar="QCLONE_SUBSTRATE_JOIN", show_envvar=False,
        help="gateway: the substrate's join token (printed at its first start; needed once).")] = None,
    vault_join: Annotated[str | None, typer.Option(
        "--vault-join", envvar="QCLONE_VAULT_JOIN", show_envvar=False,
        help="gateway: the vault's join token (printed at its first start; needed once).")] = None,
    settable_clock: Annotated[bool, typer.Option(
        "--settable-clock", help="Use a clock stored in the data dir that POST /v1/admin/clock sets (tests).")] = False,
    workers: Annotated[int, typer.Option("--workers", help="gateway/embedded: worker processes sharing the port (SO_REUSEPORT).")] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="Log level (info: also one access-log line per request).")] = "warning",
    max_body_bytes: Annotated[int, typer.Option(
        "--max-body-bytes", help="larger request bodies are refused with 413 (default 4 MiB).")] = 4 * 1024 * 1024,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate (PEM; with --tls-key).")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="The private key of --tls-cert (PEM).")] = None,
    lease: Annotated[float, typer.Option(
        "--lease", help="gateway/embedded: seconds (database clock) a get or put may run before the reconciler takes it over.")] = 60.0,
    retention: Annotated[float, typer.Option("--retention", help=(
        "gateway/embedded: seconds (database clock) a decrypted output waits for its acknowledgement; "
        "then it is discarded and the object lost."))] = 86400.0,
    holder: Annotated[list[str] | None, typer.Option("--holder", help=(
        "gateway/embedded: a key holder beside the vault, vault:ID or custodian:ID (in process), or "
        "KIND:ID=URL (a `qclone serve --role vault` node); repeatable."))] = None,
    holder_join: Annotated[list[str] | None, typer.Option("--holder-join", help=(
        "gateway: ID=TOKEN, the join token of the holder node ID (printed at its first start; needed once)."))] = None,
) -> None:
    """Start the storage service (embedded default) or one component of a deployment."""
    from qclone.storage.server import ServeOptions
    from qclone.storage.server import serve as run_server

    run_server(
        ServeOptions(
            role=role,
            data_dir=data_dir,
            host=host,
            port=port,
            db_url=db,
            substrate_url=substrate,
            vault_url=vault,
            provider_id=provider_id,
            zone=zone,
            t1=t1,
            t2=t2,
            substrate_join=substrate_join,
            vault_join=vault_join,
            settable_clock=settable_clock,
            workers=workers,
            log_level=log_level,
            max_body_bytes=max_body_bytes,
            tls_cert=tls_cert,
            tls_key=tls_key,
            lease_seconds=lease,
            retention_seconds=retention,
            holders=tuple(holder or ()),
            holder_joins=tuple(holder_join or ()),
        )
    )


tenant_app = typer.Typer(name="tenant", help="Manage tenants.", no_args_is_help=True)


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Argument(help="The tenant's name.")],
    data_dir: DataDir = None,
    db: Annotated[str | None, typer.Option("--db", help="Metadata database URL (with --data-dir; default DATA_DIR/meta.db).")] = None,
    url: Url = DEFAULT_URL,
    admin_token: AdminToken = None,
    json: Json = False,
) -> None:
    """Create a tenant and print its token (shown once; only its hash is stored).

    With --data-dir it opens the server's database directly (the server may be
    running); otherwise it asks the server at --url with the admin token.
    """
    if data_dir is not None or db is not None:
        from qclone.storage.server import create_tenant_in

        out = create_tenant_in(data_dir, name, db_url=db)
    else:
        if not admin_token:
            raise InvalidArgumentError("give --data-dir DIR, or --admin-token (env QCLONE_ADMIN_TOKEN) for the server at --url")
        with _client(url, None, admin_token) as c:
            out = c.create_tenant(name)
    if json:
        print_json(out)
    else:
        typer.echo(out["token"])


# ---------------------------------------------------------------------- client verbs
def put(
    name: Annotated[str, typer.Argument(help="Object name.")],
    bloch: Annotated[str | None, typer.Option("--bloch", help="One qubit as a Bloch vector X,Y,Z (|r| <= 1).")] = None,
    statevector: Annotated[Path | None, typer.Option("--statevector", help="File (.npy or .json) with 2^k amplitudes.")] = None,
    density: Annotated[Path | None, typer.Option("--density", help="File (.npy or .json) with a 2^k x 2^k density matrix.")] = None,
    qasm: Annotated[Path | None, typer.Option("--qasm", help="OpenQASM 2/3 file preparing the state from |0...0>.")] = None,
    clones: Annotated[int, typer.Option("--clones", "-n", help="Number of encrypted clones n.")] = 4,
    keep_reference: Annotated[bool, typer.Option("--keep-reference", help="Keep a copy of the input so get reports the fidelity.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Allow n = 1 (a lone clone leaks the Y component).")] = False,
    placement: Annotated[str | None, typer.Option("--placement", help=(
        "Where the key and A live: today (default), keep-A, split-key, split-key:V, or a YAML/JSON file "
        "with a custom placement (read here, its content sent).")) ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    json: Json = False,
) -> None:
    """Store a state as n encrypted clones at n providers."""
    from qclone.storage.inputs import load_state_file

    given = [x for x in (bloch, statevector, density, qasm) if x is not None]
    if len(given) != 1:
        raise InvalidArgumentError("give exactly one of --bloch, --statevector, --density or --qasm")
    kwargs: dict[str, Any] = {}
    if bloch is not None:
        try:
            kwargs["bloch"] = [float(v) for v in bloch.split(",")]
        except ValueError:
            raise InvalidArgumentError(f"--bloch must be three numbers X,Y,Z, got {bloch!r}") from None
    elif qasm is not None:
        try:
            kwargs["qasm"] = qasm.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidArgumentError(f"cannot read {str(qasm)!r}: {e}") from None
    else:
        kind = "statevector" if statevector is not None else "density"
        st = load_state_file(statevector or density, kind)  # type: ignore[arg-type]  # one of them is given here
        kwargs[kind] = st.to_wire()["data"]
    if placement is not None:
        kwargs["placement"] = _placement_option(placement)
    with _client(url, _need_token(token)) as c:
        out = c.put(name, clones=clones, keep_reference=keep_reference, force=force, **kwargs)
    if json:
        print_json(out)
    else:
        typer.echo(f"stored {name!r}: {out.get('qubits')} qubit(s), {out.get('clones')} clones")
    # the placement's coalition audit, loudly: a placement that leaks is still stored, but the tenant must know
    for w in ((out.get("audit") or {}).get("warnings") or []):
        warn(w)


def _placement_option(value: str) -> str | dict:
    """A built-in placement name as it is, or the content of a YAML/JSON placement file (parsed
    here; the server checks it with its budgets)."""
    import json as json_lib

    import yaml

    path = Path(value)
    if not path.is_file():
        if path.suffix.lower() in (".yaml", ".yml", ".json") or "/" in value:
            raise InvalidArgumentError(f"placement file {value!r} not found")
        return value
    try:
        text = path.read_text(encoding="utf-8")
        data = json_lib.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
        raise InvalidArgumentError(f"cannot read placement file {value!r}: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"placement file {value!r}: expected a mapping with 'parties'")
    data.setdefault("name", path.stem)
    return data


def get(
    name: Annotated[str, typer.Argument(help="Object name.")],
    basis: Annotated[str | None, typer.Option("--basis", help="Measure every qubit of the output in X, Y or Z ...")] = None,
    shots: Annotated[int | None, typer.Option("--shots", help="... this many times (counts of the outcomes).")] = None,
    seed: Seed = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    json: Json = False,
) -> None:
    """Retrieve a state, once: decryption consumes the key."""
    if (basis is None) != (shots is None):
        raise InvalidArgumentError("--basis and --shots go together")
    with _client(url, _need_token(token)) as c:
        out = c.get(name, basis=basis, shots=shots, seed=seed)
    if json:
        print_json(_jsonable(out))
        return
    where = (f"clone {out.get('clone')} at provider {out.get('provider')}" if out.get("clone") is not None
             else f"a recovery by the providers with {', '.join(out.get('holders') or []) or 'no key holder'}")
    typer.echo(f"retrieved {name!r} from {where}"
               + (" (the output of an interrupted retrieval)" if out.get("recovered") else ""))
    _show_state(out)
    if out.get("fidelity") is not None:
        typer.echo(f"fidelity: {out['fidelity']:.6f}")
    if out.get("counts"):
        typer.echo(f"counts ({out.get('basis')} basis): " + ", ".join(f"{k}: {v}" for k, v in out["counts"].items()))


def ls(url: Url = DEFAULT_URL, token: Token = None, json: Json = False) -> None:
    """List this tenant's objects."""
    with _client(url, _need_token(token)) as c:
        rows = c.ls()
    if json:
        print_json(rows)
    else:
        _table(rows, ["name", "state", "qubits", "clones", "created_at"])


def stat(name: Annotated[str, typer.Argument(help="Object name.")], url: Url = DEFAULT_URL, token: Token = None, json: Json = False) -> None:
    """Show one object: its state, clones and where they are."""
    with _client(url, _need_token(token)) as c:
        out = c.stat(name)
    if json:
        print_json(out)
        return
    for k, v in out.items():
        if k not in ("placement", "audit", "parts", "recovery"):
            typer.echo(f"{k}: {(_fmt_time if k in _TIME_COLUMNS else _fmt)(v)}")
    audit = out.get("audit") or {}
    if audit:
        typer.echo(f"placement audit: {'safe' if audit.get('safe') else 'NOT SAFE'}"
                   + "".join(f"; warning: {w}" for w in audit.get("warnings", [])))
        for trade in audit.get("trades") or []:
            typer.echo(f"  trade: {trade}")
    recovery = out.get("recovery")
    if recovery:
        if recovery.get("now"):
            typer.echo("retrievable now from: " + "; ".join("{" + ", ".join(s) + "}" for s in recovery["sets"]))
        else:
            typer.echo(f"not retrievable now: {recovery.get('reason')} (down: {', '.join(recovery.get('down') or []) or 'none'})")
    if out.get("placement"):
        _table(out["placement"], ["clone", "provider", "zone", "state", "provider_state", "stored_at"])
    if out.get("parts"):
        _table([{**p, "labels": " ".join(p["labels"])} for p in out["parts"]], ["holder", "labels", "state", "discard_pending"])


def rm(name: Annotated[str, typer.Argument(help="Object name.")], url: Url = DEFAULT_URL, token: Token = None, json: Json = False) -> None:
    """Delete an object: its clones and its key are destroyed."""
    with _client(url, _need_token(token)) as c:
        out = c.rm(name)
    if json:
        print_json(out)
    else:
        typer.echo(f"deleted {name!r}")


def peek(
    name: Annotated[str, typer.Argument(help="Object name.")],
    provider: Annotated[str, typer.Option("--provider", help="The provider whose view to show.")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    json: Json = False,
) -> None:
    """What one provider can learn: the reduced state of the qubits it holds."""
    with _client(url, _need_token(token)) as c:
        out = c.peek(name, provider)
    if json:
        print_json(_jsonable(out))
        return
    typer.echo(f"provider {provider} holds clone {out.get('clone')} (qubits {_fmt(out.get('labels'))})")
    _show_state(out)
    if out.get("maximally_mixed"):
        typer.echo("maximally mixed: this provider learns nothing about the state")


def audit_log(url: Url = DEFAULT_URL, token: Token = None, json: Json = False) -> None:
    """This tenant's audit log, oldest first."""
    with _client(url, _need_token(token)) as c:
        rows = c.audit_log()
    if json:
        print_json(rows)
    else:
        _table(rows, ["id", "at", "actor", "action", "object_name", "detail"])


providers_app = typer.Typer(name="providers", help="List, add, drain, kill or revive storage providers.", invoke_without_command=True)


def _show_providers(rows: list[dict], json: bool) -> None:
    if json:
        print_json(rows)
    else:
        _table(rows, ["id", "state", "node", "zone", "t1", "t2", "live_clones", "url"])


@providers_app.callback()
def providers_main(ctx: typer.Context, url: Url = DEFAULT_URL, token: Token = None, admin_token: AdminToken = None,
                   json: Json = False) -> None:
    """Without a subcommand: list the providers."""
    if ctx.invoked_subcommand is None:
        providers_list(url, token, admin_token, json)


@providers_app.command("list")
def providers_list(url: Url = DEFAULT_URL, token: Token = None, admin_token: AdminToken = None, json: Json = False) -> None:
    """List the providers with their state, zone, T1/T2 and live clones (tenant or admin token)."""
    if not token and not admin_token:
        _need_token(token)
    with _client(url, token, admin_token) as c:
        _show_providers(c.providers(), json)


@providers_app.command("add")
def providers_add(
    provider_id: Annotated[str, typer.Argument(help="The new provider's id.")],
    zone: Annotated[str | None, typer.Option("--zone", help="Its zone (for distinct-zones placement).")] = None,
    t1: Annotated[float | None, typer.Option("--t1", help="Memory T1 in seconds (default 3600).")] = None,
    t2: Annotated[float | None, typer.Option("--t2", help="Memory T2 in seconds (default 3600).")] = None,
    node_url: Annotated[str | None, typer.Option("--node-url", help="URL of a provider node process (`qclone serve --role provider`).")] = None,
    join: Annotated[str | None, typer.Option(
        "--join", help="With --node-url: the node's join token (printed at its first start, also in its DATA_DIR/join-token).")] = None,
    url: Url = DEFAULT_URL,
    admin_token: AdminToken = None,
    json: Json = False,
) -> None:
    """Add a provider: embedded in the server, or a provider node process with --node-url and --join (admin token)."""
    with _client(url, None, _need_admin(admin_token)) as c:
        out = c.add_provider(provider_id, zone=zone, t1=t1, t2=t2, url=node_url, join=join)
    _show_providers([out], json)


def _action(action: str):  # noqa: ANN202 - returns the typer command it builds
    def command(
        provider_id: Annotated[str, typer.Argument(help="Provider id.")],
        url: Url = DEFAULT_URL,
        admin_token: AdminToken = None,
        json: Json = False,
    ) -> None:
        with _client(url, None, _need_admin(admin_token)) as c:
            out = getattr(c, f"{action}_provider")(provider_id)
        if json:
            print_json(out)
        else:
            typer.echo(" ".join(f"{k}={_fmt(v)}" for k, v in out.items()))

    command.__doc__ = {
        "drain": "Move a provider's clones to other providers and place no new ones there (admin token).",
        "kill": "Take a provider down: its clones cannot be used until it is revived (admin token).",
        "revive": "Bring a provider back up; it receives the discards it missed (admin token).",
    }[action]
    return command


for _name in ("drain", "kill", "revive"):
    providers_app.command(_name)(_action(_name))
