"""Shared output helpers: JSON to stdout, warnings and errors to stderr, the progress display.

The conventions every command follows (docs: README, "Command-line conventions"):

* ``--json`` prints exactly one JSON document (:func:`print_json`); a command whose results
  arrive one by one streams them as JSON Lines under ``--jsonl`` (:func:`print_jsonl`), and
  :func:`check_json_flags` refuses both at once.
* a command that can run longer than about two seconds shows :func:`progress` on stderr; it is
  off with ``--quiet`` and when stderr is not a terminal, so pipes and files never see it.

This module is imported by ``qclone --help``: it imports rich's console only (numpy, the
library and rich's progress display are imported when they are used).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from qclone.errors import InvalidArgumentError

#: Every command and group: ``-h`` as well as ``--help``.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

#: Human output goes to stdout through this console; JSON bypasses it.
console = Console(highlight=False, soft_wrap=False)
#: The progress display draws here (stderr); tests replace it with a console that pretends to be a terminal.
progress_console = Console(stderr=True, highlight=False)


def _default(o: Any) -> Any:
    if "numpy" in sys.modules:  # numpy values only exist once numpy is loaded: never import it just to look
        import numpy as np

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
    """One line of JSON (numpy values, complex numbers and sets included)."""
    return json.dumps(obj, default=_default)


def print_json(obj: Any) -> None:
    """The one JSON document of a ``--json`` invocation (call it once per invocation)."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def print_jsonl(obj: Any) -> None:
    """One record of a ``--jsonl`` stream (JSON Lines: one object per line, flushed as it comes)."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def check_json_flags(json_out: bool, jsonl: bool) -> None:
    """``--json`` (one document) and ``--jsonl`` (a stream) exclude each other."""
    if json_out and jsonl:
        raise InvalidArgumentError("--json prints one document and --jsonl one line per result: give one of them")


def warn(message: str) -> None:
    sys.stderr.write(f"qclone: warning: {message}\n")


def note(message: str) -> None:
    """An informational line on stderr (e.g. which files were written), kept off stdout's results."""
    sys.stderr.write(f"qclone: {message}\n")


def warn_single_clone(clones: int | Iterable[int], dimension: int = 2) -> None:
    """The n = 1 warning on stderr (once) if ``clones``, or any of them, is 1 (``dimension``: qudits)."""
    from qclone.protocol.layout import single_clone_warning

    ns = [clones] if isinstance(clones, int) else list(clones)
    warning = single_clone_warning(1, dimension) if 1 in ns else None
    if warning:
        warn(warning)


def wide_console() -> Console:
    """The shared console, or a 160-column one when output is not a terminal (tables stay readable in files)."""
    return console if console.is_terminal else Console(highlight=False, soft_wrap=False, width=160)


class ProgressTask:
    """What :func:`progress` yields: advance it, or hand :attr:`callback` to the library.

    Without a display (``--quiet``, stderr not a terminal) every method does nothing.
    """

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    @property
    def shown(self) -> bool:
        """Whether a display is drawn."""
        return self._bar is not None

    def advance(self, steps: float = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, steps)

    def update(self, *, completed: float | None = None, total: float | None = None, description: str | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=completed, total=total, description=description)

    def callback(self, done: float, total: float | None = None) -> None:
        """``callback(done, total)``: the progress callback the analysis functions accept."""
        self.update(completed=done, total=total)

    @property
    def as_callback(self) -> Callable[[float, float | None], None] | None:
        """:meth:`callback`, or ``None`` when nothing is shown (the library then skips its bookkeeping)."""
        return self.callback if self.shown else None


@contextmanager
def progress(description: str, total: float | None = None, *, quiet: bool = False) -> Iterator[ProgressTask]:
    """A transient rich progress display on stderr for a command that can run for seconds.

    ``total=None`` shows a spinner and the elapsed time; with a total, a bar and ``done/total``.
    Nothing is drawn with ``quiet`` or when stderr is not a terminal. Lines written meanwhile to
    stderr (warnings) or to a terminal's stdout (results) appear above the display.

    Examples:
        >>> with progress("work", total=3, quiet=True) as bar:
        ...     bar.advance()
        ...     bar.shown
        False
    """
    target = progress_console
    if quiet or not target.is_terminal:
        yield ProgressTask()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=target, transient=True, redirect_stdout=False, redirect_stderr=True) as bar:
        stdout = sys.stdout
        if stdout.isatty():  # the same terminal: results printed meanwhile go above the display
            sys.stdout = AboveTheDisplay(stdout, bar)
        try:
            yield ProgressTask(bar, bar.add_task(description, total=total))
        finally:
            sys.stdout = stdout


class AboveTheDisplay:
    """A terminal's stdout that takes the progress display away while it writes and redraws it below."""

    def __init__(self, stream: Any, bar: Any) -> None:
        self._stream = stream
        self._bar = bar

    def write(self, text: str) -> int:
        self._bar.stop()
        try:
            n = self._stream.write(text)
            self._stream.flush()
        finally:
            self._bar.start()
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
