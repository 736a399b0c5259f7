"""The tutorials under docs/tutorials run from top to bottom and draw their plots inline.

Each notebook is executed afresh with nbclient in a scratch directory (nothing is written beside
it); a cell that raises fails the test with the cell's source and traceback. The storage tutorial
starts a server process, so it runs in the serial group (``service``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the docs extra: pip install 'qclone[docs]'")
nbclient = pytest.importorskip("nbclient", reason="the docs extra: pip install 'qclone[docs]'")

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
#: Seconds one cell may take (the slowest cells take a few seconds on two shared cores).
CELL_TIMEOUT = 120
SERVICE = {"04-storage-sdk.ipynb"}


def execute(path: Path, workdir: Path):
    book = nbformat.read(path, as_version=4)
    env = {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment: qclone from this checkout
    try:
        client = nbclient.NotebookClient(book, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return book


def notebooks():
    found = sorted(TUTORIALS.glob("*.ipynb"))
    return [pytest.param(p, id=p.name, marks=[pytest.mark.service] if p.name in SERVICE else []) for p in found]


def test_the_four_tutorials_are_there():
    assert [p.name for p in sorted(TUTORIALS.glob("*.ipynb"))] == [
        "01-protocol.ipynb", "02-noise.ipynb", "03-leakage.ipynb", "04-storage-sdk.ipynb"]


@pytest.mark.parametrize("path", notebooks())
def test_tutorial_runs_and_plots_inline(path, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    book = execute(path, work)
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} draws no plot inline"
    # every cell that draws a figure shows it
    for cell in book.cells:
        if cell.cell_type == "code" and ("plt.show()" in cell.source or "_figure(" in cell.source.splitlines()[-1]):
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source[:200]
    assert not any(work.iterdir()), f"{path.name} left files in its working directory"
    shutil.rmtree(work)


def test_tutorials_pass_ruff():
    """The code users copy from the tutorials follows the project's lint rules (pyproject.toml)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "ruff", "check", str(TUTORIALS)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]
