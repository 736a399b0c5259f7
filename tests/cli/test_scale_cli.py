"""CLI: verify --engine heisenberg, sweep, plot and scaling, in process and as a subprocess."""

import json
import subprocess
import sys

import pytest

from qclone.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_heisenberg_checks_every_clone_and_says_so(capsys):
    code, out, _ = run(capsys, "verify", "--clones", "300", "--engine", "heisenberg")
    assert code == 0 and "clones checked: all 300" in out and "all checks passed" in out
    code, out, _ = run(capsys, "verify", "--clones", "40", "--engine", "heisenberg", "--depth", "log", "--json")
    d = json.loads(out)
    assert code == 0 and d["engine"] == "heisenberg" and d["checked_clones"] == "all" and d["passed"]


def test_verify_heisenberg_sample_beyond_ten_thousand_as_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "qclone", "verify", "--clones", "30000", "--engine", "heisenberg",
                        "--sample", "4", "--seed", "9", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["passed"] and len(d["checked_clones"]) == 4 and all(1 <= j <= 30000 for j in d["checked_clones"])
    text = subprocess.run([sys.executable, "-m", "qclone", "verify", "--clones", "30000", "--engine", "heisenberg",
                           "--sample", "4", "--seed", "9"], capture_output=True, text=True).stdout
    assert "random sample of 4 of 30000 (seed 9)" in text
    assert ", ".join(map(str, d["checked_clones"])) in " ".join(text.split())


def test_verify_heisenberg_n1_warns(capsys):
    code, _, err = run(capsys, "verify", "--clones", "1", "--engine", "heisenberg")
    assert code == 0 and "Y component" in err


def test_sweep_jsonl_has_one_object_per_point(capsys):
    code, out, _ = run(capsys, "sweep", "--clones", "2,6", "--noise", "depolarizing", "-p", "0.001,0.01",
                       "--shots", "3000", "--workers", "1", "--quiet", "--jsonl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 4
    need = {"clones", "noise", "p", "shots", "errors", "entanglement_fidelity", "average_fidelity", "ci_low", "ci_high",
            "p_I", "p_X", "p_Y", "p_Z", "decrypt", "depth"}
    for r in rows:
        assert need <= set(r) and r["shots"] == 3000
        assert r["ci_low"] <= r["average_fidelity"] <= r["ci_high"]
        assert r["average_fidelity"] == pytest.approx((2 * r["entanglement_fidelity"] + 1) / 3)
    assert {(r["clones"], r["p"]) for r in rows} == {(2, 0.001), (6, 0.001), (2, 0.01), (6, 0.01)}


def test_sweep_table_and_csv_then_plot_png_and_svg(capsys, tmp_path):
    csv = tmp_path / "s.csv"
    code, out, err = run(capsys, "sweep", "--clones", "1,4", "--noise", "memory", "--error-rate", "0.01", "--shots", "2000",
                         "--workers", "1", "--csv", str(csv), "--decrypt", "last")
    assert code == 0 and "F_avg" in out and "Y component" in err and csv.exists()
    png, svg = tmp_path / "f.png", tmp_path / "f.svg"
    code, out, _ = run(capsys, "plot", "--csv", str(csv), "--noise", "memory", "--error-rate", "0.01", "--clones", "1,2,4,8",
                       "--output", str(png), "--output", str(svg), "--json")
    d = json.loads(out)
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG" and b"<svg" in svg.read_bytes()
    assert len(d["series"]) == 2 and "classical limit 2/3" in svg.read_text()


def test_scaling_json(capsys):
    code, out, _ = run(capsys, "scaling", "--noise", "memory", "--error-rate", "0.01", "--depth", "linear", "--json")
    [d] = json.loads(out)
    assert code == 0 and d["largest_clones"] == d["compounded_law"] == 81
    code, out, _ = run(capsys, "scaling", "--noise", "depolarizing", "--error-rate", "0.3", "--depth", "log")
    assert code == 0 and "none" in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["verify", "--clones", "3", "--engine", "heisenberg", "--sample", "0"], "positive integer"),
        (["verify", "--clones", "3", "--engine", "heisenberg", "--depth", "cubic"], "depth"),
        (["verify", "--clones", "3", "--engine", "dense", "--depth", "log"], "--engine structured or heisenberg"),
        (["sweep", "--clones", "x", "--noise", "readout", "--error-rate", "0.1", "--shots", "10"], "integers"),
        (["sweep", "--clones", "3", "--noise", "nope", "--error-rate", "0.1", "--shots", "10"], "unknown noise model"),
        (["sweep", "--clones", "3", "--noise", "readout", "--shots", "10"], "needs an error rate"),
        (["sweep", "--clones", "3", "--noise", "heron", "--error-rate", "0.1", "--shots", "10"], "takes no error rate"),
        (["sweep", "--clones", "3", "--noise", "readout", "--error-rate", "2", "--shots", "10"], "readout flip probability"),
        (["sweep", "--clones", "3", "--noise", "readout", "--error-rate", "0.1", "--shots", "0"], "--shots must be at least 1"),
        (["sweep", "--clones", "3", "--noise", "readout", "--error-rate", "0.1", "--shots", "10", "--decrypt", "7"], "1..3"),
        (["plot", "--output", "x.png"], "nothing to plot"),
        (["plot", "--noise", "memory", "--error-rate", "0.1", "--output", "x.gif"], ".png"),
        (["plot", "--csv", "/nonexistent.csv", "--output", "x.png"], "no such sweep file"),
        (["scaling", "--error-rate", "abc"], "numbers"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, args, fragment):
    code, _, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qclone: error:") and fragment in lines[0], err
