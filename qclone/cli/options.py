"""Option bundles shared between commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

from qclone.errors import InvalidArgumentError

Clones = Annotated[int, typer.Option("--clones", "-n", help="Number of encrypted clones n (>= 1).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (default: fresh randomness).")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
Depth = Annotated[str, typer.Option("--depth", help="Encryption variant: linear (CNOT ladder) or log (parity trees).")]
Qubits = Annotated[int, typer.Option("--qubits", "-k", help="Register size k: k input qubits, each with its own n clones and n key qubits.")]
Series = Annotated[int, typer.Option("--series", help="Modules in series: level l+1 re-clones clone 1 (or the key) of level l; 1 = a single module.")]
SeriesTarget = Annotated[str | None, typer.Option(
    "--series-target", help="What each series level re-clones: clone (clone 1 of the previous level) or key (its whole key).")]
Dim = Annotated[int | None, typer.Option("--dim", help="Qudit dimension d (dense qudit engine; see qclone.protocol.qudit for the accepted (d, n)).")]
Schedule = Annotated[str | None, typer.Option("--schedule", help="Series compositions: sequential (module after module) or interleaved (same unitary).")]


def split_list(text: str) -> list[str]:
    """The non-empty items of a comma-separated option value."""
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_ints(text: str, what: str) -> list[int]:
    """A comma-separated list of integers (``1e6`` allowed) given to option ``what``."""
    try:
        out = [int(float(t)) if "e" in t.lower() else int(t) for t in split_list(text)]
    except ValueError:
        raise InvalidArgumentError(f"{what} must be a comma-separated list of integers, got {text!r}") from None
    if not out:
        raise InvalidArgumentError(f"{what} is empty")
    return out


def parse_floats(text: str | None, what: str) -> list[float | None]:
    """A comma-separated list of numbers given to option ``what`` (``[None]`` when it is not given)."""
    if text is None:
        return [None]
    try:
        out: list[float | None] = [float(t) for t in split_list(text)]
    except ValueError:
        raise InvalidArgumentError(f"{what} must be a comma-separated list of numbers, got {text!r}") from None
    if not out:
        raise InvalidArgumentError(f"{what} is empty")
    return out
