"""Shared output helpers: JSON to stdout, warnings and errors to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
from rich.console import Console

from qclone.protocol.layout import single_clone_warning

#: Human output goes to stdout through this console; JSON bypasses it.
console = Console(highlight=False, soft_wrap=False)


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, complex):
        return {"re": o.real, "im": o.imag}
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_default)


def print_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(f"qclone: warning: {message}\n")


def warn_single_clone(clones: int | Iterable[int], dimension: int = 2) -> None:
    """The n = 1 warning on stderr (once) if ``clones``, or any of them, is 1 (``dimension``: qudits)."""
    ns = [clones] if isinstance(clones, int) else list(clones)
    warning = single_clone_warning(1, dimension) if 1 in ns else None
    if warning:
        warn(warning)


def wide_console() -> Console:
    """The shared console, or a 160-column one when output is not a terminal (tables stay readable in files)."""
    return console if console.is_terminal else Console(highlight=False, soft_wrap=False, width=160)


def error_line(message: str) -> str:
    """Collapse a message to one line (errors are one line on stderr)."""
    return " ".join(str(message).split())
