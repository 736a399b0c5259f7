"""The object state machine: one table of transitions, and no state change outside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qclone.storage.models import OBJECT_STATES
from qclone.storage.states import TRANSITIONS, ObjectState, TransitionError, check, transition

SERVICE = Path(__file__).resolve().parents[2] / "qclone" / "storage" / "service"


def test_states_match_the_schema() -> None:
    assert {s.value for s in ObjectState} == set(OBJECT_STATES)
    assert set(TRANSITIONS) == set(ObjectState)


def test_refused_moves() -> None:
    with pytest.raises(TransitionError):
        check(ObjectState.RETRIEVED, ObjectState.STORED)
    with pytest.raises(TransitionError):
        transition((ObjectState.STORED, ObjectState.DELETED), ObjectState.LOST)
    for source, targets in TRANSITIONS.items():
        for target in ObjectState:
            assert source.can_go_to(target) == (target in targets)


def _updates_of_objects_setting_state(tree: ast.AST) -> list[int]:
    """Lines of ``update(objects)...values(state=...)`` chains (a state change outside ``transition``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values" \
                and any(k.arg == "state" for k in node.keywords):
            inner = node.func.value
            while isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                inner = inner.func.value
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "update" \
                    and inner.args and isinstance(inner.args[0], ast.Name) and inner.args[0].id == "objects":
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", sorted(SERVICE.glob("*.py")), ids=lambda p: p.name)
def test_every_state_change_goes_through_transition(path: Path) -> None:
    assert _updates_of_objects_setting_state(ast.parse(path.read_text())) == []


def test_the_scan_finds_a_direct_change() -> None:
    bad = "update(objects).where(objects.c.id == 1).values(state='stored')"
    assert _updates_of_objects_setting_state(ast.parse(bad)) == [1]
