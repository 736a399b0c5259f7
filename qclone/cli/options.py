"""Option bundles shared between commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

Clones = Annotated[int, typer.Option("--clones", "-n", help="Number of encrypted clones n (>= 1).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (default: fresh randomness).")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
Depth = Annotated[str, typer.Option("--depth", help="Encryption variant: linear (CNOT ladder) or log (parity trees).")]
Qubits = Annotated[int, typer.Option("--qubits", "-k", help="Register size k: k input qubits, each with its own n clones and n key qubits.")]
Series = Annotated[int, typer.Option("--series", help="Modules in series: level l+1 re-clones clone 1 (or the key) of level l; 1 = a single module.")]
SeriesTarget = Annotated[str | None, typer.Option("--series-target", help="What each series level re-clones: clone (clone 1 of the previous level) or key (its whole key).")]
Dim = Annotated[int | None, typer.Option("--dim", help="Qudit dimension d (dense qudit engine; see qclone.protocol.qudit for the accepted (d, n)).")]
Schedule = Annotated[str | None, typer.Option("--schedule", help="Series compositions: sequential (module after module) or interleaved (same unitary).")]
