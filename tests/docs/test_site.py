"""The documentation site builds with ``mkdocs build --strict`` (a warning fails it), offline.

It holds the guides, the tutorials and the API reference from the docstrings; every page of
docs/ is in the navigation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
pytest.importorskip("mkdocs", reason="the docs extra: pip install 'qclone[docs]'")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def config() -> dict:
    # mkdocs.yml has no custom tags, so the plain loader reads it
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def nav_files(nav) -> list[str]:
    out = []
    for item in nav:
        for value in item.values() if isinstance(item, dict) else [item]:
            out += nav_files(value) if isinstance(value, list) else [value]
    return out


def test_every_page_is_in_the_navigation():
    cfg = config()
    listed = set(nav_files(cfg["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in [*DOCS.rglob("*.md"), *DOCS.rglob("*.ipynb")] if ".ipynb_checkpoints" not in p.parts}
    assert pages == listed, f"not in mkdocs.yml's nav: {sorted(pages - listed)}; missing files: {sorted(listed - pages)}"
    api = {f for f in listed if f.startswith("api/")}
    assert len(api) == 5
    text = " ".join((DOCS / f).read_text() for f in api)
    for module in ("qclone.protocol", "qclone.sim", "qclone.analysis", "qclone.hardware", "qclone.storage.client"):
        assert f"::: {module}" in text, module


def test_the_site_needs_no_network():
    cfg = config()
    assert cfg["theme"]["font"] is False  # no web fonts fetched
    assert cfg["strict"] is True
    jupyter = next(p["mkdocs-jupyter"] for p in cfg["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p)
    assert jupyter["execute"] is False  # the suite executes the notebooks; the build only renders them


@pytest.mark.slow
def test_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    assert not re.search(r"^WARNING", log, re.M), log[-4000:]
    site = tmp_path / "site"
    for page in ("index.html", "protocol/index.html", "tutorials/01-protocol/index.html", "api/protocol/index.html",
                 "api/storage-client/index.html", "design/storage-notes/index.html"):
        assert (site / page).is_file(), page
    api = (site / "api" / "protocol" / "index.html").read_text()
    assert 'id="qclone.protocol.layout.Layout"' in api  # rendered from the docstrings
    assert 'id="qclone.storage.client.Client"' in (site / "api" / "storage-client" / "index.html").read_text()
    for page in (site / "api").rglob("index.html"):
        assert not re.search(r":(mod|func|class|meth|attr|data|exc):`", page.read_text()), f"a Sphinx role left in {page}"
    import qclone

    assert f"[{qclone.__version__}]" in (site / "changelog" / "index.html").read_text()  # CHANGELOG.md, included
    tutorial = (site / "tutorials" / "02-noise" / "index.html").read_text()
    assert "largest_clones" in tutorial and "data:image/png;base64" in tutorial  # code and inline plots


def test_home_page_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", (DOCS / "index.md").read_text(), re.S).group(1)
    exec(compile(code, "docs/index.md", "exec"), {})
    assert float(capsys.readouterr().out.strip()) == pytest.approx(1.0)
