"""ruff and mypy, as configured in pyproject.toml, pass; every noqa and type: ignore says why.

``make test`` runs these with the rest of the suite (``make lint`` runs the two tools alone).
"""

import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("qclone", "tests", "bench") for p in sorted((REPO / d).rglob("*.py"))]
#: After "noqa" or "type: ignore": the code(s), a separator (-, #, :, em dash or parenthesis), then words.
SUPPRESSION = re.compile(r"#\s*(noqa|type:\s*ignore)\b(?P<rest>.*)$")
WITH_REASON = re.compile(r"^(:\s*[A-Z]+[0-9]+(,\s*[A-Z]+[0-9]+)*|\[[-a-z, ]+\])\s*(#|-|—|:|\()\s*\S.{2,}")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_passes():
    r = _run("ruff", "check", "qclone", "tests", "bench")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_mypy_passes():
    r = _run("mypy")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def suppressions_without_reason(text: str) -> list[int]:
    """Lines whose comment is a bare ``# noqa``/``# type: ignore`` (no code or no reason after it)."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT and (m := SUPPRESSION.search(tok.string)) and not WITH_REASON.match(m.group("rest")):
            out.append(tok.start[0])
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_suppression_names_its_reason(path):
    lines = suppressions_without_reason(path.read_text())
    assert not lines, f"{path.relative_to(REPO)} lines {lines}: write '# noqa: CODE - why' or '# type: ignore[code]  # why'"


def test_the_reason_check_can_fail():
    bad = "x = 1  # noqa\ny = 2  # noqa: E501\nz = f()  # type: ignore[arg-type]\nw = 3  # type: ignore\n"
    good = "x = 1  # noqa: E501 - a URL\nz = f()  # type: ignore[arg-type]  # stub is wrong\n"
    assert suppressions_without_reason(bad) == [1, 2, 3, 4]
    assert suppressions_without_reason(good) == []
