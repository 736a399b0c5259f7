"""Short forms of the long kill-every-step tests: a seeded sample of their points in each run.

A long test (a server killed at every crash point of a request, a chaos run killing every role)
names its points and asks :func:`sample` for the ones this run covers. ``make test`` takes a
sample: the points of a test are cut into ``blocks`` interleaved blocks of at most ``k`` points
(block ``b`` holds points ``b``, ``b + blocks``, ``b + 2 * blocks``, ...) and a run takes block
``(seed + offset) mod blocks``, ``offset`` fixed by the test's name. So a run's sample is fixed by
its seed, and any ``blocks`` consecutive seeds cover every point; a failure names the seed.

The seed is ``QCLONE_SAMPLE_SEED`` if set (to repeat a run's sample), else a fresh random one per
run; pytest prints it at the end of the run (``tests/conftest.py``), and a sampled test's report
names its sample (a section shown with a failure). ``QCLONE_FULL=1`` runs every point (``make
chaos`` does).

Examples:
    >>> blocks_of(list("abcdefg"), 3)
    [['a', 'd', 'g'], ['b', 'e'], ['c', 'f']]
    >>> sorted(x for block in blocks_of(list(range(10)), 4) for x in block) == list(range(10))
    True
"""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

#: the environment variable that repeats a run's sample
SEED_ENV = "QCLONE_SAMPLE_SEED"
#: the environment variable that runs every point (``make chaos``)
FULL_ENV = "QCLONE_FULL"

_seed: int | None = None


def full() -> bool:
    """True when every point runs (``QCLONE_FULL=1``)."""
    return os.environ.get(FULL_ENV, "") not in ("", "0")


def seed() -> int:
    """This run's seed (``QCLONE_SAMPLE_SEED``, or one drawn once per run; see :func:`set_seed`)."""
    global _seed
    if _seed is None:
        given = os.environ.get(SEED_ENV, "").strip()
        _seed = int(given) if given else random.SystemRandom().randrange(10**6)
    return _seed


def set_seed(value: int) -> None:
    """Use ``value`` as this run's seed (the xdist workers take the controller's)."""
    global _seed
    _seed = int(value)


def blocks_of(points: Sequence[T], k: int) -> list[list[T]]:
    """``points`` cut into ``ceil(len / k)`` interleaved blocks of at most ``k`` points each."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n = max(1, -(-len(points) // k))
    return [list(points[b::n]) for b in range(n)]


def sample(points: Sequence[T], k: int, *, name: str) -> tuple[list[T], str]:
    """The points of test ``name`` this run covers: all of them under ``QCLONE_FULL=1``, else one
    block of at most ``k`` (see the module docstring); and a line that says which, with the seed."""
    if full():
        return list(points), f"{name}: every point ({len(points)}; {FULL_ENV}=1): {list(points)}"
    blocks = blocks_of(points, k)
    b = (seed() + zlib.crc32(name.encode())) % len(blocks)
    chosen = blocks[b]
    return chosen, (f"{name}: block {b + 1} of {len(blocks)} ({len(chosen)} of {len(points)} points; "
                    f"{SEED_ENV}={seed()} repeats it, {FULL_ENV}=1 runs all): {chosen}")
