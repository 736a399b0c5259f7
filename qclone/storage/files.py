"""Crash-safe file writes: a file is either the old version or the new one, never a torn mix."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_json", "fsync_dir"]


def fsync_dir(directory: str | Path) -> None:
    """Flush a directory entry (a rename or unlink) to disk; a no-op where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same directory, fsync,
    ``os.replace``, then fsync of the directory (skip both fsyncs with ``durable=False``)."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        fsync_dir(p.parent)


def atomic_write_json(path: str | Path, value: Any, *, durable: bool = True) -> None:
    """:func:`atomic_write_bytes` of ``value`` as UTF-8 JSON."""
    atomic_write_bytes(path, json.dumps(value, separators=(",", ":")).encode(), durable=durable)
