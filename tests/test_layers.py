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


# --- one place for each fact: validators, checks, the n = 1 warning, no private imports -------------

REPO = ROOT.parent
ALL_FILES = sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)
#: Everything that imports qclone: the package, its tests and its benchmarks.
CLIENT_FILES = ALL_FILES + sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "bench").rglob("*.py"))
VALIDATORS = ROOT / "errors.py"
CHECKS = ROOT / "analysis" / "checks.py"


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def private_imports(path: Path) -> list[str]:
    """``from qclone.x import _name`` (or ``import qclone.x._y``): a private name taken from another module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qclone":
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("qclone.") and any(
                part.startswith("_") and not part.startswith("__") for part in a.name.split("."))]
    return found


def _is_bool(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "bool"


def bool_checks(path: Path) -> list[int]:
    """Lines with ``isinstance(x, bool)`` or ``isinstance(x, (..., bool, ...))``: a hand-written integer check."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance" and len(node.args) == 2:
            kinds = node.args[1]
            if _is_bool(kinds) or (isinstance(kinds, ast.Tuple) and any(_is_bool(e) for e in kinds.elts)):
                lines.append(node.lineno)
    return lines


def check_like_classes(path: Path) -> list[str]:
    """Classes that are a check (fields ``name`` and ``passed``) or a report (a ``checks`` field or a
    ``passed`` property over ``self.checks``) without deriving from :class:`qclone.analysis.checks.Report`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ClassDef):
            continue
        fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
        bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
        passed_over_checks = any(isinstance(s, ast.FunctionDef) and s.name == "passed" and "self.checks" in ast.unparse(s)
                                 for s in node.body)
        if {"name", "passed"} <= fields or (("checks" in fields or passed_over_checks) and "Report" not in bases):
            out.append(node.name)
    return out


def n1_warning_texts(path: Path) -> list[int]:
    """Lines of string constants that spell out the n = 1 warning."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and "n = 1" in node.value and "not maximally mixed" in node.value]


def n1_warners(path: Path) -> list[str]:
    """Functions that both fetch the n = 1 warning and print a warning: each is a copy of the CLI's one."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            called = {n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
                      for n in ast.walk(node) if isinstance(n, ast.Call)}
            if "single_clone_warning" in called and called & {"warn", "write", "echo", "print"}:
                out.append(node.name)
    return out


@pytest.mark.parametrize("path", CLIENT_FILES, ids=_rel)
def test_no_private_name_is_imported_from_another_module(path):
    assert not private_imports(path), f"{_rel(path)} imports private names: {private_imports(path)}"


@pytest.mark.parametrize("path", [p for p in ALL_FILES if p != VALIDATORS], ids=_rel)
def test_integer_checks_use_the_validators(path):
    lines = bool_checks(path)
    assert not lines, f"{_rel(path)} lines {lines}: use qclone.errors.is_int / is_real / check_int instead of isinstance(x, bool)"


def test_one_check_type_and_one_report_base():
    found = {_rel(p): names for p in ALL_FILES if p != CHECKS and (names := check_like_classes(p))}
    assert not found, f"a second Check/Report type (use qclone.analysis.checks.Check and Report): {found}"
    assert check_like_classes(CHECKS) == ["Check", "Report"]  # the one item and the one base


def test_one_n1_warning():
    texts = {_rel(p): lines for p in ALL_FILES if (lines := n1_warning_texts(p))}
    assert list(texts) == ["qclone/protocol/layout.py"] and len(texts["qclone/protocol/layout.py"]) == 1, texts
    warners = {_rel(p): names for p in ALL_FILES if (names := n1_warners(p))}
    assert warners == {"qclone/cli/output.py": ["warn_single_clone"]}, warners


def test_the_detectors_find_what_they_look_for(tmp_path):
    """The checks above can fail: each detector flags a small example of what it forbids."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from qclone.cli.options import _hidden\n"
        "import qclone.sim._secret\n"
        "from dataclasses import dataclass\n"
        "def f(x):\n"
        "    if isinstance(x, bool) or isinstance(x, (int, bool)):\n"
        "        single_clone_warning(1); warn('x')\n"
        "@dataclass\n"
        "class MyCheck:\n"
        "    name: str\n"
        "    passed: bool\n"
        "class MyReport:\n"
        "    checks: tuple\n"
        "TEXT = 'with n = 1 the clone is not maximally mixed'\n"
    )
    assert private_imports(bad) == ["qclone.cli.options._hidden", "qclone.sim._secret"]
    assert bool_checks(bad) == [5, 5]
    assert check_like_classes(bad) == ["MyCheck", "MyReport"]
    assert n1_warning_texts(bad) == [13] and n1_warners(bad) == ["f"]


def test_sim_core_has_no_import_cycle_and_no_imports_inside_functions():
    core = ROOT / "sim" / "core"
    graph: dict[str, set[str]] = {}
    for path in sorted(core.glob("*.py")):
        name = "qclone.sim.core" if path.stem == "__init__" else f"qclone.sim.core.{path.stem}"
        tree = ast.parse(path.read_text())
        graph[name] = {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module
                       and node.module.startswith("qclone.sim.core.")}
        graph[name] |= {f"qclone.sim.core.{a.name}" for node in tree.body if isinstance(node, ast.ImportFrom)
                        and node.module == "qclone.sim.core" for a in node.names if (core / f"{a.name}.py").exists()}
        nested = [n.lineno for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert not nested, f"{path.name} imports inside functions at lines {nested}"
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            assert state.get(d) != 1, f"import cycle: {' -> '.join([*trail, m, d])}"
            if d not in state:
                visit(d, [*trail, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])
