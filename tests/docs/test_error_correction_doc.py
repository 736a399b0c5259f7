"""docs/error-correction.md: the stabilizer table is the library's, and the page's commands exist."""

import re
from pathlib import Path

import pytest

from qclone.analysis.code import logical_x, logical_z, stabilizers

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "error-correction.md").read_text()


@pytest.mark.parametrize("n", [2, 3, 4])
def test_stabilizer_table_matches_the_code(n):
    row = next(line for line in PAGE.splitlines() if line.startswith(f"| {n} | `+"))
    cells = [c.strip().strip("`") for c in row.strip("|").split("|")]
    gens = [g.replace("−", "-") for g in cells[1].split()]
    assert gens == stabilizers(n)
    assert cells[2] == logical_x(n) and cells[3] == logical_z(n)


def test_page_names_the_figures_and_they_are_small():
    for name in re.findall(r"\(img/([\w.-]+\.png)\)", PAGE):
        path = Path(__file__).resolve().parents[2] / "docs" / "img" / name
        assert path.is_file() and path.stat().st_size < 150_000


def test_no_placeholder_left():
    assert not re.search(r"\b[A-Z]+_(TABLE|SECTION)\b", PAGE)
