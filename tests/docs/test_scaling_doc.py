"""docs/scaling.md: its answer table is what qclone computes, and its figures exist and are small."""

import re
from pathlib import Path

import pytest

from qclone.analysis.scaling import largest_clones

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


def answer_rows():
    rows = []
    for line in DOC.read_text().splitlines():
        m = re.match(r"\| (depolarizing|memory|heron)[^|]* \| ([0-9e.-]+|–) \| ([a-z ]+?) \| \*\*(\d+)\*\*", line)
        if m:
            noise, p, depths, n = m.groups()
            for depth in ("linear", "log"):
                if depth in depths:
                    rows.append((noise, None if p == "–" else float(p), depth, int(n)))
    return rows


def test_the_page_has_every_answer():
    rows = answer_rows()
    assert {(r[0], r[1]) for r in rows} >= {(nz, p) for nz in ("depolarizing", "memory") for p in (1e-4, 1e-3, 3e-3)}
    assert {r[2] for r in rows} == {"linear", "log"}


@pytest.mark.slow
def test_every_answer_on_the_page_is_recomputed():
    for noise, p, depth, n in answer_rows():
        assert largest_clones(noise, p, depth=depth).largest_clones == n, (noise, p, depth)


def test_figures_exist_and_are_small():
    for name in re.findall(r"\]\((img/[^)]+)\)", DOC.read_text()):
        f = DOC.parent / name
        assert f.is_file() and f.stat().st_size < 200_000, name
