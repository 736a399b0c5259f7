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


def test_readme_hardware_capacity_and_fidelity_figures():
    """The README's 63 clones is the layout capacity; the fidelities it quotes are the device simulation's CSV."""
    import csv

    text = " ".join(README.read_text().split())
    cap = re.search(r"The layout fits up to (\d+) clones on a 156-qubit Heron r2: that is its capacity", text)
    assert cap, "the README must say that 63 clones is the layout's capacity"
    from qclone.hardware.devices import get_backend
    from qclone.hardware.layout import max_clones

    assert int(cap.group(1)) == max_clones(get_backend("fake_fez"))
    quoted = re.search(r"falls below the classical limit 2/3 between n = (\d+) and n = (\d+) "
                       r"\(([0-9.]+) at n = \1, ([0-9.]+) at n = \2\)", text)
    assert quoted, "the README must quote where the simulated fidelity falls below 2/3"
    with (README.parent / "docs" / "img" / "mps" / "hardware_fake_fez.csv").open() as fh:
        measured = {int(r["clones"]): float(r["average_fidelity"]) for r in csv.DictReader(fh)}
    lo, hi, f_lo, f_hi = int(quoted.group(1)), int(quoted.group(2)), float(quoted.group(3)), float(quoted.group(4))
    assert round(measured[lo], 2) == f_lo > 2 / 3 > f_hi == round(measured[hi], 2)
