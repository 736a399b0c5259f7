"""CLI: every command, its JSON, and every bad input as one line on stderr with status 2."""

import json
import subprocess
import sys

import pytest
from qiskit import qasm2

from qclone.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_json_has_the_computed_facts(capsys):
    code, out, err = run(capsys, "demo", "--clones", "4", "--seed", "3", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["clones"] == 4 and d["seed"] == 3
    assert [s["name"] for s in d["shares"]][:2] == ["A", "clone S1"]
    assert all(s["maximally_mixed"] for s in d["shares"])
    assert d["decrypted"]["fidelity"] == pytest.approx(1)
    assert d["second_attempt"]["information_bits"] == pytest.approx(0, abs=1e-9)
    assert "circuit_text" in d


def test_demo_tables(capsys):
    code, out, _ = run(capsys, "demo", "--seed", "1")
    assert code == 0
    assert "After encryption" in out and "clone S5" in out and "key N1..N5" in out
    assert "Try to decrypt clone" in out
    assert "S_0" in out  # the circuit picture


def test_demo_shows_the_vault_lost_and_the_object_still_retrieved_once(capsys):
    code, out, _ = run(capsys, "demo", "--seed", "2", "--no-picture")
    assert code == 0
    text = " ".join(out.split())  # rich wraps long lines
    assert "The vault is lost" in text and "keep-A placement" in text
    assert "get recovers it from the key holders custodian" in text
    assert "A second get: refused with HTTP 409" in text.split("The vault is lost")[1]


def test_n1_warns_everywhere(capsys):
    for args in (["demo", "--clones", "1", "--no-picture"], ["circuit", "--clones", "1"], ["verify", "--clones", "1"]):
        code, _, err = run(capsys, *args)
        assert code == 0
        assert "warning" in err and "Y component" in err


@pytest.mark.parametrize("fmt", ["text", "qasm2", "qasm3", "stim"])
def test_circuit_formats(capsys, fmt):
    code, out, _ = run(capsys, "circuit", "--clones", "3", "--decrypt", "2", "--format", fmt, "--depth", "log")
    assert code == 0 and out.strip()
    if fmt == "qasm2":
        assert qasm2.loads(out).num_nonlocal_gates() == 22


def test_circuit_json(capsys):
    code, out, _ = run(capsys, "circuit", "--clones", "4", "--decrypt", "A", "--json")
    d = json.loads(out)
    assert code == 0
    assert d["two_qubit_gates"] == 36 and d["output_qubit"] == "A"
    code, out, _ = run(capsys, "circuit", "--clones", "4", "--decrypt", "3", "--json")
    assert json.loads(out)["two_qubit_gates"] == 29 and json.loads(out)["output_qubit"] == "S3"


def test_verify_passes_and_json(capsys):
    code, out, _ = run(capsys, "verify", "--clones", "3")
    assert code == 0 and "all checks passed" in out
    code, out, _ = run(capsys, "verify", "--clones", "2", "--json")
    d = json.loads(out)
    assert code == 0 and d["passed"] and len(d["checks"]) > 10


def test_verify_exits_1_on_failure(capsys, monkeypatch):
    import qclone.analysis.verify as v
    from qclone.protocol.build import clone_decryption

    monkeypatch.setattr(v, "clone_decryption", lambda lay, j, circuit=None: clone_decryption(lay, j, circuit=circuit).append("X", [lay.S(j)]))
    code, out, _ = run(capsys, "verify", "--clones", "2", "--json")
    assert code == 1 and not json.loads(out)["passed"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["circuit", "--clones", "0"], "at least 1"),
        (["circuit", "--clones", "-2"], "at least 1"),
        (["circuit", "--clones", "3", "--decrypt", "4"], "1..3"),
        (["circuit", "--clones", "3", "--decrypt", "0"], "1..3"),
        (["circuit", "--clones", "3", "--decrypt", "B"], "clone number or A"),
        (["circuit", "--clones", "3", "--decrypt", "A"], "even"),
        (["circuit", "--clones", "3", "--format", "pdf"], "unknown format"),
        (["circuit", "--clones", "3", "--depth", "cubic"], "depth"),
        (["verify", "--clones", "9", "--engine", "dense"], "n <= 8"),
        (["verify", "--clones", "0"], "at least 1"),
        (["verify", "--clones", "3", "--engine", "magic"], "unknown engine"),
        (["demo", "--clones", "11"], "n <= 10"),
        (["demo", "--clones", "0"], "at least 1"),
        (["verify", "--clones", "many"], "integer"),
        (["verify"], "Missing option"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, args, fragment):
    code, out, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qclone: error:"), err
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_console_script_end_to_end():
    """The installed entry point, in its own process."""
    ok = subprocess.run([sys.executable, "-m", "qclone", "circuit", "--clones", "2", "--format", "stim"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("H 1 2")
    bad = subprocess.run([sys.executable, "-m", "qclone", "circuit", "--clones", "3", "--decrypt", "A"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_verify_help_names_the_engines_and_their_sizes():
    r = subprocess.run([sys.executable, "-m", "qclone", "verify", "--help"], capture_output=True, text=True,
                       env={"COLUMNS": "200", "PATH": ""}, check=True)
    text = " ".join(r.stdout.replace("│", " ").split())
    for fragment in ("auto (default): dense for one qubit up to n = 8, structured beyond", "dense: state vectors, one qubit n <= 8",
                     "structured: Pauli operators pulled back stage by stage", "heisenberg: the same checks with Pauli pull-backs gate by gate",
                     "core: a Clifford on a dense core"):
        assert fragment in text


def test_verify_on_the_core_engine_names_it(capsys):
    code, out, _ = run(capsys, "verify", "--clones", "3", "--engine", "core", "--json")
    d = json.loads(out)
    assert code == 0 and d["engine"] == "core" and d["passed"] and {c["group"] for c in d["checks"]} == set(range(1, 9))


def test_circuit_text_drawing_refuses_beyond_a_terminal(capsys):
    code, out, err = run(capsys, "circuit", "--clones", "1000")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "2001 qubits" in lines[0] and "use --format stim, qasm2 or qasm3" in lines[0]
    code, out, err = run(capsys, "circuit", "--clones", "40")  # 81 qubits
    assert code == 2 and "81 qubits" in err
    code, out, _ = run(capsys, "circuit", "--clones", "12", "--decrypt", "3")
    assert code == 0 and "S_11" in out


@pytest.mark.parametrize("fmt", ["stim", "qasm2", "qasm3"])
def test_circuit_is_streamed_in_every_text_format(capsys, fmt):
    from qclone.protocol import Layout, protocol_circuit, render

    code, out, _ = run(capsys, "circuit", "--clones", "3000", "--decrypt", "17", "--format", fmt)
    assert code == 0
    assert out == render(protocol_circuit(Layout(3000), decrypt=17), fmt) + "\n"


def test_verify_engines_by_size(capsys):
    """auto: dense up to 8 clones (linear depth), structured beyond; every engine name does what it says."""
    for args, engine in ((["--clones", "8"], "dense"), (["--clones", "9"], "structured"), (["--clones", "4", "--depth", "log"], "structured"),
                         (["--clones", "9", "--engine", "heisenberg"], "heisenberg"), (["--clones", "3", "--engine", "structured"], "structured")):
        code, out, _ = run(capsys, "verify", *args, "--json")
        d = json.loads(out)
        assert code == 0 and d["passed"] and d["engine"] == engine, (args, d["engine"])
    code, out, _ = run(capsys, "verify", "--clones", "100000000", "--json")
    d = json.loads(out)
    assert code == 0 and d["passed"] and d["engine"] == "structured" and len(d["checked_clones"]) == 100
    assert d["checks"][0]["group"] == 1 and "stages only" in d["checks"][0]["detail"]


def test_text_drawing_of_a_huge_circuit_is_refused_before_building_it(capsys, monkeypatch):
    import qclone.cli.protocol as cli_protocol

    def no_build(*args, **kwargs):
        raise AssertionError("the circuit was built")

    monkeypatch.setattr(cli_protocol, "protocol_circuit", no_build)
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, "circuit", "--clones", "100000000", *extra)
        assert code == 2 and out == "" and "200000001 qubits" in err and len(err.strip().splitlines()) == 1
