"""docs/storage.md: the durability table is what ``qclone storage simulate`` computes; the figure exists."""

import re
from pathlib import Path

import pytest

from qclone.analysis.durability import simulate

DOC = Path(__file__).resolve().parents[2] / "docs" / "storage.md"


def table_rows() -> list[tuple[str, int, float]]:
    rows = []
    for line in DOC.read_text().splitlines():
        m = re.match(r"\| (single plain copy|\d encrypted clones?) \| ([\d,]+) \|.*\| ([0-9.]+) \|$", line)
        if m:
            rows.append((m.group(1), int(m.group(2).replace(",", "")), float(m.group(3))))
    return rows


def test_durability_table_is_reproduced():
    rows = table_rows()
    assert len(rows) == 5
    r = simulate(clones=4, failure_rate=0.05, objects=10_000_000, seed=1, storage_time=600.0)
    computed = [r["single_copy"]] + r["by_clones"]
    for (name, lost, fid), row in zip(rows, computed):
        assert row["lost"] == lost, name
        assert row["fidelity"] == pytest.approx(fid, abs=5e-5), name


def test_figure_exists_and_is_small():
    fig = DOC.parent / "img" / "storage_durability.png"
    assert "img/storage_durability.png" in DOC.read_text()
    assert 10_000 < fig.stat().st_size < 300_000
