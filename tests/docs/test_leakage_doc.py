"""docs/leakage.md: every command shown runs, and every output line shown is what it prints."""

import doctest
import os
import re
import shlex
from pathlib import Path

import pytest

from qclone.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "leakage.md"


def console_examples():
    """(command, expected lines) for every ``$ qclone ...`` line of the console blocks."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *expected = chunk.rstrip("\n").split("\n")
            out.append((command, [line for line in expected if line != "..."]))
    return out


EXAMPLES = console_examples()


def test_the_page_has_its_examples():
    assert len(EXAMPLES) >= 20
    assert all(cmd.startswith("qclone ") for cmd, _ in EXAMPLES)


@pytest.mark.parametrize("command, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_command_output_is_as_shown(command, expected, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # placement files are given relative to the repository
    code = main(shlex.split(command)[1:])
    out, err = capsys.readouterr()
    assert code == (1 if "verdict: NOT SAFE" in out else 0), err  # an unsafe placement exits with status 1
    lines = set((out + err).splitlines())
    missing = [line for line in expected if line not in lines]
    assert not missing, f"{command}: not printed: {missing}\n--- printed ---\n{out}{err}"


def test_python_examples():
    text = "\n".join(re.findall(r"```pycon\n(.*?)```", DOC.read_text(), re.S))
    test = doctest.DocTestParser().get_doctest(text, {}, "leakage.md", str(DOC), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_placement_files_in_the_docs_load():
    from qclone.analysis.leakage import load_placement
    for f in sorted((ROOT / "docs" / "placements").glob("*.yaml")):
        assert load_placement(f).resolve(4).party_names
    assert os.path.exists(ROOT / "bench" / "leakage.py")
