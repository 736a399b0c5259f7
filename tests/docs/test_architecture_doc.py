"""docs/architecture.md: the layers in order, every module of the package named, every "read first" real."""

import importlib
import re
from pathlib import Path

import pytest

from tests.test_layers import LAYERS

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docs" / "architecture.md").read_text()


def _sections() -> dict[str, str]:
    parts = re.split(r"^## `qclone\.(\w+)`.*$", TEXT, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_layers_are_the_enforced_ones_in_order():
    assert list(_sections()) == LAYERS
    assert "  <  ".join(LAYERS) in TEXT


@pytest.mark.parametrize("layer", [x for x in LAYERS if x != "errors"])
def test_every_module_of_a_layer_is_named_and_every_named_module_exists(layer):
    section = _sections()[layer]
    first_cells = re.findall(r"^\| ([^|]*) \|", section, flags=re.MULTILINE)  # a table row names its modules first
    named = {m for cell in first_cells for m in re.findall(r"`([a-z0-9_]+(?:\.py|/))`", cell)}
    package = ROOT / "qclone" / layer
    actual = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    actual |= {p.name + "/" for p in package.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert not actual - named, f"docs/architecture.md does not name qclone/{layer}: {sorted(actual - named)}"
    assert not named - actual, f"docs/architecture.md names modules qclone/{layer} does not have: {sorted(named - actual)}"


def test_every_read_first_exists():
    found = re.findall(r"\*\*Read first:\*\* `qclone/([\w/]+)\.py: (\w+)`", TEXT)
    assert [path.split("/")[0].removesuffix(".py") for path, _ in found] == LAYERS
    for path, name in found:
        module = importlib.import_module("qclone." + path.removesuffix("/__init__").replace("/", "."))
        assert hasattr(module, name), f"qclone.{path} has no {name}"
