"""Storage commands: ``qclone serve``, ``qclone tenant create`` and the client verbs.

The client verbs (``put``, ``get``, ``ls``, ``stat``, ``rm``, ``providers``,
``peek``, ``audit-log``) talk to a gateway through :class:`qclone.Client`;
``--url`` / ``--token`` or, as for the SDK, ``QCLONE_URL`` and ``QCLONE_TOKEN``
(read in one place, :func:`qclone.storage.client.connection`).
Administrative calls (``tenant create`` through a server, ``providers add |
drain | kill | revive``) use ``QCLONE_ADMIN_TOKEN`` / ``--admin-token``;
``tenant create --data-dir DIR`` opens the server's database directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qclone.cli.options import Json, Seed, check_clones
from qclone.cli.output import console, print_json, warn, wide_console
from qclone.errors import InvalidArgumentError

# the environment is read by qclone.storage.client.connection (shared with the SDK), not by the options
Url = Annotated[str | None, typer.Option("--url", help="The gateway (default: env QCLONE_URL, else http://127.0.0.1:8470).")]
Token = Annotated[str | None, typer.Option("--token", help="The tenant's API token (default: env QCLONE_TOKEN).")]
AdminToken = Annotated[str | None, typer.Option(
    "--admin-token", help="The admin token (default: env QCLONE_ADMIN_TOKEN; written to DIR/admin-token by `qclone serve`).")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="The server's data directory (default ./qclone-data for serve).")]


def open_client(url: str | None, token: str | None = None, admin_token: str | None = None, *,
                need: str = "token") -> Any:
    """:func:`_client` under the name other command modules (``qclone apply``) use."""
    return _client(url, token, admin_token, need=need)


def _client(url: str | None, token: str | None = None, admin_token: str | None = None, *, need: str = "token") -> Any:
    """A :class:`qclone.Client` from the options, else the environment; ``need``: ``token``
    (a tenant's), ``admin``, ``either`` or ``none``."""
    from qclone.storage.client import Client

    c = Client(url, token, admin_token=admin_token)
    if need in ("token", "either") and not c.has_token and not (need == "either" and c.has_admin_token):
        c.close()
        raise InvalidArgumentError("no API token: set QCLONE_TOKEN or pass --token (a new server writes one to DATA_DIR/token)")
    if need == "admin" and not c.has_admin_token:
        c.close()
        raise InvalidArgumentError("this command needs the admin token: set QCLONE_ADMIN_TOKEN or pass --admin-token "
                                   "(`qclone serve` writes it to DATA_DIR/admin-token)")
    return c


def _fmt(x: Any) -> str:
    """One table cell: a UTC time, a short number, a list joined, a mapping as ``key=value`` pairs."""
    if isinstance(x, datetime):
        return x.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(x, float):
        return f"{x:.6g}"
    if x is None:
        return ""
    if x is True or x is False:
        return str(x).lower()
    if isinstance(x, (list, tuple)):
        return ",".join(_fmt(v) for v in x)
    if isinstance(x, Mapping):
        return " ".join(f"{k}={_fmt(v)}" for k, v in x.items())
    return str(x)


def _table(rows: list[Any], columns: list[str], title: str | None = None, *, wide: tuple[str, ...] = ()) -> None:
    """Rows (dataclasses) as a table; ``wide`` columns wrap rather than being cut."""
    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold" if c in wide else "ellipsis", ratio=2 if c in wide else None)
    for r in rows:
        table.add_row(*(_fmt(getattr(r, c, None)) for c in columns))
    wide_console().print(table)


def _show_state(out: Any) -> None:
    """Bloch vectors per qubit and, for one qubit, nothing more; else the density matrix (Qiskit's order)."""
    for q, b in enumerate(out.bloch):
        typer.echo(f"bloch (qubit {q}): " + " ".join(f"{v:+.6f}" for v in b))
    typer.echo(f"purity: {out.purity:.6f}")
    if len(out.bloch) != 1:
        typer.echo("density matrix (qubit 0 = least significant bit of the index):")
        console.print(out.density_matrix.round(6))


# ---------------------------------------------------------------------- server side
def serve(
    data_dir: DataDir = None,
    port: Annotated[int, typer.Option("--port", help="TCP port (default 8470).")] = 8470,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default loopback).")] = "127.0.0.1",
    role: Annotated[str, typer.Option("--role", help="embedded (default: everything in one process), gateway, substrate, provider or vault.")] = "embedded",
    db: Annotated[str | None, typer.Option("--db", help=(
        "Metadata database URL (default: the SQLite file DATA_DIR/gateway.sqlite3); a PostgreSQL URL also holds "
        "the substrate's state. substrate: its PostgreSQL database (default: its data dir)."))] = None,
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
    workers: Annotated[int, typer.Option("--workers", help="gateway/embedded/substrate: worker processes sharing the port (SO_REUSEPORT).")] = 1,
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

    check_data_dir(data_dir)
    for h in holder or ():
        check_holder_id(h)
    opts = (
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
    ).checked()
    check_port_free(opts.host, opts.port)  # before "serving ... on": a busy port is one line and status 2
    run_server(opts)


def check_holder_id(value: str) -> None:
    """The ID of a ``--holder`` value (``KIND:ID`` or ``KIND:ID=URL``) in the words of the option."""
    from qclone.storage.provider import check_provider_id

    holder_id = value.split("=", 1)[0].partition(":")[2]
    if not holder_id:
        return  # the service names what is missing
    try:
        check_provider_id(holder_id)
    except InvalidArgumentError:
        raise InvalidArgumentError(f"--holder {value!r}: a key holder id is 1-64 letters, digits, '_', '.' or '-' "
                                   f"(starting with a letter or digit), got {holder_id!r}") from None


def check_data_dir(data_dir: Path | None, *, existing: bool = False) -> None:
    """A ``--data-dir`` that exists must be a directory; ``existing``: it must exist too (a command
    that works on a server's or node's state never starts new state in a mistyped directory)."""
    if data_dir is None:
        return
    if existing and not data_dir.exists():
        raise InvalidArgumentError(f"--data-dir {str(data_dir)!r} does not exist")
    if data_dir.exists() and not data_dir.is_dir():
        raise InvalidArgumentError(f"--data-dir {str(data_dir)!r} exists and is not a directory")


def check_node_dir(data_dir: Path, role: str) -> None:
    """``data_dir`` is the data directory of a ``role`` node: it has a node key, and neither its
    join token nor its database belongs to another role."""
    from qclone.storage.rpc.keys import NODE_ROLES, JoinToken

    check_data_dir(data_dir, existing=True)
    if not (data_dir / "node-key").is_file():
        raise InvalidArgumentError(f"--data-dir {str(data_dir)!r} is not a node's data directory (no node-key; "
                                   "a node makes one at its first start)")
    seen = {r for r in NODE_ROLES if (data_dir / f"{r}.sqlite3").is_file()}
    try:
        seen.add(JoinToken.parse((data_dir / "join-token").read_text()).role)
    except (OSError, UnicodeDecodeError, InvalidArgumentError):
        pass  # enrolled (no token left) or unreadable: the databases decide
    if seen and role not in seen:
        raise InvalidArgumentError(f"--data-dir {str(data_dir)!r} belongs to a {' / '.join(sorted(seen))} node, "
                                   f"not a {role}")


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on (or an address this machine does not have) before starting."""
    import errno
    import socket

    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise InvalidArgumentError(f"--host {host!r}: {e.strerror or e}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise InvalidArgumentError(f"cannot listen on {host}:{port}: {e.strerror or e}"
                                       + (" (another process uses the port; choose one with --port)" if e.errno == errno.EADDRINUSE else "")) from None


tenant_app = typer.Typer(name="tenant", help="Manage tenants.", no_args_is_help=True)


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Argument(help="The tenant's name.")],
    data_dir: DataDir = None,
    db: Annotated[str | None, typer.Option("--db", help="Metadata database URL (with --data-dir; default: the SQLite file DATA_DIR/gateway.sqlite3).")] = None,
    url: Url = None,
    admin_token: AdminToken = None,
    json: Json = False,
) -> None:
    """Create a tenant and print its token (shown once; only its hash is stored).

    With --data-dir it opens the server's database directly (the server may be
    running); otherwise it asks the server at --url with the admin token.
    """
    if data_dir is not None or db is not None:
        from qclone.storage.server import create_tenant_in

        out = create_tenant_in(data_dir, name, db_url=db)  # refuses a directory that is not a gateway's
    else:
        try:
            c = _client(url, None, admin_token, need="admin")
        except InvalidArgumentError:
            raise InvalidArgumentError("give --data-dir DIR, or --admin-token (env QCLONE_ADMIN_TOKEN) for the server at --url") from None
        with c:
            out = c.create_tenant(name).to_json()
    if json:
        print_json(out)
    else:
        typer.echo(out["token"])


# ---------------------------------------------------------------------- client verbs
def put(
    name: Annotated[str, typer.Argument(help="Object name.")],
    bloch: Annotated[str | None, typer.Option("--bloch", help="One qubit as a Bloch vector X,Y,Z (|r| <= 1).")] = None,
    statevector: Annotated[Path | None, typer.Option(
        "--statevector", help="File (.npy or .json) with 2^k amplitudes, Qiskit's order (qubit 0 least significant).")] = None,
    density: Annotated[Path | None, typer.Option("--density", help="File (.npy or .json) with a 2^k x 2^k density matrix, Qiskit's order.")] = None,
    qasm: Annotated[Path | None, typer.Option("--qasm", help="OpenQASM 2/3 file preparing the state from |0...0>.")] = None,
    clones: Annotated[int, typer.Option("--clones", "-n", help="Number of encrypted clones n.")] = 4,
    keep_reference: Annotated[bool, typer.Option("--keep-reference", help="Keep a copy of the input so get reports the fidelity.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Allow n = 1 (a lone clone leaks the Y component).")] = False,
    placement: Annotated[str | None, typer.Option("--placement", help=(
        "Where the key and A live: today (default), keep-A, split-key, split-key:V, or a YAML/JSON file "
        "with a custom placement (read here, its content sent).")) ] = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Store a state as n encrypted clones at n providers.

    A name is used once: after the object is deleted or retrieved its name stays taken (a new put with it is refused).
    """
    from qclone.storage.inputs import load_state_file
    from qclone.storage.substrate import MAX_CLONES

    given = [x for x in (bloch, statevector, density, qasm) if x is not None]
    if len(given) != 1:
        raise InvalidArgumentError("give exactly one of --bloch, --statevector, --density or --qasm")
    check_clones(clones, MAX_CLONES)
    if clones == 1 and not force:
        raise InvalidArgumentError("refusing to store a single clone: a lone clone leaks the Y component of the state. "
                                   "Use --clones 2 or more (even n), or give --force.")
    kwargs: dict[str, Any] = {}
    if bloch is not None:
        try:
            kwargs["bloch"] = [float(v) for v in bloch.split(",")]
        except ValueError:
            kwargs["bloch"] = []
        if len(kwargs["bloch"]) != 3:
            raise InvalidArgumentError(f"--bloch must be three numbers X,Y,Z, got {bloch!r}")
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
    with _client(url, token) as c:
        out = c.put(name, clones=clones, keep_reference=keep_reference, force=force, **kwargs)
    if json:
        print_json(out.to_json())
    else:
        typer.echo(f"stored {name!r}: {out.qubits} qubit{'' if out.qubits == 1 else 's'}, "
                   f"{out.clones} clone{'' if out.clones == 1 else 's'}")
    # the placement's coalition audit, loudly: a placement that leaks is still stored, but the tenant must know
    # who can recover it (each coalition: parties joined by +; a provider holds one clone)
    where = f"placement {out.placement_name or 'today'!r} of {name!r}"
    for w in out.warnings:
        warn(f"{where}: {w}")
    audit = out.audit or {}
    if any(c.get("learns") == "everything" and not c.get("intended", True) for c in audit.get("learning") or []) \
            and audit.get("trades"):
        # why coalitions not meant to decrypt can: what the placement trades, exactly (also in `qclone stat NAME`)
        warn(f"{where} trades: " + "; ".join(audit["trades"]))


def _placement_option(value: str) -> str | dict:
    """A built-in placement name as it is, or the content of a YAML/JSON placement file (parsed
    here; the server checks it with its budgets)."""
    from qclone.analysis.leakage.placement import read_document

    path = Path(value)
    if path.is_dir():
        raise InvalidArgumentError(f"--placement {value!r} is a directory, not a placement file")
    if not path.is_file():
        if path.suffix.lower() in (".yaml", ".yml", ".json") or "/" in value:
            raise InvalidArgumentError(f"placement file {value!r} not found")
        return value
    data = read_document(path, "placement")
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"placement file {value!r}: expected a mapping with 'parties'")
    data.setdefault("name", path.stem)
    return data


def get(
    name: Annotated[str, typer.Argument(help="Object name.")],
    basis: Annotated[str | None, typer.Option("--basis", help="Measure every qubit of the output in X, Y or Z ...")] = None,
    shots: Annotated[int | None, typer.Option("--shots", help="... this many times (counts of the outcomes).")] = None,
    seed: Seed = None,
    retrieval: Annotated[str | None, typer.Option(
        "--retrieval", help="plain (the default: one clone with the key, or the fewest holders) or corrected "
                            "(measure the code's stabilizers among every live holder, correct, then decrypt; "
                            "falls back to plain with the reason when that corrects nothing).")] = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Retrieve a state, once: decryption consumes the key."""
    if retrieval is not None and retrieval not in ("plain", "corrected"):
        raise InvalidArgumentError(f"--retrieval must be plain or corrected, got {retrieval!r}")
    if (basis is None) != (shots is None):
        raise InvalidArgumentError("--basis and --shots go together")
    if seed is not None and basis is None:
        raise InvalidArgumentError("--seed seeds the sampling: it goes with --basis and --shots")
    with _client(url, token) as c:
        out = c.get(name, basis=basis, shots=shots, seed=seed, retrieval=retrieval)
    if json:
        print_json(out.to_json())
        return
    where = (f"clone {out.clone} at provider {out.provider}" if out.clone is not None
             else f"a recovery by the providers with {', '.join(out.holders or []) or 'no key holder'}")
    typer.echo(f"retrieved {name!r} from {where}"
               + (" (the output of an interrupted retrieval)" if out.recovered else ""))
    if out.retrieval == "corrected":
        typer.echo("retrieval: corrected (stabilizers measured among every live holder, errors corrected)")
    elif out.fallback is not None:
        typer.echo(f"retrieval: plain; corrected retrieval fell back: {out.fallback}")
    _show_state(out)
    if out.fidelity is not None:
        typer.echo(f"fidelity: {out.fidelity:.6f}")
    if out.counts:
        typer.echo(f"counts ({out.basis} basis, qubit 0 rightmost): " + ", ".join(f"{k}: {v}" for k, v in out.counts.items()))


def ls(
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Only the first N objects (oldest first); default: all of them, read page by page.")] = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """List this tenant's objects."""
    if limit is not None and limit < 1:
        raise InvalidArgumentError(f"--limit takes a number of objects >= 1, got {limit}")
    with _client(url, token) as c:
        rows = c.ls(limit=limit)
    if json:
        print_json([r.to_json() for r in rows])
    else:
        _table(rows, ["name", "state", "qubits", "clones", "created_at"])


def stat(name: Annotated[str, typer.Argument(help="Object name.")], url: Url = None, token: Token = None, json: Json = False) -> None:
    """Show one object: its state, clones and where they are."""
    with _client(url, token) as c:
        out = c.stat(name)
    if json:
        print_json(out.to_json())
        return
    for k in ("name", "object_id", "tenant", "state", "qubits", "clones", "policy", "keep_reference", "created_at",
              "stored_at", "finished_at", "live_clones", "retrievable"):
        typer.echo(f"{k}: {_fmt(getattr(out, k))}")
    if out.placement_name is not None:
        typer.echo(f"placement: {out.placement_name}")
    if out.audit:
        typer.echo(f"placement audit: {'safe' if out.safe else 'NOT SAFE'}" + "".join(f"; warning: {w}" for w in out.warnings))
        for trade in out.audit.get("trades") or []:
            typer.echo(f"  trade: {trade}")
    recovery = out.recovery
    if recovery:
        if recovery.now:
            typer.echo("retrievable now from: " + "; ".join("{" + ", ".join(s) + "}" for s in recovery.sets))
        else:
            typer.echo(f"not retrievable now: {recovery.reason} (down: {', '.join(recovery.down) or 'none'})")
    if out.placement:
        _table(list(out.placement), ["clone", "provider", "zone", "state", "provider_state", "stored_at"])
    if out.parts:
        _table(list(out.parts), ["holder", "labels", "state", "discard_pending"])
    _show_logical(out)


def _show_logical(out: Any) -> None:
    """The logical gates applied to an object (``qclone apply``), oldest first."""
    from qclone.storage.results import timestamp

    logical = out.raw.get("logical") or {}
    for g in logical.get("gates") or []:
        parties = [str(p).removeprefix("provider:") for p in g.get("parties") or []]
        typer.echo(f"logical gate {g['gate']} on qubit(s) {', '.join(str(q) for q in g['qubits'])} at {_fmt(timestamp(g['at']))}: "
                   f"applied by {', '.join(parties)}"
                   + (f" (key holders {', '.join(g['key_holders'])} acted: they see that a gate was applied, never "
                      "the state)" if g.get("key_holders") else ""))
    progress = logical.get("in_progress")
    if progress:
        typer.echo(f"logical gate {progress['gate']} being applied since {_fmt(timestamp(progress['since']))}")


def rm(name: Annotated[str, typer.Argument(help="Object name.")], url: Url = None, token: Token = None, json: Json = False) -> None:
    """Delete an object: its clones and its key are destroyed.

    The name is never reused: a later put with it is refused, so a repeated rm or get never reaches another state.
    """
    with _client(url, token) as c:
        out = c.rm(name)
    if json:
        print_json(out.to_json())
    else:
        typer.echo(f"deleted {name!r}")


def peek(
    name: Annotated[str, typer.Argument(help="Object name.")],
    provider: Annotated[str, typer.Option("--provider", help="The provider whose view to show.")],
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """What one provider can learn: the reduced state of the qubits it holds."""
    with _client(url, token) as c:
        out = c.peek(name, provider)
    if json:
        print_json(out.to_json())
        return
    typer.echo(f"provider {provider} holds clone {out.clone} (qubits {_fmt(out.labels)}; qubit i is labels[i])")
    _show_state(out)
    if out.maximally_mixed:
        typer.echo("maximally mixed: this provider learns nothing about the state")


def audit_log(
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Only the first N entries (oldest first); default: the whole log, read page by page.")] = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """This tenant's audit log, oldest first."""
    from qclone.storage.api_models import MAX_AUDIT_LIMIT

    if limit is not None and not 1 <= limit <= MAX_AUDIT_LIMIT:
        raise InvalidArgumentError(f"--limit takes 1..{MAX_AUDIT_LIMIT} entries, got {limit}")
    with _client(url, token) as c:
        rows = c.audit_entries() if limit is None else c.audit_log(limit=limit)
    if json:
        print_json([r.to_json() for r in rows])
    else:
        _table(rows, ["id", "at", "actor", "action", "object_name", "detail"], wide=("detail",))


providers_app = typer.Typer(name="providers", help="List, add, drain, kill or revive storage providers.", invoke_without_command=True)


def _show_providers(rows: list[Any], json: bool) -> None:
    if json:
        print_json([r.to_json() for r in rows])
    else:
        _table(rows, ["id", "state", "node", "zone", "t1", "t2", "live_clones", "url"])


@providers_app.callback()
def providers_main(ctx: typer.Context, url: Url = None, token: Token = None, admin_token: AdminToken = None,
                   json: Json = False) -> None:
    """Without a subcommand: list the providers."""
    if ctx.invoked_subcommand is None:
        providers_list(url, token, admin_token, json)


@providers_app.command("list")
def providers_list(url: Url = None, token: Token = None, admin_token: AdminToken = None, json: Json = False) -> None:
    """List the providers with their state, zone, T1/T2 and live clones (tenant or admin token)."""
    with _client(url, token, admin_token, need="either") as c:
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
    url: Url = None,
    admin_token: AdminToken = None,
    json: Json = False,
) -> None:
    """Add a provider: embedded in the server, or a provider node process with --node-url and --join (admin token)."""
    with _client(url, None, admin_token, need="admin") as c:
        out = c.add_provider(provider_id, zone=zone, t1=t1, t2=t2, url=node_url, join=join)
    _show_providers([out], json)


def _action(action: str):  # noqa: ANN202 - returns the typer command it builds
    def command(
        provider_id: Annotated[str, typer.Argument(help="Provider id.")],
        url: Url = None,
        admin_token: AdminToken = None,
        json: Json = False,
    ) -> None:
        with _client(url, None, admin_token, need="admin") as c:
            out = getattr(c, f"{action}_provider")(provider_id).to_json()
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
