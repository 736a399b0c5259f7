"""docs/resilience.md: every table is what the command above it prints (re-run here through the CLI's JSON)."""

import json
import re
import shlex
from pathlib import Path

import pytest

from qclone.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "resilience.md"


def command_tables() -> list[tuple[list[str], list[list[str]]]]:
    """(command arguments, table rows) for every ```qclone ...``` block followed by a table."""
    text = DOC.read_text()
    out = []
    for m in re.finditer(r"```\n(qclone [^\n]+)\n```\n(.*?)(?=\n```|\n## |\Z)", text, re.S):
        rows = [[c.strip() for c in line.strip().strip("|").split("|")]
                for line in m.group(2).splitlines() if line.startswith("|") and not line.startswith("|---")]
        if rows:
            out.append((shlex.split(m.group(1))[1:], rows[1:]))
    return out


def run_json(capsys, args: list[str]) -> dict:
    code = main([*args, "--json"])
    r = json.loads(capsys.readouterr().out)
    # a placement that does not meet the trust requirement is a result, exit status 1 (like an unsafe audit)
    met = r["placement"]["audit"]["learn_nothing"] if "--placement" in args else True
    assert code == (0 if met else 1), (code, args)
    return r


def test_every_command_is_checked():
    commands = [" ".join(args[:3]) for args, _ in command_tables()]
    assert commands.count("storage simulate --compare") == 2
    assert sum(c.startswith("storage plan") for c in commands) == 2
    assert sum(c.startswith("storage simulate -n") for c in commands) == 1


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4])
def test_tables_are_reproduced(capsys, tmp_path, index):
    args, rows = command_tables()[index]
    args = [str(DOC.parents[1] / a) if a.startswith("docs/") and "--plot" not in args[i - 1:i] else a
            for i, a in enumerate(args)]
    if "--plot" in args:  # draw into a temporary file, not over the page's figure
        args[args.index("--plot") + 1] = str(tmp_path / "front.png")
    r = run_json(capsys, args)
    if "--compare" in args:
        assert len(rows) == len(r["rows"])
        for doc, row in zip(rows, r["rows"]):
            assert doc[0] == row["scheme"] and int(doc[1].split()[0]) == row["units"]
            assert [int(x) for x in doc[2:5]] == [row["parties"], row["needed"], row["secrecy"]]
            assert float(doc[5]) == pytest.approx(row["durability"], abs=1e-9)
            assert float(doc[7]) == pytest.approx(row["fidelity"], abs=5e-5)
            ex = row["expected_fidelity"]
            assert float(doc[8]) == pytest.approx(ex["plain"], abs=5e-5)
            assert doc[9] == "-" if ex["corrected"] is None else float(doc[9]) == pytest.approx(ex["corrected"], abs=5e-5)
    elif args[:2] == ["storage", "plan"]:
        front = [r["placement"]] if "--placement" in args else r["front"]
        assert len(rows) == len(front)
        for doc, e in zip(rows, front):
            assert [int(x) for x in doc[:3]] == [e["qubits"], e["clones"], e["parties"]]
            assert float(doc[3]) == pytest.approx(e["durability"], abs=1e-9)
            assert float(doc[5]) == pytest.approx(e["fidelity"]["average_fidelity"], abs=5e-5)
            where = " ".join(f"{p}:{','.join(labels)}" for p, labels in e["placement"].items())
            assert doc[6] == f"`{where}`"
        if "--placement" in args:
            learn = r["placement"]["audit"]["coalitions_that_learn"]
            text = " ".join(DOC.read_text().split())
            assert f"{len(learn)} coalition(s) learn something: {'; '.join(' + '.join(c) for c in learn)}." in text
        else:
            assert f"{r['evaluated']} candidates, {r['rejected_secrecy']} rejected for secrecy" in DOC.read_text()
    else:
        computed = [r["single_copy"], *r["by_clones"]]
        assert len(rows) == len(computed)
        for doc, row in zip(rows, computed):
            assert int(doc[1].replace(",", "")) == row["lost"]
            assert float(doc[2]) == pytest.approx(row["durability"], abs=5e-7)
            assert float(doc[3]) == pytest.approx(row["analytic"], abs=5e-7)


def test_figure_and_example_file_exist():
    fig = DOC.parent / "img" / "resilience_front.png"
    assert "img/resilience_front.png" in DOC.read_text()
    assert 10_000 < fig.stat().st_size < 300_000
    assert (DOC.parent / "examples" / "resilience-parties.yaml").is_file()
    assert (DOC.parent / "examples" / "resilience-placement.yaml").is_file()
