"""docs/hardware.md: its tables are the CSVs its commands wrote, the stim column is recomputed, figures exist."""

import csv
import re
from pathlib import Path

import pytest

from qclone.hardware.devices import get_backend
from qclone.hardware.prediction import device_prediction

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
        t = device_prediction(int(n))
        assert float(routed) == pytest.approx(t.routed, abs=6e-5) and float(textbook) == pytest.approx(t.textbook, abs=6e-5)


def test_figures_exist_and_are_small():
    names = re.findall(r"\]\((img/[^)]+)\)", DOC.read_text())
    assert len(names) == 4
    for name in names:
        f = DOC.parent / name
        assert f.is_file() and f.stat().st_size < 200_000, name


def _rows(path):
    with (DOC.parent / "img" / path).open() as fh:
        return list(csv.DictReader(fh))


def _cell(text):
    """A table cell: None for '—', else (value, interval or None)."""
    text = text.strip().replace("**", "")
    if text in ("—", ""):
        return None
    m = re.fullmatch(r"([+−-]?[0-9.]+)(?: \[([0-9.]+), ([0-9.]+)\])?", text)
    assert m, text
    value = float(m.group(1).replace("−", "-"))
    return value, (float(m.group(2)), float(m.group(3))) if m.group(2) else None


def test_full_device_table_is_the_csvs():
    """Columns: n | qubits | 2q gates | stim routed | stim textbook | stim routed + idle | Aer device |
    Aer DM twirled | Aer MPS twirled [95 %] | Aer twirled − stim routed | − stim routed + idle | ms per MPS shot."""
    section = DOC.read_text().split("### The whole device", 1)[1].split("\n## ", 1)[0]
    section = section.split("| n | active qubits", 1)[1].split("\n\n", 1)[0]
    rows = [r for r in re.findall(r"^\| (\d+) \|(.*)\|$", section, re.M)]
    assert {int(n) for n, _ in rows} >= {1, 5, 10, 20, 40, 63}
    device = {int(r["clones"]): r for r in _rows("hardware_fake_fez.csv")}
    device |= {int(r["clones"]): r for r in _rows("mps/hardware_fake_fez.csv")}  # the device's own noise, MPS
    dm = {int(r["clones"]): r for r in _rows("full-device/twirled-dm/hardware_fake_fez.csv")}
    mps = {int(r["clones"]): r for r in _rows("full-device/twirled-mps/hardware_fake_fez.csv")}
    assert max(mps) == 63 and all(r["runner"] == "aer:fake_fez:twirled" for r in mps.values())
    for n_text, rest in rows:
        n = int(n_text)
        cells = [_cell(c) for c in rest.split("|")]
        qubits, gates, routed, textbook, idle, dev, tw, m, diff, diff_idle, ms = cells
        assert qubits[0] == 2 * n + 1  # A and the pairs (no reference: --no-entangled)
        t = device_prediction(n, backend=get_backend("fake_fez"))
        assert routed[0] == pytest.approx(t.routed, abs=6e-5) and textbook[0] == pytest.approx(t.textbook, abs=6e-5)
        assert idle[0] == pytest.approx(t.routed_idle, abs=6e-5)
        aer = float((mps.get(n) or dm[n])["average_fidelity"])
        assert diff_idle[0] == pytest.approx(aer - t.routed_idle, abs=6e-4)
        for shown, table in ((dev, device), (tw, dm), (m, mps)):
            assert (shown is None) == (n not in table), n
            if shown is not None:
                assert shown[0] == pytest.approx(float(table[n]["average_fidelity"]), abs=6e-5), n
        if m is not None:
            assert m[1] == pytest.approx((float(mps[n]["ci_low"]), float(mps[n]["ci_high"])), abs=6e-5)
            assert int(gates[0]) == int(mps[n]["two_qubit_gates"])
            assert ms[0] == pytest.approx(1000 * float(mps[n]["seconds_per_shot"]), rel=0.02, abs=0.006)
        else:
            assert ms is None and int(gates[0]) == int(dm[n]["two_qubit_gates"])
        assert diff[0] == pytest.approx(aer - t.routed, abs=6e-4)


def test_modules_table_is_the_csv():
    rows = re.findall(r"^\| (parallel|series|interleaved)[^|]* \| (\d+) \| (\d+) \| (\d+) \| ([0-9.]+) \[([0-9.]+), ([0-9.]+)\] \| ([0-9., ]+) \|",
                      DOC.read_text(), re.M)  # fmt: skip
    assert [r[0] for r in rows] == ["parallel", "interleaved", "series", "series"]
    csv_rows = [{r["kind"]: r for r in _rows("modules/modules_fake_fez.csv")}] * 3
    csv_rows.append({r["kind"]: r for r in _rows("modules-series3/modules_fake_fez.csv")})
    for table, (kind, qubits, gates, depth, f, lo, hi, per_qubit) in zip(csv_rows, rows):
        r = table[kind]
        assert (int(qubits), int(gates), int(depth)) == (int(r["qubits"]), int(r["two_qubit_gates"]), int(r["depth"]))
        for shown, key in ((f, "fidelity"), (lo, "ci_low"), (hi, "ci_high")):
            assert float(shown) == pytest.approx(float(r[key]), abs=6e-5), (kind, key)
        assert [float(x) for x in per_qubit.split(",")] == pytest.approx([float(x) for x in r["qubit_fidelities"].split()], abs=6e-5)


def _figure_json():
    import json

    return json.loads((DOC.parent / "img" / "figure" / "hardware_figure.json").read_text())


def test_largest_n_table_is_the_bench_json():
    """The techniques table is what bench/hardware_figure.py wrote (docs/img/figure/hardware_figure.json, and
    tree_techniques.json for the comb and combined rows, from its ``--techniques tree,combined`` run)."""
    import json

    rows = re.findall(r"^\| (fake_fez|fake_torino) \| ([^|]+) \| (\d+) \| ([0-9.]+) \| ([0-9.]+|—) \| (\d+) \|", DOC.read_text(), re.M)
    tree = json.loads((DOC.parent / "img" / "figure" / "tree_techniques.json").read_text())["techniques"]
    data = {(r["device"], r["technique"]): r for r in _figure_json()["techniques"] + tree}
    assert len(rows) == len(data) >= 6
    for dev, tech, n, f, nxt, gates in rows:
        r = data[(dev, tech.strip())]
        assert int(n) == r["largest_clones"] and int(gates) == r["two_qubit_gates"]
        assert float(f) == pytest.approx(r["fidelity"], abs=6e-5)
        assert r["fidelity"] > 2 / 3 and (r["next_fidelity"] is None or r["next_fidelity"] <= 2 / 3)
        if nxt != "—":
            assert float(nxt) == pytest.approx(r["next_fidelity"], abs=6e-5)


def test_model_column_is_recomputed_at_one_point():
    """One number of the table, recomputed by the model now (FakeFez, today, n = 2)."""
    from qclone.hardware.predict import predict

    row = next(r for r in _figure_json()["aer_check"] if r["device"] == "fake_fez" and r["clones"] == 2)
    assert predict(get_backend("fake_fez"), 2).average_fidelity == pytest.approx(row["model"], abs=1e-9)
