"""``qclone storage simulate``: the durability Monte Carlo of encrypted multi-cloud storage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qclone.cli.options import Json, Qubits, Quiet, Seed
from qclone.cli.output import console, print_json, progress, wide_console

storage_app = typer.Typer(
    help="Encrypted multi-cloud storage: durability simulation, node keys (see docs/storage.md).",
    no_args_is_help=True,
)


def _fmt_loss(row: dict) -> str:
    """The observed loss probability (exactly 0 when nothing was lost)."""
    lost = 1 - row["durability"]
    return "0" if row["lost"] == 0 else f"{lost:.3g}"


@storage_app.command("simulate")
def simulate(
    clones: Annotated[int, typer.Option("--clones", "-n", help="Encrypted clones per object, each at its own provider.")] = 4,
    failure_rate: Annotated[float, typer.Option(
        "--failure-rate", help="P: probability that a provider loses a given clone during the storage period.")] = 0.01,
    objects: Annotated[int, typer.Option("--objects", "-m", help="M: number of simulated objects.")] = 1_000_000,
    vault_failure_rate: Annotated[float, typer.Option("--vault-failure-rate", help="q: probability that the key vault loses a given key.")] = 0.0,
    storage_time: Annotated[float | None, typer.Option("--storage-time", help="Seconds each object is stored: also report the fidelity after storage.")] = None,
    t1: Annotated[float, typer.Option("--t1", help="Memory T1 (seconds) of providers and vault.")] = 3600.0,
    t2: Annotated[float, typer.Option("--t2", help="Memory T2 (seconds) of providers and vault.")] = 3600.0,
    qubits: Qubits = 1,
    seed: Seed = None,
    plot: Annotated[list[Path] | None, typer.Option(
        "--plot", help="Write a plot of loss probability (and fidelity) vs clones: .png, .svg or .pdf (repeat for several).")] = None,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Monte Carlo of durability: n encrypted clones vs a single plain copy (and fidelity after --storage-time)."""
    from qclone.analysis.durability import plot_durability, summary_rows
    from qclone.analysis.durability import simulate as run_simulation

    with progress(f"simulating {objects:,} objects", quiet=quiet) as bar:
        result = run_simulation(
            clones=clones, failure_rate=failure_rate, objects=objects, vault_failure_rate=vault_failure_rate,
            storage_time=storage_time, t1=t1, t2=t2, qubits=qubits, seed=seed,
        )
        bar.update(description="plotting")
        files = [str(p) for p in plot_durability(result, plot)] if plot else []
    if json_out:
        print_json(result | {"plots": files})
        return
    par = result["parameters"]
    title = (f"Durability of {par['objects']:,} objects: provider loss P = {par['failure_rate']:g}, "
             f"vault loss q = {par['vault_failure_rate']:g} (Monte Carlo, Wilson 95 % interval)")
    t = Table(title=title)
    has_fidelity = result["fidelity"] is not None
    cols = ["storage", "providers", "retrievable", "lost", "durability", "95 % CI", "analytic", "loss"]
    if has_fidelity:
        cols.append("avg fidelity")
    for c in cols:
        t.add_column(c, justify="left" if c == "storage" else "right")
    for row in summary_rows(result):
        lo, hi = row["ci"]
        cells = [row["storage"], str(row["providers"]), f"{row['retrievable']:,}", f"{row['lost']:,}",
                 f"{row['durability']:.6f}", f"[{lo:.6f}, {hi:.6f}]", f"{row['analytic']:.6g}", _fmt_loss(row)]
        if has_fidelity:
            cells.append(f"{row['fidelity']:.4f}")
        t.add_row(*cells)
    wide_console().print(t)
    if has_fidelity:
        f = result["fidelity"]
        console.print(
            f"fidelity after {f['storage_time']:g} s (T1 = {f['t1']:g} s, T2 = {f['t2']:g} s, k = {f['qubits']}): "
            f"retrieved from {par['clones']} clones {f['encrypted']['average_fidelity']:.4f}, "
            f"single plain copy {f['single_copy']['average_fidelity']:.4f} "
            "(the retrieved state also went through the key's memory)"
        )
    for p in files:
        console.print(f"wrote {p}")


@storage_app.command("rotate-key")
def rotate_key(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The node's data directory.")],
    role: Annotated[str, typer.Option("--role", help="The node's role: substrate, vault or provider.")],
    json_out: Json = False,
) -> None:
    """Give a stopped node a new key pair and join token; it must then be enrolled with the gateway again."""
    from qclone.errors import InvalidArgumentError
    from qclone.storage.rpc.keys import NODE_ROLES, NodeKeys

    if role not in NODE_ROLES:
        raise InvalidArgumentError(f"--role is one of {', '.join(NODE_ROLES)}, got {role!r}")
    token = str(NodeKeys.rotate(data_dir, role))
    if json_out:
        print_json({"role": role, "join_token": token})
    else:
        typer.echo(token)
