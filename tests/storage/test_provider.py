"""A provider node's own record of the clones it holds."""

from __future__ import annotations

import pytest

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError
from qclone.storage.provider import ProviderNode


@pytest.fixture(params=["memory", "file"])
def node(request: pytest.FixtureRequest, tmp_path) -> ProviderNode:
    return ProviderNode("p-1", None if request.param == "memory" else tmp_path / "p", zone="eu", t1=10.0, t2=12.0)


def test_store_holding_discard(node: ProviderNode) -> None:
    assert node.holding("o") is None and node.records() == []
    node.store("o", 3, ["S0_3", "S1_3"], 12.5)
    node.store("o", 3, ["S0_3", "S1_3"], 99.0)  # idempotent: the first record stays
    assert node.holding("o") == {"clone": 3, "labels": ["S0_3", "S1_3"], "stored_at": 12.5}
    with pytest.raises(ConflictError, match="clone 3"):
        node.store("o", 2, ["S0_2"], 1.0)
    node.store("b", 1, ["S0_1"], 1.0)
    assert [r["object_id"] for r in node.records()] == ["b", "o"]
    assert node.health() == {"status": "ok", "id": "p-1", "zone": "eu", "t1": 10.0, "t2": 12.0, "clones": 2}
    node.discard("o")
    node.discard("o")
    assert node.holding("o") is None and node.health()["clones"] == 1


def test_records_survive_a_restart(tmp_path) -> None:
    ProviderNode("p", tmp_path / "p").store("o", 1, ["S0_1"], 3.0)
    assert ProviderNode("p", tmp_path / "p").holding("o") == {"clone": 1, "labels": ["S0_1"], "stored_at": 3.0}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"provider_id": "bad id"}, "provider id"),
    ({"provider_id": ""}, "provider id"),
    ({"zone": " "}, "zone"),
    ({"t1": -1.0}, "T1"),
    ({"t1": 1.0, "t2": 5.0}, "2 T1"),
])
def test_bad_settings(kwargs: dict, match: str) -> None:
    args = {"provider_id": "p", **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        ProviderNode(args.pop("provider_id"), None, **args)


def test_a_provider_releases_only_a_clone_it_holds_signed_with_its_key():
    from qclone.storage.errors import NotFoundError
    from qclone.storage.rpc.keys import Identity, check_grant

    me = Identity.generate()
    p = ProviderNode("p1", None, issuer=me)
    with pytest.raises(NotFoundError):
        p.release("obj", "a1")
    p.store("obj", 2, ["S0_2"], 1.0)
    grant = p.release("obj", "a1")
    assert check_grant(grant, me.key_id, "obj", "a1")  # its nonce
    assert p.release("obj", "a1")["nonce"] != grant["nonce"]  # a fresh one each time
    q = ProviderNode("p2", None)  # embedded: signs nothing
    q.store("obj", 1, ["S0_1"], 1.0)
    assert q.release("obj", "a1") is None
