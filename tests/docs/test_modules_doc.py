"""docs/modules.md and docs/core-engine.md: every example runs and prints what the page shows."""

import doctest
import re
import shlex
from pathlib import Path

import pytest

from qclone.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "docs" / "modules.md", ROOT / "docs" / "core-engine.md"]


def console_examples():
    out = []
    for block in re.findall(r"```console\n(.*?)```", (ROOT / "docs" / "modules.md").read_text(), re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *expected = chunk.rstrip("\n").split("\n")
            out.append((command, [line for line in expected if line != "..."]))
    return out


EXAMPLES = console_examples()


@pytest.mark.parametrize("command, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_command_output_is_as_shown(command, expected, capsys):
    code = main(shlex.split(command)[1:])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = set((out + err).splitlines())
    assert not [line for line in expected if line not in lines], f"{command}:\n{out}{err}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_examples(page):
    text = "\n".join(re.findall(r"```pycon\n(.*?)```", page.read_text(), re.S))
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert test.examples


def test_the_benchmark_named_on_the_page_exists():
    assert (ROOT / "bench" / "core_engine.py").is_file()
    assert len(EXAMPLES) >= 3
