"""docs/storage.md: the crash points and audit actions it lists are the ones the service has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "storage.md").read_text()
STORAGE = ROOT / "qclone" / "storage"
SERVICE = "".join(p.read_text() for p in [*sorted((STORAGE / "service").glob("*.py")), STORAGE / "api.py"])


def _section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end]


def test_crash_point_table_matches_the_code() -> None:
    in_code = set(re.findall(r'crash_point\("([a-z.]+)"\)', SERVICE))
    in_doc = set(re.findall(r"^\| `([a-z.]+)` \|", _section("Crash points"), re.M))
    assert in_code and in_code == in_doc


def test_every_audit_action_is_documented() -> None:
    actions = set(re.findall(r'_(?:write_)?log\((?:conn, [^,]+, )?(?:"[^"]*"|[\w.\[\]"]+), "([a-z.]+)"', SERVICE))
    actions |= set(re.findall(r'_set_provider_state\([^)]*?"[a-z]+", "([a-z.]+)"', SERVICE))
    documented = set(re.findall(r"`([a-z]+\.[a-z]+|[a-z]+)`", _section("Audit log")))
    assert len(actions) > 15
    assert actions <= documented, sorted(actions - documented)
