"""``qclone cluster up | down | status``: a whole storage service as processes on this machine.

``up`` starts, under ``--data-dir DIR``, the substrate node (``--substrate-workers S`` worker
processes), the vault, ``--providers P`` provider nodes, any ``--holder`` nodes and ``--gateways G``
gateways, each its own process and port on the loopback interface, every node enrolled with its
join token (:class:`qclone.storage.launcher.Cluster`). The metadata, and the substrate's joint
states, are in the PostgreSQL database ``--db URL`` (a SQLite file in the first gateway's data dir
when there is one gateway and one substrate worker). The processes keep running after ``up``
returns; ``DIR/cluster.json`` records them (pids, ports, URLs, where the tokens are) for ``status``
(each process's health) and ``down`` (stops them; the data stays, and ``up`` on the same
directory starts the same service again on the same ports, with any number of gateways).

Every gateway serves every object: a client takes any one of the URLs ``up`` prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qclone.cli.options import Json, Quiet
from qclone.cli.output import console, print_json
from qclone.errors import InvalidArgumentError

cluster_app = typer.Typer(help="A local cluster: gateways, substrate workers, vault and providers as processes.",
                          no_args_is_help=True)

ClusterDir = Annotated[Path, typer.Option("--data-dir", help="The cluster's directory (every process's data dir and "
                                          "log under it, and its state file cluster.json).")]
DEFAULT_DIR = Path("qclone-cluster")


def _check_count(value: int, option: str, low: int, high: int = 64) -> int:
    if not low <= value <= high:
        raise InvalidArgumentError(f"{option} must be between {low} and {high}, got {value}")
    return value


def _check_database(url: str) -> None:
    """Refuse a malformed or unreachable database before any process starts (2: malformed, 4: does
    not answer); it is migrated to the current schema here, once."""
    from sqlalchemy.exc import SQLAlchemyError

    from qclone.storage.db import Database
    from qclone.storage.errors import UnavailableError

    try:
        db = Database.open(url)
    except SQLAlchemyError as e:
        raise UnavailableError(f"the database does not answer ({type(e).__name__})") from None
    db.dispose()


@cluster_app.command("up")
def up(
    data_dir: ClusterDir = DEFAULT_DIR,
    db: Annotated[str | None, typer.Option("--db", help=(
        "Database URL (postgresql+psycopg://...) for the metadata and the substrate's joint states; default: SQLite "
        "in the first gateway's data dir (one gateway, one substrate worker only)."))] = None,
    gateways: Annotated[int, typer.Option("--gateways", help="Gateway processes, each with its own port (default 1).")] = 1,
    substrate_workers: Annotated[int, typer.Option(
        "--substrate-workers", help="Worker processes of the substrate node (default 1; more need PostgreSQL).")] = 1,
    providers: Annotated[int, typer.Option("--providers", help="Provider node processes p1..pP in zones zone-1.. (default 4).")] = 4,
    holder: Annotated[list[str] | None, typer.Option("--holder", help=(
        "A key holder node beside the vault, vault:ID or custodian:ID (its own process); repeatable."))] = None,
    lease: Annotated[float, typer.Option(
        "--lease", help="Seconds (database clock) a get or put may run before a reconciler takes it over (default 60).")] = 60.0,
    quiet: Quiet = False,
    json: Json = False,
) -> None:
    """Start a storage service as processes on this machine and leave it running.

    Prints every gateway's URL (a client takes any one) and where the tokens are; `qclone cluster
    down --data-dir DIR` stops it.
    """
    from qclone.cli.output import progress
    from qclone.cli.storage_client import check_data_dir, check_holder_id
    from qclone.storage.errors import UnavailableError
    from qclone.storage.launcher import STATE_FILE, Cluster

    _check_count(gateways, "--gateways", 1)
    _check_count(substrate_workers, "--substrate-workers", 1)
    _check_count(providers, "--providers", 1)
    if not (0 < lease < 1e9):
        raise InvalidArgumentError(f"--lease must be a number of seconds > 0, got {lease}")
    holders = list(holder or ())
    for h in holders:
        check_holder_id(h)
        kind, sep, hid = h.partition(":")
        if not sep or kind not in ("vault", "custodian") or not hid or "=" in hid:
            raise InvalidArgumentError(f"--holder takes vault:ID or custodian:ID, got {h!r}")
        if hid in ("substrate", "vault") or hid.startswith("gateway") or (hid[:1] == "p" and hid[1:].isdigit()):
            raise InvalidArgumentError(f"--holder {h!r}: the id {hid!r} names another process of the cluster")
    check_data_dir(data_dir)
    root = data_dir.resolve()
    ports: dict[str, int] = {}
    if (root / STATE_FILE).exists():
        before = Cluster.attach(root)
        if any(p.running for p in before.processes.values()):
            raise InvalidArgumentError(f"a cluster is running under {str(data_dir)!r}: `qclone cluster down --data-dir "
                                       f"{data_dir}` first")
        nodes = sorted(n for n in before.processes if not n.startswith("gateway"))
        ports = {name: p.port for name, p in before.processes.items()}
        expected = sorted(["substrate", "vault", *(f"p{i}" for i in range(1, providers + 1)),
                           *(h.partition(":")[2] for h in holders)])
        if before.mode != "deployment" or nodes != expected:
            raise InvalidArgumentError(f"the cluster under {str(data_dir)!r} has the nodes {', '.join(nodes)}: start it "
                                       "with the same --providers and --holder (only --gateways and --substrate-workers "
                                       "may change)")
    cluster = Cluster(root, mode="deployment", db_url=db, providers=providers, holders=holders, gateways=gateways,
                      substrate_workers=substrate_workers, extra=["--lease", f"{lease:g}"], ports=ports)
    if db is not None:
        _check_database(db)
    started = False
    try:
        with progress("starting the cluster", quiet=quiet) as bar:
            cluster.up(step=lambda text: bar.update(description=text))
        started = True
    except RuntimeError as e:  # a process exited or did not answer: its log says why
        first = str(e).splitlines()[0]
        raise UnavailableError(f"{first} (see the logs under {data_dir})") from None
    finally:
        if not started:
            cluster.down()
    cluster.save()
    doc = cluster.state()
    if json:
        print_json(doc)
        return
    what = f"{gateways} gateway{'s' if gateways > 1 else ''}, a substrate node"
    what += f" ({substrate_workers} workers)" if substrate_workers > 1 else ""
    what += f", the vault, {providers} provider{'s' if providers > 1 else ''}"
    what += f", holders {', '.join(holders)}" if holders else ""
    typer.echo(f"cluster up under {root}: {what}; metadata in {doc['db'] or 'SQLite (' + str(cluster.data_dir) + ')'}")
    typer.echo("gateways (every one serves every object; a client takes any one URL):")
    for url in doc["gateways"]:
        typer.echo(f"  {url}")
    typer.echo(f"tenant token: {doc['token_file']}\nadmin token:  {doc['admin_token_file']}")
    typer.echo(f"e.g. export QCLONE_URL={doc['gateways'][0]} QCLONE_TOKEN=$(cat {doc['token_file']})")
    typer.echo(f"stop it: qclone cluster down --data-dir {data_dir}")


@cluster_app.command("down")
def down(
    data_dir: ClusterDir = DEFAULT_DIR,
    quiet: Quiet = False,
    json: Json = False,
) -> None:
    """Stop every process of the cluster under --data-dir (gateways first); its data stays."""
    from qclone.cli.output import progress
    from qclone.storage.launcher import Cluster

    cluster = Cluster.attach(data_dir.resolve())
    stopped = []
    with progress("stopping the cluster", total=len(cluster.processes), quiet=quiet) as bar:
        for name, p in reversed(list(cluster.processes.items())):
            if p.running:
                p.kill(_sigterm())
                stopped.append(name)
            p.attached_pid = None
            bar.advance()
    cluster.save()
    if json:
        print_json({"data_dir": str(data_dir.resolve()), "stopped": stopped[::-1]})
    else:
        typer.echo(f"stopped {len(stopped)} processes" + (f": {', '.join(stopped[::-1])}" if stopped else " (none was running)"))


def _sigterm() -> int:
    import signal

    return int(signal.SIGTERM)


@cluster_app.command("status")
def status(
    data_dir: ClusterDir = DEFAULT_DIR,
    json: Json = False,
) -> None:
    """Each process of the cluster under --data-dir: running, healthy (answers /v1/health), its workers.

    Exit status 1 when any process is not healthy.
    """
    from qclone.storage.launcher import Cluster

    cluster = Cluster.attach(data_dir.resolve())
    report = cluster.status()
    healthy = all(r["healthy"] for r in report.values())
    if json:
        print_json({"data_dir": str(data_dir.resolve()), "gateways": cluster.urls, "healthy": healthy,
                    "processes": report})
    else:
        table = Table(title=f"cluster under {data_dir}", title_justify="left")
        for col in ("process", "role", "pid", "url", "state", "workers"):
            table.add_column(col)
        for name, r in report.items():
            state = "healthy" if r["healthy"] else "running, not answering" if r["running"] else "down"
            table.add_row(name, r["role"], str(r["pid"] or "-"), r["url"], state, _workers(r))
        console.print(table)
    if not healthy:
        raise typer.Exit(1)


def _workers(r: dict[str, Any]) -> str:
    return "-" if r["workers"] is None else str(r["workers"])
