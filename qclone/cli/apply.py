"""``qclone apply``: a logical gate on a stored object, applied by its holders without decrypting it."""

from __future__ import annotations

from typing import Annotated

import typer

from qclone.cli.options import Json
from qclone.cli.output import print_json
from qclone.cli.storage_client import Token, Url, _client


def apply(
    name: Annotated[str, typer.Argument(help="Object name.")],
    gate: Annotated[str, typer.Option("--gate", help="The logical gate (e.g. X, Z, H for odd n); the service says "
                                                     "which ones the object's number of clones allows.")],
    qubit: Annotated[list[int] | None, typer.Option("--qubit", help="A register qubit to act on (Qiskit's order; "
                                                                   "repeat for several). Default: every qubit.")] = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Apply a logical gate to a stored object: every holder applies its local part; nothing is decrypted.

    Each provider applies a one-qubit gate to its clone, the vault to the key qubits (a custodian to A): whichever
    clone is decrypted later holds G|psi>. The key holders see that a gate was applied, never the state. A holder
    that is down keeps its part pending: the object stays 'applying' (gets are refused) until the service finishes
    the gate.
    """
    with _client(url, token) as c:
        out = c.apply(name, gate, qubits=qubit or None)
    if json:
        print_json(out.to_json())
        return
    on = ", ".join(str(q) for q in out.qubits)
    providers = [p.removeprefix("provider:") for p in out.done if p.startswith("provider:")]
    typer.echo(f"applied logical {out.gate} to {name!r} (register qubit{'s' if len(out.qubits) > 1 else ''} {on})"
               if out.complete else f"logical {out.gate} on {name!r} (register qubit{'s' if len(out.qubits) > 1 else ''} "
                                    f"{on}) is not complete yet")
    typer.echo(f"providers that applied their part: {', '.join(providers) or 'none'}")
    if out.key_holders:
        typer.echo(f"key holders that applied their part: {', '.join(out.key_holders)} "
                   "(they see that a gate was applied, never the state)")
    if out.pending:
        typer.echo(f"waiting for: {', '.join(p.removeprefix('provider:') for p in out.pending)} (down); the object "
                   "stays 'applying' and the service finishes the gate when they answer")
