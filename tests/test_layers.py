"""The package is layered: a module never imports from a higher layer."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "qclone"
#: Layers from lowest to highest; ``errors`` sits below everything.
LAYERS = ["errors", "protocol", "sim", "analysis", "hardware", "storage", "cli"]


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "qclone" or len(parts) < 2:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


FILES = sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT and "migrations" not in p.parts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_imports(path):
    own = layer_of("qclone." + path.relative_to(ROOT).parts[0])
    upward = [m for m in imports_of(path) if (lay := layer_of(m)) is not None and lay > own]
    assert not upward, f"{path.relative_to(ROOT)} imports a higher layer: {upward}"
