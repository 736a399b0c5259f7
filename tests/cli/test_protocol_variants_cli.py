"""CLI: --qubits, --series, --series-target, --schedule and --dim for circuit and verify."""

import json
import subprocess
import sys

import pytest

from qclone.cli.main import main
from qclone.protocol import Layout, from_qasm


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_register_circuit_json_and_formats(capsys):
    code, out, _ = run(capsys, "circuit", "-n", "3", "--qubits", "2", "--decrypt", "2", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["qubits"] == 2 and d["num_qubits"] == Layout(3, qubits=2).num_qubits
    assert d["two_qubit_gates"] == 2 * (7 * 3 + 1)
    assert d["output_qubits"] == ["S0_2", "S1_2"]
    code, out, _ = run(capsys, "circuit", "-n", "2", "-k", "3", "--format", "qasm2")
    assert code == 0 and [r.name for r in from_qasm(out).qregs] == ["A", "S", "N"]


def test_series_circuit_unwinds_every_layer(capsys):
    code, out, _ = run(capsys, "circuit", "-n", "2", "--series", "3", "--decrypt", "2", "--schedule", "interleaved", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["decryption_steps"] == [["m3", 2], ["m2", 1], ["m1", 1]]
    assert d["output_qubits"] == ["m3.S0_2"]
    assert [m["inputs"] for m in d["modules"]] == [["I0"], ["m1.S0_1"], ["m2.S0_1"]]
    code, out, _ = run(capsys, "circuit", "-n", "2", "--series", "2", "--series-target", "key", "--format", "stim")
    assert code == 0 and "CX" in out


@pytest.mark.parametrize("args,message", [
    (["circuit", "-n", "2", "--dim", "3"], "qclone verify"),
    (["circuit", "-n", "2", "--schedule", "interleaved"], "--series M >= 2"),
    (["circuit", "-n", "2", "--series-target", "key"], "--series M with M >= 2"),
    (["circuit", "-n", "2", "--series", "2", "--series-target", "pair"], "clone, key"),
    (["circuit", "-n", "2", "--series", "2", "--schedule", "random"], "schedule"),
    (["circuit", "-n", "3", "--series", "2", "--decrypt", "A"], "--series 1"),
    (["circuit", "-n", "3", "--qubits", "0"], "at least 1 qubit"),
    (["circuit", "-n", "3", "--series", "0"], "--series"),
    (["verify", "-n", "3", "--dim", "3", "--qubits", "2"], "drop --qubits"),
    (["verify", "-n", "3", "--dim", "3", "--engine", "core"], "drop --engine"),
    (["verify", "-n", "3", "--dim", "3", "--depth", "log"], "dense"),
    (["verify", "-n", "4", "--dim", "5"], "n <= 3"),
    (["verify", "-n", "2", "--dim", "9"], "2..8"),
    (["verify", "-n", "9", "--qubits", "2", "--engine", "dense"], "dense engine"),
    (["verify", "-n", "2", "--qubits", "7", "--engine", "core"], "at most 6"),
    (["verify", "-n", "2", "--qubits", "2", "--engine", "heisenberg"], "core engine"),
    (["verify", "-n", "2", "--qubits", "2", "--engine", "stabilizer"], "unknown engine"),
])
def test_bad_combinations_are_one_line_errors(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("qclone: error:") and message in err


def test_verify_register_series_and_qudits(capsys):
    code, out, _ = run(capsys, "verify", "-n", "2", "--qubits", "2", "--json")
    d = json.loads(out)
    assert code == 0 and d["passed"] and d["engine"] == "dense" and d["qubits"] == 2
    code, out, _ = run(capsys, "verify", "-n", "3", "--series", "2", "--series-target", "key", "--engine", "core", "--json")
    d = json.loads(out)
    assert code == 0 and d["passed"] and d["engine"] == "core" and d["series_target"] == "key"
    code, out, _ = run(capsys, "verify", "-n", "9", "--qubits", "2", "--json")  # auto: too large for dense, so core
    d = json.loads(out)
    assert code == 0 and d["passed"] and d["engine"] == "core"
    code, out, _ = run(capsys, "verify", "-n", "3", "--dim", "3")
    assert code == 0 and "all checks passed" in out and "property 5" in out
    code, out, err = run(capsys, "verify", "-n", "1", "--dim", "2", "--json")
    assert code == 0 and json.loads(out)["dimension"] == 2 and "Y component" in err


@pytest.mark.slow
def test_subprocess_register_verification_at_scale():
    """A register at scale: --clones 10000 --qubits 2 on the core engine (a few seconds)."""
    proc = subprocess.run([sys.executable, "-m", "qclone", "verify", "--clones", "10000", "--qubits", "2",
                           "--engine", "core", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["passed"] and d["num_qubits"] == 40002
    assert any(c["group"] == "recovery" and c["value"] == pytest.approx(1) for c in d["checks"])
