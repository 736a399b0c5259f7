"""The storage docs: the crash points (design notes) and audit actions (user guide) they list are the ones the service has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "storage.md").read_text()
NOTES = (ROOT / "docs" / "design" / "storage-notes.md").read_text()
STORAGE = ROOT / "qclone" / "storage"
SERVICE = "".join(p.read_text() for p in [*sorted((STORAGE / "service").glob("*.py")), STORAGE / "api.py"])


def _section(title: str, doc: str = DOC) -> str:
    start = doc.index(f"## {title}")
    end = doc.find("\n## ", start + 1)
    return doc[start:end]


def test_crash_point_table_matches_the_code() -> None:
    in_code = set(re.findall(r'crash_point\("([a-z.]+)"\)', SERVICE))
    in_doc = set(re.findall(r"^\| `([a-z.]+)` \|", _section("Crash points", NOTES), re.M))
    assert in_code and in_code == in_doc


def test_every_audit_action_is_documented() -> None:
    actions = set(re.findall(r'_(?:write_)?log\((?:conn, [^,]+, )?(?:"[^"]*"|[\w.\[\]"]+), "([a-z.]+)"', SERVICE))
    actions |= set(re.findall(r'_set_provider_state\([^)]*?"[a-z]+", "([a-z.]+)"', SERVICE))
    documented = set(re.findall(r"`([a-z]+\.[a-z]+|[a-z]+)`", _section("Audit log")))
    assert len(actions) > 15
    assert actions <= documented, sorted(actions - documented)
