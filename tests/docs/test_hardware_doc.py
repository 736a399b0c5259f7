"""docs/hardware.md: its tables are the CSVs its commands wrote, the stim column is recomputed, figures exist."""

import csv
import re
from pathlib import Path

import pytest

from qclone.hardware.twirl import twirled_prediction

DOC = Path(__file__).resolve().parents[2] / "docs" / "hardware.md"
DEVICES = {"FakeFez": "fake_fez", "FakeTorino": "fake_torino"}


def _csv(name):
    with (DOC.parent / "img" / f"hardware_{name}.csv").open() as fh:
        return {int(r["clones"]): r for r in csv.DictReader(fh)}


def test_results_table_is_the_csv():
    text = DOC.read_text()
    rows = re.findall(r"^\| (FakeFez|FakeTorino) \| (\d+) \| [^|]+ \| (\d+) \| ([0-9.]+) \[([0-9.]+), ([0-9.]+)\] \| ([0-9.]+) \[", text, re.M)
    assert len(rows) >= 9
    for dev, n, gates, f, lo, hi, bell in rows:
        r = _csv(DEVICES[dev])[int(n)]
        assert int(gates) == int(r["two_qubit_gates"])
        for shown, key in ((f, "average_fidelity"), (lo, "ci_low"), (hi, "ci_high"), (bell, "bell_fidelity")):
            assert float(shown) == pytest.approx(float(r[key]), abs=6e-5), (dev, n, key)


def test_stim_columns_are_recomputed():
    rows = re.findall(r"^\| (\d+) \| [^|]* \| [^|]* \| ([0-9.]+) \| ([0-9.]+) \|", DOC.read_text(), re.M)
    assert {int(n) for n, _, _ in rows} >= {1, 2, 3, 63}
    for n, routed, textbook in rows:
        t = twirled_prediction(int(n))
        assert float(routed) == pytest.approx(t.routed, abs=6e-5) and float(textbook) == pytest.approx(t.textbook, abs=6e-5)


def test_figures_exist_and_are_small():
    names = re.findall(r"\]\((img/[^)]+)\)", DOC.read_text())
    assert len(names) == 2
    for name in names:
        f = DOC.parent / name
        assert f.is_file() and f.stat().st_size < 200_000, name
