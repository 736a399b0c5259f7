"""Crash points: named places where a test can kill the process (``QCLONE_CRASH_AT``).

:func:`crash_point` ends the process at once with exit status
:data:`CRASH_EXIT_STATUS` (no clean-up, no ``finally``) when the environment
variable ``QCLONE_CRASH_AT`` equals its name (read once, when this module is first
imported: a process gets it from the environment it starts with). The storage service calls it after
every step of a get, a put and a delete (names in ``docs/design/storage-notes.md``), so a
process test can kill a gateway at each step and check the recovery.

Examples:
    >>> crash_point("get.claim")   # QCLONE_CRASH_AT is not set: nothing happens
"""

from __future__ import annotations

import os

#: Exit status of a process killed at a crash point.
CRASH_EXIT_STATUS = 86

#: The environment variable naming the crash point to die at.
CRASH_ENV = "QCLONE_CRASH_AT"

_CRASH_AT = os.environ.get(CRASH_ENV)


def crash_point(name: str) -> None:
    """Exit the process immediately (status 86) if ``QCLONE_CRASH_AT == name``."""
    if name == _CRASH_AT:
        os._exit(CRASH_EXIT_STATUS)
