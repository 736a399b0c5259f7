"""Install in parts: the core runs without the extras, a command that needs one says which, and
``qclone --help`` imports neither the library nor any heavy package.

The venv has every extra installed, so a missing one is simulated in a subprocess by a meta-path
finder that refuses to import the extras' modules (as a fresh ``pip install qclone`` would).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from qclone.cli.exits import BAD_INPUT, EXTRAS, describe_exit, extra_message, extra_of, has_extra

ROOT = Path(__file__).resolve().parents[2]

#: Installs the finder that makes the modules of the extras named in argv[1] (comma-separated) missing.
BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    from qclone.cli.exits import EXTRAS
    BLOCKED = {m for extra in sys.argv[1].split(",") if extra for m in EXTRAS[extra]}
    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Missing())
""")


def python(code: str, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code), *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


# --- qclone --help: the import graph of the entry point -----------------------------------------

#: Never imported by ``import qclone.cli.main`` or ``qclone --help`` (typer and rich are).
HEAVY = ("numpy", "scipy", "qiskit", "qiskit_aer", "qiskit_ibm_runtime", "qiskit_experiments", "qiskit_qasm3_import", "stim",
         "sinter", "matplotlib", "yaml", "pandas", "fastapi", "starlette", "pydantic", "uvicorn", "sqlalchemy", "alembic", "psycopg",
         "httpx", "orjson", "cryptography", "dask", "distributed")
#: The only qclone modules ``qclone --help`` loads.
ENTRY = {"qclone", "qclone.errors", "qclone.cli", "qclone.cli.main", "qclone.cli.exits", "qclone.cli.output"}

LOADED = """
    import io, json, sys, contextlib
    {statement}
    print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(statement: str) -> set[str]:
    p = python(textwrap.dedent(LOADED).format(statement=statement), "")
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.splitlines()[-1]))


@pytest.mark.parametrize("statement", [
    "import qclone.cli.main",
    "from qclone.cli.main import main\nwith contextlib.redirect_stdout(io.StringIO()): main(['--help'])",
    "from qclone.cli.main import main\nwith contextlib.redirect_stdout(io.StringIO()): main(['--version'])",
])
def test_the_entry_point_imports_nothing_heavy(statement):
    mods = loaded_modules(statement)
    heavy = sorted(m for m in mods if m.split(".")[0] in HEAVY)
    assert not heavy, f"qclone --help imports {heavy[:10]}"
    assert {m for m in mods if m.split(".")[0] == "qclone"} <= ENTRY


def test_the_guard_sees_a_heavy_import():
    """The check above can fail: a command module imports the library (numpy among others)."""
    mods = loaded_modules("import qclone.cli.protocol")
    assert "numpy" in mods and "qclone.cli.protocol" in mods


# --- the core without the extras ----------------------------------------------------------------

CORE = """
    import importlib, io, json, pkgutil, sys, contextlib
    import qclone
    failed = {}
    for m in pkgutil.walk_packages(qclone.__path__, "qclone."):
        if m.name.startswith("qclone.storage") or m.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(m.name)
        except ImportError as e:
            failed[m.name] = str(e)
    from qclone.cli.main import main
    runs = {}
    for args in json.loads(sys.argv[2]):
        out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()  # circuit writes to stdout.buffer
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        out.flush()
        runs[" ".join(args)] = [code, out.buffer.getvalue().decode(), err.getvalue()]
    print(json.dumps({"failed": failed, "runs": runs}))
"""

CORE_COMMANDS = [
    ["circuit", "--clones", "3", "--decrypt", "2", "--format", "qasm3"],
    ["verify", "--clones", "4"],
    ["audit", "--clones", "4"],
    ["classify", "--clones", "3", "S1", "S2", "S3"],
    ["scaling", "--noise", "memory", "-p", "0.01", "--depth", "linear", "--json"],
    ["sweep", "--clones", "2", "--noise", "depolarizing", "-p", "0.01", "--shots", "200", "--workers", "1", "--json"],
    ["storage", "simulate", "--clones", "2", "--objects", "1000", "--seed", "1", "--json"],
    ["storage", "plan", "docs/examples/resilience-parties.yaml", "--json"],
    ["demo", "--clones", "2", "--seed", "1", "--json"],
]
NEEDS = {
    "storage": [["serve", "--data-dir", "never-created"], ["put", "x", "--bloch", "0,0,1", "--token", "t"], ["ls", "--token", "t"],
                ["tenant", "create", "bob", "--data-dir", "never-created"], ["storage", "rotate-key", "--data-dir", "d", "--role", "vault"]],
    "hardware": [["hardware", "run", "--backend", "fake_fez", "--clones", "2", "--shots", "10"],
                 ["hardware", "layout", "--backend", "fake_fez", "--clones", "2"]],
    "dask": [["sweep", "--clones", "2", "--noise", "depolarizing", "-p", "0.01", "--shots", "10", "--dask-scheduler", "tcp://127.0.0.1:9"]],
}


def test_the_core_imports_and_runs_without_the_extras(tmp_path):
    p = python(CORE, ",".join(EXTRAS), json.dumps(CORE_COMMANDS + [a for need in NEEDS.values() for a in need]))
    assert p.returncode == 0, p.stderr[-3000:]
    report = json.loads(p.stdout.splitlines()[-1])
    assert report["failed"] == {}, report["failed"]  # protocol, sim, analysis, hardware (its imports are lazy), cli
    runs = report["runs"]
    for args in CORE_COMMANDS:
        code, out, err = runs[" ".join(args)]
        assert code == 0 and out, (args, err)
    demo = json.loads(runs[" ".join(CORE_COMMANDS[-1])][1])
    assert "storage" not in demo and extra_message("storage") in runs[" ".join(CORE_COMMANDS[-1])][2]  # skipped, and said so
    for extra, commands in NEEDS.items():
        for args in commands:
            code, out, err = runs[" ".join(args)]
            assert code == BAD_INPUT and out == "" and err == f"qclone: error: {extra_message(extra)}\n", (args, err)
    assert not (ROOT / "never-created").exists()


def test_the_missing_extra_helper_in_process():
    assert extra_of(ModuleNotFoundError("No module named 'fastapi.routing'", name="fastapi.routing")) == "storage"
    assert extra_of(ModuleNotFoundError("No module named 'qiskit_aer'", name="qiskit_aer")) == "hardware"
    assert extra_of(ModuleNotFoundError("No module named 'numpy'", name="numpy")) is None  # the core: a broken install, not an extra
    assert describe_exit(ImportError("x", name="distributed")) == (BAD_INPUT, f"qclone: error: {extra_message('dask')}")
    assert extra_message("storage") == "this command needs qclone[storage]: pip install 'qclone[storage]'"
    assert all(has_extra(e) for e in EXTRAS)  # this venv has everything


def test_pyproject_declares_the_parts():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {r.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in reqs}

    core = names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert core == {"numpy", "scipy", "qiskit", "qiskit-qasm3-import", "stim", "sinter", "typer", "rich", "matplotlib", "pyyaml"}
    assert {"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "httpx", "orjson", "cryptography"} <= names(extras["storage"])
    assert {"qiskit-aer", "qiskit-ibm-runtime", "qiskit-experiments"} <= names(extras["hardware"])
    assert {"dask", "distributed"} <= names(extras["dask"])
    assert {"qclone[storage,hardware,dask]"} <= {r.replace(" ", "") for r in extras["all"]}
    assert "'.[all,test]'" in (ROOT / "Makefile").read_text()
    # every module an extra provides is named in qclone.cli.exits.EXTRAS, so its absence is explained
    import importlib.metadata

    for extra, modules in EXTRAS.items():
        for module in modules:
            assert importlib.metadata.packages_distributions().get(module), (extra, module)
