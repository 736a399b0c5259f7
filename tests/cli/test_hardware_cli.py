"""``qclone hardware``: one JSON array (--json) or a line per n (--jsonl), CSV and plot written, errors as one line with status 2."""

import csv
import json
import subprocess
import sys

import pytest

from qclone.cli.main import main


def test_run_json_csv_and_plot(tmp_path, capsys):
    code = main(["hardware", "run", "--backend", "fake_torino", "--clones", "1,2", "--shots", "100",
                 "--bootstrap", "10", "--no-entangled", "--output-dir", str(tmp_path), "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    rows = json.loads(out)
    assert [r["clones"] for r in rows] == [1, 2]
    for r in rows:
        assert r["shots"] == 100 and r["ci_low"] <= r["average_fidelity"] <= r["ci_high"]
        assert r["bell_fidelity"] is None
    assert "Y component" in err  # n = 1 warns
    with (tmp_path / "hardware_fake_torino.csv").open() as fh:
        assert [int(row["clones"]) for row in csv.DictReader(fh)] == [1, 2]
    png = tmp_path / "hardware_fake_torino.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size < 200_000


@pytest.mark.slow
def test_run_table(tmp_path, capsys):
    code = main(["hardware", "run", "--backend", "fake_fez", "--clones", "2", "--shots", "50", "--bootstrap", "5",
                 "--output-dir", str(tmp_path)])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0 and "average fidelity" in out and "concurrence" in out and "wrote" in out  # tables: all on stdout


def test_errors_are_one_line(capsys, tmp_path):
    for args in (["--backend", "fake_nowhere", "--clones", "2", "--shots", "10"],
                 ["--backend", "fake_fez", "--clones", "0", "--shots", "10"],
                 ["--backend", "fake_fez", "--clones", "2", "--shots", "0"],
                 ["--backend", "fake_fez", "--clones", "64", "--shots", "10"],
                 ["--backend", "fake_fez", "--clones", "2", "--shots", "10", "--runner", "magic"],
                 ["--backend", "fake_fez", "--clones", "2,5", "--shots", "10", "--decrypt", "3"]):  # fmt: skip
        code = main(["hardware", "run", *args, "--output-dir", str(tmp_path)])
        _, err = capsys.readouterr()
        assert code == 2 and err.count("\n") == 1 and err.startswith("qclone: error:"), (args, err)


def test_layout_subprocess():
    proc = subprocess.run([sys.executable, "-m", "qclone", "hardware", "layout", "--backend", "fake_torino", "--clones", "3", "--json"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)
    assert row["schedule_check"] and row["max_clones"] == 55
    assert row["ours"]["two_qubit_gates"] <= row["qiskit_o3"]["two_qubit_gates"]


def test_compare_with_stim(tmp_path, capsys):
    f = tmp_path / "r.csv"
    f.write_text("backend,runner,clones,decrypt,shots,average_fidelity,ci_low,ci_high,confidence,bell_fidelity,bell_ci_low,"
                 "bell_ci_high,concurrence,two_qubit_gates,depth,two_qubit_depth,seconds\n"
                 "fake_fez,aer,2,1,100,0.95,0.94,0.96,0.95,,,,,18,53,16,1.0\n")  # fmt: skip
    code = main(["hardware", "compare", "--csv", str(f), "--clones", "63", "--jsonl"])
    out, _ = capsys.readouterr()
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["clones"] for r in rows] == [2, 63]
    assert rows[0]["measured_minus_stim_routed"] == rows[0]["measured"] - rows[0]["stim_routed"]
    assert rows[1]["measured"] is None and 0.5 < rows[1]["stim_routed"] < rows[1]["stim_textbook"]
    assert main(["hardware", "compare"]) == 2


def test_compare_several_csvs(tmp_path, capsys):
    header = ("backend,runner,clones,decrypt,shots,average_fidelity,ci_low,ci_high,confidence,bell_fidelity,bell_ci_low,"
              "bell_ci_high,concurrence,two_qubit_gates,depth,two_qubit_depth,seconds\n")  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "r.csv").write_text(header + "fake_fez,aer:fake_fez,2,1,100,0.95,0.94,0.96,0.95,,,,,18,53,16,1.0\n")
    (tmp_path / "b" / "r.csv").write_text(header + "fake_fez,aer:fake_fez:twirled,10,1,100,0.6,0.58,0.62,0.95,,,,,138,200,70,9.0\n")
    code = main(["hardware", "compare", "--csv", str(tmp_path / "a" / "r.csv"), "--csv", str(tmp_path / "b" / "r.csv"), "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    rows = {r["clones"]: r for r in json.loads(out)}
    assert set(rows) == {2, 10}
    two, ten = rows[2]["sources"], rows[10]["sources"]
    assert two[0]["average_fidelity"] == 0.95 and two[1]["average_fidelity"] is None
    assert ten[1]["minus_stim_routed"] == pytest.approx(0.6 - rows[10]["stim_routed"])
    assert "twirled" in ten[1]["source"] and "b/r.csv" in ten[1]["source"]
    assert main(["hardware", "compare", "--csv", str(tmp_path / "a" / "r.csv"), "--csv", str(tmp_path / "a" / "r.csv")]) == 0


def test_modules_json_and_csv(tmp_path, capsys):
    code = main(["hardware", "modules", "--backend", "fake_fez", "--kind", "series", "--clones", "1", "--shots", "100",
                 "--bootstrap", "5", "--noise", "twirled", "--output-dir", str(tmp_path), "--json"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0
    [row] = json.loads(out)
    assert row["kind"] == "series" and row["levels"] == 2 and row["qubits"] == 5 and row["runner"] == "aer:fake_fez:twirled"
    assert 2 / 3 < row["fidelity"] < 1
    with (tmp_path / "modules_fake_fez.csv").open() as fh:
        assert [r["kind"] for r in csv.DictReader(fh)] == ["series"]


def test_modules_and_noise_errors(capsys, tmp_path):
    for args in (["modules", "--backend", "fake_fez", "--shots", "10", "--kind", "braided"],
                 ["modules", "--backend", "fake_fez", "--shots", "10", "--clones", "0"],
                 ["modules", "--backend", "fake_fez", "--shots", "10", "--kind", "series", "--levels", "1"],
                 ["run", "--backend", "fake_fez", "--clones", "2", "--shots", "10", "--noise", "twirled", "--runner", "sampler"],
                 ["run", "--backend", "fake_fez", "--clones", "2", "--shots", "10", "--noise", "pink"],
                 ["run", "--backend", "fake_fez", "--clones", "2", "--shots", "10", "--method", "mps", "--runner", "sampler"],
                 ["run", "--backend", "fake_fez", "--clones", "2", "--shots", "10", "--seed", "-1"],
                 ["run", "--backend", "fake_fez", "--clones", "2", "--shots", "10", "--method", "mps", "--max-bond", "0"]):  # fmt: skip
        code = main(["hardware", *args, "--output-dir", str(tmp_path)])
        _, err = capsys.readouterr()
        assert code == 2 and err.count("\n") == 1 and err.startswith("qclone: error:"), (args, err)


FAKE_BACKENDS = ["fake_fez", "fake_marrakesh", "fake_kingston", "fake_aachen", "fake_torino"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", FAKE_BACKENDS)
def test_sampler_route_on_every_fake_backend(backend, tmp_path, capsys, sample):
    # SamplerV2 in local mode with the device noise, the protocol's tomography circuits, n = 1 and 2;
    # make test: two of the backends in each run (tests/sampling.py), QCLONE_FULL=1 every one
    if backend not in sample(FAKE_BACKENDS, 2):
        pytest.skip("not in this run's sample of the backends (tests/sampling.py)")
    code = main(["hardware", "run", "--backend", backend, "--clones", "1,2", "--shots", "100", "--bootstrap", "10",
                 "--runner", "sampler", "--output-dir", str(tmp_path), "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    assert [r["clones"] for r in rows] == [1, 2]
    for r in rows:
        assert r["runner"] == f"sampler:{backend}" and r["circuits"] == 6 * 3 + 9
        assert 2 / 3 < r["average_fidelity"] < 1 and 0.5 < r["bell_fidelity"] < 1  # noisy, but quantum
        assert len(r["physical_qubits"]) == 2 * r["clones"] + 2
    assert "Traceback" not in err


def test_run_help_gives_the_real_limits_and_one_seed_story():
    from qclone.cli.hardware import MAX_CLONES
    from qclone.hardware.devices import DEVICE_NAMES, get_backend
    from qclone.hardware.layout import max_clones

    assert set(MAX_CLONES) == set(DEVICE_NAMES)
    for name, limit in MAX_CLONES.items():
        assert max_clones(get_backend(name)) == limit
    proc = subprocess.run([sys.executable, "-m", "qclone", "hardware", "run", "--help"], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "COLUMNS": "400", "NO_COLOR": "1"})  # fmt: skip
    text = " ".join(proc.stdout.split())
    assert proc.returncode == 0
    assert "fresh randomness" not in text and "[default: 0]" in text
    assert "10,100,1000" not in text
    assert "63 on fake_fez, fake_marrakesh, fake_kingston and fake_aachen" in text and "55 on fake_torino" in text
