"""``qclone storage plan`` and ``qclone storage simulate --compare`` / ``--zones``: JSON, tables, plots, errors."""

import json

import pytest

from qclone.cli.main import main

PARTIES = """\
zones: {eu: 0.002, us: 0.002}
parties:
  aws-eu: {failure: 0.01, zone: eu}
  gcp-eu: {failure: 0.01, zone: eu}
  aws-us: {failure: 0.02, zone: us}
  vault: {failure: 0.001, kind: vault}
  tenant: {failure: 0.05, kind: custodian, t1: 7200, t2: 7200}
trust: {max_coalition: 1}
budget: 7
"""


def _run(capsys, args):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def parties(tmp_path):
    f = tmp_path / "parties.yaml"
    f.write_text(PARTIES)
    return f


def test_plan_json(capsys, parties, tmp_path):
    plot = tmp_path / "front.svg"
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--storage-time", "600", "--plot", str(plot), "--json"])
    assert code == 0, err
    r = json.loads(out)
    assert r["budget"] == 7 and r["trust"]["max_coalition"] == 1 and r["plots"] == [str(plot)]
    qubits = [e["qubits"] for e in r["front"]]
    assert qubits == sorted(qubits) and max(qubits) <= 7
    durability = [e["durability"] for e in r["front"]]
    assert durability == sorted(durability) and len(set(durability)) == len(durability)
    assert all(e["audit"]["learn_nothing"] and e["fidelity"]["average_fidelity"] > 0.5 for e in r["front"])
    assert plot.stat().st_size > 1000


def test_plan_table_and_overrides(capsys, parties):
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--budget", "5"])
    assert code == 0, err
    text = " ".join(out.split())
    assert "every coalition of up to 1 party learns nothing, at most 5 qubits" in text
    assert "durability" in out and "vault:N" in out
    # with a single vault, every candidate lets two parties recover (the vault and a provider, or two pairs)
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--budget", "5", "--max-coalition", "2"])
    assert code == 0, err
    assert "no placement meets the trust requirement" in out


@pytest.mark.parametrize(("content", "message"), [
    ("parties: {a: {failure: 2}}\nbudget: 5\n", "probability"),
    ("parties: {a: {failure: 0.1}}\n", "budget"),
    ("parties: {a: {failure: 0.1, zone: mars}}\nbudget: 5\n", "not declared"),
    ("parties: [oops\n", "not valid YAML"),
])
def test_plan_bad_files(capsys, tmp_path, content, message):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    code, out, err = _run(capsys, ["storage", "plan", str(f)])
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_plan_missing_file(capsys, tmp_path):
    code, _, err = _run(capsys, ["storage", "plan", str(tmp_path / "nope.yaml")])
    assert code == 2 and "not found" in err


def test_compare_json_and_table(capsys):
    args = ["storage", "simulate", "--compare", "-n", "4", "--failure-rate", "0.05", "--vault-failure-rate", "0.01",
            "--zones", "2", "--zone-failure-rate", "0.01", "--storage-time", "600"]
    code, out, err = _run(capsys, [*args, "--json"])
    assert code == 0, err
    r = json.loads(out)
    assert [row["scheme"] for row in r["rows"]] == ["single copy", "encrypted, vault", "encrypted, keep-A",
                                                    "encrypted, key split over 2 vaults", "((3,5)) [[5,1,3]]",
                                                    "((2,3)) qutrit"]
    assert r["parameters"]["zones"] == 2
    code, out, err = _run(capsys, args)
    assert code == 0, err
    assert "((2,3)) qutrit" in out and "3 qutrits" in out and "secrecy" in out


def test_simulate_with_zones(capsys):
    code, out, err = _run(capsys, ["storage", "simulate", "-n", "3", "--failure-rate", "0.2", "--zones", "3",
                                   "--zone-failure-rate", "0.1", "-m", "20000", "--seed", "2", "--json"])
    assert code == 0, err
    r = json.loads(out)
    assert r["encrypted"]["analytic"] == pytest.approx(1 - (0.1 + 0.9 * 0.2) ** 3)
    code, out, err = _run(capsys, ["storage", "simulate", "--zone-failure-rate", "0.1", "-m", "10"])
    assert code == 2 and "zone" in err


def test_compare_refuses_options_it_does_not_use(capsys):
    code, out, err = _run(capsys, ["storage", "simulate", "--compare", "--qubits", "2"])
    assert code == 2 and "--compare" in err and out == ""


def test_plan_evaluates_one_placement(capsys, parties, tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("parties:\n  aws-eu: [S1]\n  aws-us: [S2]\n  vault: [N*]\n  tenant: [A]\n")
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", str(f), "-n", "2", "--json"])
    assert code == 0, err
    e = json.loads(out)["placement"]
    assert e["clones"] == 2 and e["qubits"] == 5 and e["audit"]["learn_nothing"]
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", str(f), "-n", "2", "--max-coalition", "3"])
    assert code == 1 and "qclone: error" not in err  # like audit: a result, the report says what failed
    assert "trust NOT met" in out
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", str(f)])
    assert code == 2 and "--clones" in err
    f.write_text("parties:\n  nobody: [S1]\n")
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", str(f), "-n", "2"])
    assert code == 2 and "unknown party" in err


def test_max_coalition_zero_means_no_requirement_by_size_as_in_audit(capsys, parties, tmp_path):
    """0 asks nothing of coalitions by size (the audit examines none by size, as `audit --max-coalition 0`)."""
    f = tmp_path / "mine.yaml"
    f.write_text("parties:\n  aws-eu: [S1]\n  aws-us: [S2]\n  vault: [N*]\n  tenant: [A]\n")
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", str(f), "-n", "2",
                                   "--max-coalition", "0", "--json"])
    e = json.loads(out)["placement"]
    assert code == 0 and e["audit"]["learn_nothing"] and e["audit"]["coalitions_examined"] == 0, err
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", str(f), "-n", "2", "--max-coalition", "0"])
    assert code == 0 and "trust met: no secrecy requirement (max-coalition 0)" in out, err
    assert "up to 0" not in out


def test_builtin_placement_names_are_laid_on_the_model(capsys, parties):
    """put's names work here too: providers, vaults and the custodian of the file, in its order."""
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", "keep-A", "-n", "2", "--json"])
    assert code == 0, err
    assert json.loads(out)["placement"]["placement"] == {"aws-eu": ["S1"], "gcp-eu": ["S2"], "vault": ["N1", "N2"],
                                                         "tenant": ["A"]}
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", "today", "-n", "2", "--json"])
    assert code == 0 and "tenant" not in json.loads(out)["placement"]["placement"], err
    code, out, err = _run(capsys, ["storage", "plan", str(parties), "--placement", "split-key", "-n", "2"])
    assert code == 2 and "kind vault" in err  # one vault in the file
