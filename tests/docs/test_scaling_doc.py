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


def test_bench_scripts_and_limits_the_pages_name():
    root = DOC.parents[1]
    protocol = (root / "docs" / "protocol.md").read_text()
    for page in (DOC.read_text(), protocol):
        for script in re.findall(r"bench/[a-z_]+\.py", page):
            assert (root / script).is_file(), script
    from qclone.analysis.verify_scale import CHECK_ALL_UP_TO, CROSS_CHECK_UP_TO
    from qclone.protocol.render import MAX_DRAWING_DEPTH, MAX_DRAWING_QUBITS

    assert f"beyond {MAX_DRAWING_QUBITS} qubits or depth {MAX_DRAWING_DEPTH}" in protocol
    assert CROSS_CHECK_UP_TO == 10**6 and "Up to n = 10⁶ the cross-check runs at n itself" in DOC.read_text()
    assert CHECK_ALL_UP_TO == 10**4 and "Up to n = 10⁴ every clone is" in DOC.read_text()


def test_verify_at_a_hundred_million_clones_as_the_page_says(capsys):
    import json

    from qclone.cli.main import main

    assert main(["verify", "--clones", "100000000", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] and d["engine"] == "structured" and len(d["checked_clones"]) == 100
