"""The README's opening commands and its Python example stay true."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```\n(.*?)```", text, re.S).group(1).split()
    assert first_block == ["make", "demo", "make", "test"]


def test_readme_python_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    assert float(capsys.readouterr().out.strip()) == pytest.approx(1.0)


def test_readme_commands_exist(capsys):
    """Every ``qclone`` command the README shows is a real command (its --help works)."""
    from qclone.cli.main import main

    shown = re.findall(r"^\.venv/bin/qclone ((?:[a-z][a-z-]* ?)+)", README.read_text(), re.M)
    assert len(shown) > 10
    for words in shown:
        args = words.split()
        # a command is its words up to the first argument (an object name such as psi)
        while args and main([*args, "--help"]) != 0:
            args.pop()
        assert args, f"no qclone command in {words!r}"
    capsys.readouterr()
