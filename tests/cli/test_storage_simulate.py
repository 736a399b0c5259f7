"""``qclone storage simulate``: JSON, table, plot and exit codes."""

import json

import pytest

from qclone.cli.main import main


def _run(capsys, args):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json(capsys):
    code, out, err = _run(capsys, ["storage", "simulate", "--clones", "3", "--failure-rate", "0.2",
                                   "--objects", "20000", "--seed", "4", "--json"])
    assert code == 0, err
    r = json.loads(out)  # one JSON object
    assert r["parameters"] | {"model": None} == {"clones": 3, "failure_rate": 0.2, "vault_failure_rate": 0.0, "zones": 0, "zone_failure_rate": 0.0,
                                                 "objects": 20000, "seed": 4, "confidence": 0.95, "model": None}
    assert r["encrypted"]["analytic"] == pytest.approx(1 - 0.2**3)
    assert r["single_copy"]["analytic"] == pytest.approx(0.8)
    assert [row["clones"] for row in r["by_clones"]] == [1, 2, 3]
    assert r["fidelity"] is None and r["plots"] == []
    lo, hi = r["encrypted"]["ci"]
    assert lo <= r["encrypted"]["durability"] <= hi


def test_fidelity_and_plot(capsys, tmp_path):
    plot = tmp_path / "durability.png"
    code, out, err = _run(capsys, ["storage", "simulate", "-n", "2", "--failure-rate", "0.1", "-m", "5000", "--storage-time", "600",
                                   "--t1", "3600", "--t2", "3000", "--seed", "1", "--plot", str(plot), "--json"])
    assert code == 0, err
    r = json.loads(out)
    assert r["plots"] == [str(plot)] and plot.stat().st_size > 1000
    f = r["fidelity"]
    assert f["storage_time"] == 600 and f["t2"] == 3000
    assert 0.5 < f["encrypted"]["average_fidelity"] < f["single_copy"]["average_fidelity"] < 1


def test_table(capsys):
    code, out, err = _run(capsys, ["storage", "simulate", "--clones", "2", "--failure-rate", "0.5", "--objects", "1000",
                                   "--seed", "2", "--storage-time", "60"])
    assert code == 0, err
    assert "single plain copy" in out and "2 encrypted clones" in out and "analytic" in out
    assert "fidelity after 60 s" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--failure-rate", "2"], "probability"),
        (["--objects", "0"], "objects must be at least 1"),
        (["--clones", "100"], "clones must be at most 64"),
        (["--storage-time", "10", "--t1", "1", "--t2", "5"], "T2"),
        (["--plot", "x.gif"], "use one of"),
        (["--clones", "two"], "--clones"),
    ],
)
def test_errors_are_one_line(capsys, args, message):
    code, out, err = _run(capsys, ["storage", "simulate", "--objects", "100", *args] if "--objects" not in args
                          else ["storage", "simulate", *args])
    assert code == 2
    assert err.startswith("qclone: error:") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
