"""The repository stands alone: no pointer to files it does not ship, no internal labels.

Every Markdown page, notebook, module, test and script is read; the patterns are
assembled from parts so that this file does not match itself.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = {".md", ".py", ".toml", ".yml", ".yaml", ".ipynb", ".cfg", ".txt"}

FORBIDDEN = [
    re.compile(r"\b" + "PROTOCOL" + r"\.md\b"),                 # a background note that is not part of the product
    re.compile(r"\b" + "CONTRACTS" + r"\.md\b"),
    re.compile(r"\.\./" + "shared\\b"),
    re.compile(r"\b[Ii]" + r"ssue \d+"),                      # tracker numbers
    re.compile(r"\b[Ii]" + r"ssue's\b"),
    re.compile(r"\bthe \w+ " + r"issue\b"),                   # "the scale ..." style internal labels
    re.compile(r"\bTargets? \(" + r"i"),
    re.compile(r"project work" + r"space"),
]


def repo_files() -> list[Path]:
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / f for f in out if Path(f).suffix in SUFFIXES or Path(f).name in {"Makefile", "README.md"}]


def text_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        return "\n".join("".join(c["source"]) for c in nb["cells"])
    return path.read_text(errors="replace")


def test_no_reference_to_files_the_repository_does_not_ship_or_to_internal_labels():
    found = []
    for path in repo_files():
        if not path.is_file():
            continue
        for lineno, line in enumerate(text_of(path).splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:100]}" for rx in FORBIDDEN if rx.search(line)]
    assert not found, "\n".join(found)


PATH_IN_DOC = re.compile(r"`((?:docs|tests|bench|qclone)/[\w./-]+?)(?:::[\w\[\]-]+)*`|\]\(([^)#:]+?)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")]),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_page_names_exists(page):
    missing = []
    for m in PATH_IN_DOC.finditer(page.read_text()):
        name = m.group(1) or m.group(2)
        if name.startswith(("http", "mailto")) or "*" in name or "{" in name:
            continue
        # backticked paths are relative to the repository, links to the page
        target = (ROOT / name) if m.group(1) else (page.parent / name)
        if not target.exists():
            missing.append(name)
    assert not missing, f"{page.relative_to(ROOT)} names files the repository does not have: {missing}"


def test_the_detector_finds_what_it_looks_for():
    bad = ["see " + "PROTOCOL" + ".md", "Target (" + "iss" + "ue 8)", "the scale " + "iss" + "ue's model", "../" + "shared/x"]
    assert all(any(rx.search(s) for rx in FORBIDDEN) for s in bad)
    assert not any(rx.search("the vault issues a grant; issue_grant(...)") for rx in FORBIDDEN)
