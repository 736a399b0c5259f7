"""Option bundles shared between commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

Clones = Annotated[int, typer.Option("--clones", "-n", help="Number of encrypted clones n (>= 1).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (default: fresh randomness).")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
Depth = Annotated[str, typer.Option("--depth", help="Encryption variant: linear (CNOT ladder) or log (parity trees).")]
