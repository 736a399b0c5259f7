"""docs/scaling-storage.md: its figures are the model's, made from the benchmark's recorded figures."""

import json
import re
from pathlib import Path

from qclone.storage.capacity import million_report, report

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "scaling-storage.md").read_text()
FIGURES = json.loads((ROOT / "docs" / "scaling" / "figures.json").read_text())
MILLION = json.loads((ROOT / "docs" / "scaling" / "million.json").read_text())


def test_the_tables_are_the_models_from_the_recorded_figures():
    assert (ROOT / "docs" / "scaling" / "tables.txt").read_text() == report(FIGURES)


def test_the_page_includes_every_section_and_names_the_command():
    included = re.findall(r'^--8<-- "docs/scaling/(\w+)\.txt:(\w+)"$', PAGE, flags=re.M)
    assert included == [("tables", "costs"), ("tables", "scale"), ("tables", "storage"), ("million", "million")]
    assert FIGURES["command"].startswith("nice -n 10 .venv/bin/python bench/storage_scaleout.py ")
    assert "--write-docs" in FIGURES["command"].split()
    assert "bench/storage_scaleout.py --write-docs" in PAGE


def test_the_page_types_no_figure_of_its_own():
    # numbers in the prose are parameters of the method (n = 4 clones, 16 rows of 1 KB, 20 %), never results
    prose = re.sub(r"```.*?```|^--8<-- .*$", "", PAGE, flags=re.S | re.M)
    numbers = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", prose))
    assert numbers <= {"1", "4", "16", "20"}, numbers


def test_the_recorded_runs_are_one_and_two_processes_of_both_services():
    for kind in ("qclone", "peer"):
        assert set(FIGURES["runs"][kind]) == {"1", "2"}
        for r in FIGURES["runs"][kind].values():
            assert r["errors"] == 0 and r["round_trips"] > 0


def test_the_million_section_is_made_from_its_recorded_run():
    assert (ROOT / "docs" / "scaling" / "million.txt").read_text() == million_report(MILLION)
    assert MILLION["ok"] and MILLION["objects"] == 1_000_000
    assert [p["objects"] for p in MILLION["checkpoints"]] == [1_000, 100_000, 1_000_000]
    assert MILLION["command"] in PAGE  # the page names the command of the figures it shows
    assert MILLION["flatness"] == MILLION["checkpoints"][-1]["maintained"]["ratios"]
