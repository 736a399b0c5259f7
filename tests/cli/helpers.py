"""Helpers the CLI tests share: run ``qclone`` in process, check a user error's one stderr line."""

from __future__ import annotations

from typing import Any

from qclone.cli.main import main


def run(capsys: Any, *args: str) -> tuple[int, str, str]:
    """``qclone ARGS`` in this process: its exit code, stdout and stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str, *words: str) -> None:
    """``err`` is one ``qclone: error:`` line naming every word."""
    assert err.startswith("qclone: error:") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err
