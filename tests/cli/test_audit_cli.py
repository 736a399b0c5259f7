"""CLI: qclone audit and qclone classify, in-process and as a subprocess."""

import json
import subprocess
import sys

import pytest

from qclone.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_audit_odd_n_warns_loudly_about_y(capsys):
    code, out, err = run(capsys, "audit", "--clones", "3")
    assert code == 1  # not safe
    assert "NOT SAFE" in out and "vault + client" in out and "<Z(A) X(N1) X(N2) X(N3)> = +<Y>" in out
    assert "qclone: warning: LEAK: the 3 parties holding clones" in err and "Y component" in err


def test_audit_even_n_json_is_safe_and_quiet(capsys):
    code, out, err = run(capsys, "audit", "--clones", "4", "--max-coalition", "3", "--json")
    d = json.loads(out)
    assert code == 0 and err == ""
    assert d["safe"] and d["coalitions_examined"] == 6 + 15 + 20 and d["warnings"] == []
    assert {tuple(f["coalition"]) for f in d["findings"] if f["minimal"]} == {
        ("provider-1", "vault"), ("provider-2", "vault"), ("provider-3", "vault"), ("provider-4", "vault"), ("vault", "client")}


def test_audit_placement_file_register_and_fail_unsafe(capsys, tmp_path):
    f = tmp_path / "mine.yml"
    f.write_text("parties:\n  p1: [S1]\n  p2: [S2]\n  p3: [S3]\n  vault: [N*]\n")
    code, out, err = run(capsys, "audit", "--clones", "3", "--placement", str(f), "--qubits", "4", "--json")
    d = json.loads(out)
    assert code == 1 and d["placement"]["name"] == "mine" and d["register_qubits"] == 4 and not d["safe"]
    assert d["clone_holders_classification"]["mutual_information_bits"] == 4
    assert "LEAK" in err
    code, _, _ = run(capsys, "audit", "--clones", "3", "--placement", str(f), "--fail-unsafe")  # the old flag, hidden: a no-op
    assert code == 1
    code, _, _ = run(capsys, "audit", "--clones", "4")
    assert code == 0


def test_all_subsets_counts_and_lists(capsys):
    code, out, err = run(capsys, "audit", "--clones", "3", "--all-subsets", "--json")
    d = json.loads(out)
    assert code == 0 and d["method"] == "enumeration"
    assert d["without_A"] == {"authorized": 19, "partial": 4, "none": 41, "total": 64, "partial_leaks": {"Y": 4}}
    assert d["with_A"]["partial"] == 4 and d["with_A"]["authorized"] == 41
    code, out, _ = run(capsys, "audit", "--clones", "3", "--all-subsets", "--list", "partial")
    assert code == 0 and "8 partial set(s)" in out and "{A, N1, N2, N3}  leaks Y" in out
    code, out, _ = run(capsys, "audit", "--clones", "10", "--all-subsets", "--json")
    d = json.loads(out)
    assert d["method"] == "orbits" and d["without_A"]["partial"] == 0 and d["without_A"]["total"] == 4**10


def test_classify(capsys):
    code, out, _ = run(capsys, "classify", "--clones", "3", "S1", "S2", "S3")
    assert code == 0 and "partial (leaks Y), I(R:set) = 1 bit" in out and "<Y(S1) Y(S2) Y(S3)> = -<Y>" in out
    code, out, _ = run(capsys, "classify", "-n", "5", "A,S3,N3", "--json")
    d = json.loads(out)
    assert d["kind"] == "authorized" and d["mutual_information_bits"] == 2 and len(d["witnesses"]) == 3
    code, out, _ = run(capsys, "classify", "-n", "5", "S3", "--stage", "decrypted:3")
    assert "authorized" in out
    code, out, _ = run(capsys, "classify", "-n", "4", "S1", "S2", "S3", "S4")
    assert "none (independent of the input), I(R:set) = 0 bits" in out


def test_n1_warns(capsys):
    for args, status in ((["audit", "--clones", "1"], 1), (["audit", "--clones", "1", "--all-subsets"], 0), (["classify", "-n", "1", "S1"], 0)):
        code, _, err = run(capsys, *args)
        assert code == status and "lone clone S_1 is not maximally mixed" in err


@pytest.mark.parametrize("args, fragment", [
    (["audit", "--clones", "3", "--placement", "cloudy"], "neither a placement file nor a built-in policy"),
    (["audit", "--clones", "3", "--placement", "missing.yaml"], "not found"),
    (["audit", "--clones", "3", "--stage", "later"], "unknown stage"),
    (["audit", "--clones", "3", "--all-subsets", "--placement", "providers"], "takes no --placement"),
    (["audit", "--clones", "3", "--list", "partial"], "go with --all-subsets"),
    (["audit", "--clones", "3", "--all-subsets", "--list", "leaky"], "--list takes one of"),
    (["audit", "--clones", "40", "--all-subsets"], "n <= 32"),
    (["audit", "--clones", "3", "--max-coalition", "-1"], "--max-coalition must be at least 0"),
    (["audit", "--clones", "0"], "at least 1"),
    (["classify", "--clones", "3", "S4"], "unknown qubit"),
    (["classify", "--clones", "3", ","], "at least one qubit"),
    (["classify", "--clones", "3"], "Missing argument"),
])
def test_bad_input_is_one_line_and_status_2(capsys, args, fragment):
    code, _, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("qclone: error:") and fragment in lines[0], err


def test_audit_subprocess():
    p = subprocess.run([sys.executable, "-m", "qclone", "audit", "--clones", "5", "--json"], capture_output=True, text=True)
    assert p.returncode == 1 and not json.loads(p.stdout)["safe"]
    assert "LEAK" in p.stderr and "Traceback" not in p.stderr


def test_audit_knows_the_service_placements_and_max_coalition_zero(capsys):
    """One set of built-in names (put's today, keep-A, split-key:V too) and one rule for 0 with storage plan."""
    code, out, err = run(capsys, "audit", "--clones", "4", "--placement", "keep-A", "--max-coalition", "6", "--json")
    d = json.loads(out)
    assert code == 1 and "custodian" in d["placement"]["parties"], err  # A with every clone recovers: not intended
    code, out, err = run(capsys, "audit", "--clones", "4", "--placement", "today", "--max-coalition", "5", "--json")
    assert code == 0 and json.loads(out)["safe"], err
    code, out, err = run(capsys, "audit", "--clones", "6", "--placement", "split-key:3", "--max-coalition", "2", "--json")
    d = json.loads(out)
    assert code == 0 and d["placement"]["parties"]["vault-3"] == ["N5", "N6"], err
    code, out, err = run(capsys, "audit", "--clones", "4", "--max-coalition", "0")
    assert code == 0 and "(0 examined)" in out and "All clone holders together" in out, err
    code, out, err = run(capsys, "audit", "--clones", "4", "--max-coalition", "-1")
    assert code == 2 and err.count("\n") == 1
