"""Option bundles shared between commands, defined once.

One name for one idea across every command (tests/cli/test_conventions.py keeps the inventory):
``--output/-o FILE``, ``--output-dir DIR``, ``--plot FILE``, ``-p/--error-rate`` (an error
probability of a noise model) versus ``--failure-rate`` (a provider losing a clone), ``--seed``,
``--clones/-n``, ``--qubits/-k``, ``--shots``, ``--quiet/-q``, ``--json`` (one document),
``--jsonl`` (a stream of JSON Lines), ``--url``/``--token`` (env ``QCLONE_URL``/``QCLONE_TOKEN``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qclone.errors import InvalidArgumentError

Clones = Annotated[int, typer.Option("--clones", "-n", help="Number of encrypted clones n (>= 1).")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="Random seed (default: fresh randomness).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
Jsonl = Annotated[bool, typer.Option("--jsonl", help="Stream the results as JSON Lines: one object per line as each arrives.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display (it is also off when stderr is not a terminal).")]
ErrorRates = Annotated[str | None, typer.Option(
    "--error-rate", "-p", help="Comma-separated error probabilities of the noise models (every model but heron needs them).")]
OutputFiles = Annotated[list[Path], typer.Option("--output", "-o", help="Output file(s): .png, .svg or .pdf (repeat for several).")]
OutputDir = Annotated[Path, typer.Option("--output-dir", help="Directory for the result files (created if missing).")]
Depth = Annotated[str, typer.Option("--depth", help="Encryption variant: linear (CNOT ladder) or log (parity trees).")]
Qubits = Annotated[int, typer.Option("--qubits", "-k", help="Register size k: k input qubits, each with its own n clones and n key qubits.")]
Series = Annotated[int, typer.Option("--series", help="Modules in series: level l+1 re-clones clone 1 (or the key) of level l; 1 = a single module.")]
SeriesTarget = Annotated[str | None, typer.Option(
    "--series-target", help="What each series level re-clones: clone (clone 1 of the previous level) or key (its whole key).")]
Dim = Annotated[int | None, typer.Option("--dim", help="Qudit dimension d (dense qudit engine; see qclone.protocol.qudit for the accepted (d, n)).")]
Schedule = Annotated[str | None, typer.Option("--schedule", help="Series compositions: sequential (module after module) or interleaved (same unitary).")]


#: The most clones the commands over the engines take (each command states its own, at most this one): circuits,
#: sweeps, exact curves and the search of ``scaling`` build stim circuits of about 200 bytes a clone.
MAX_SCALE_CLONES = 10**6


def check_clones(n: int, maximum: int, what: str = "--clones") -> int:
    """``n`` if it is in 1..``maximum``: a huge number is refused before any memory is asked for."""
    if n < 1:
        raise InvalidArgumentError(f"{what} must be at least 1, got {n}")
    if n > maximum:
        raise InvalidArgumentError(f"{what} must be at most {maximum:,}, got {n}")
    return n


def split_list(text: str) -> list[str]:
    """The non-empty items of a comma-separated option value."""
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_ints(text: str, what: str, maximum: int | None = None) -> list[int]:
    """A comma-separated list of integers (``1e6`` allowed) given to option ``what``, each in 1..``maximum`` if given."""
    try:
        out = [int(float(t)) if "e" in t.lower() else int(t) for t in split_list(text)]
    except (ValueError, OverflowError):
        raise InvalidArgumentError(f"{what} must be a comma-separated list of integers, got {text!r}") from None
    if not out:
        raise InvalidArgumentError(f"{what} is empty")
    if maximum is not None:
        for n in out:
            check_clones(n, maximum, what)
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
