"""The files a release ships beside the code: the license, the changelog and one version source."""

import hashlib
import re
import tomllib
from importlib import metadata
from pathlib import Path

import qclone

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_the_apache_2_text_the_metadata_declares():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # the verbatim text as the Apache Software Foundation publishes it (the same bytes many packages ship)
    assert hashlib.md5((ROOT / "LICENSE").read_bytes()).hexdigest() == "3b83ef96387f14655fc854ddc3c6bd57"


def test_one_version_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "qclone.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", qclone.__version__)
    assert metadata.version("qclone") == qclone.__version__


def test_changelog_records_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", text, re.M)
    assert releases, "no released version in CHANGELOG.md"
    assert releases[0][0] == qclone.__version__, "the newest release in CHANGELOG.md is not qclone.__version__"
    sections = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert sections[0] in ("Unreleased", qclone.__version__)
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        kinds = re.findall(r"^### (\w+)", block, re.M)
        assert set(kinds) <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, kinds
