"""The storage part of ``qclone demo``: facts computed, checked here from what they mean."""

import json

import numpy as np
import pytest

from qclone.cli.main import main
from qclone.errors import InvalidArgumentError
from qclone.protocol.logical import plan
from qclone.storage.demo import storage_demo


@pytest.mark.parametrize("clones", [2, 4])
def test_store_lose_all_but_one_retrieve_once(clones):
    r = storage_demo(clones=clones, seed=11, storage_time=30.0)
    assert len(r["killed"]) == clones - 1
    assert r["get"]["provider"] not in r["killed"]
    assert r["peek"]["maximally_mixed"] and np.allclose(r["peek"]["bloch"][0], 0, atol=1e-9)
    # a logical gate G was applied to the stored clones: the fidelity is with G|psi> (pure), whose Bloch
    # vector the demo computes from the gate's matrix: F = (1 + r_G . r_out) / 2
    assert r["gate"]["gate"] == ("H" if clones % 2 else "C_XYZ")
    assert r["gate"]["key_holders"] == (["vault"] if plan(r["gate"]["gate"], clones).needs_key else [])
    f_bloch = (1 + np.dot(r["gate"]["expected_bloch"], r["get"]["bloch"])) / 2
    assert r["get"]["fidelity"] == pytest.approx(f_bloch, abs=1e-9)
    assert 0.9 < r["get"]["fidelity"] < 1  # 30 s of memory noise at T1 = T2 = 3600 s
    assert r["second_get"]["refused"] and r["second_get"]["status"] == 409
    assert r["state_after"] == "retrieved"
    assert r["audit"]["safe"]  # even n: no coalition without the key learns anything


def test_odd_n_placement_is_flagged():
    r = storage_demo(clones=3, seed=2, storage_time=0.0)
    assert not r["audit"]["safe"]
    assert any("Y" in w for w in r["audit"]["warnings"])
    assert r["get"]["fidelity"] == pytest.approx(1.0, abs=5e-3)  # no storage time: only the logical H's gate noise
    np.testing.assert_allclose(r["get"]["bloch"], r["gate"]["expected_bloch"], atol=5e-3)


def test_bad_clone_count():
    with pytest.raises(InvalidArgumentError, match="1 to 64"):
        storage_demo(clones=0)


def test_cli_demo_json_has_the_storage_part(capsys):
    assert main(["demo", "--clones", "2", "--seed", "5", "--json", "--no-picture", "--storage-clones", "2"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["storage"]["second_get"]["status"] == 409
    assert d["storage"]["clones"] == 2


def test_cli_demo_tables_show_the_storage_part(capsys):
    assert main(["demo", "--clones", "2", "--seed", "5", "--no-picture"]) == 0
    out = capsys.readouterr().out
    assert "Encrypted multi-cloud storage" in out and "409" in out


@pytest.mark.parametrize("clones", [2, 3])
def test_the_vault_is_lost_and_the_keep_a_object_is_retrieved_once(clones):
    v = storage_demo(clones=clones, seed=7, storage_time=30.0)["vault_lost"]
    assert v["placement"] == "keep-A" and v["safe"] == (clones % 2 == 0) and v["lost_objects"] == 0  # odd n: Y leaks
    assert {p["holder"] for p in v["parts"]} == {"vault", "custodian"}
    assert v["retrievable_from"] == [["custodian", *[f"p{j}" for j in range(1, clones + 1)]]]
    assert v["get"]["holders"] == ["custodian"] and v["get"]["clone"] is None
    f_bloch = (1 + np.dot(v["input_bloch"], v["get"]["bloch"])) / 2  # a pure input: F from the Bloch vectors
    assert v["get"]["fidelity"] == pytest.approx(f_bloch, abs=1e-9)
    assert 0.8 < v["get"]["fidelity"] < 1
    assert v["second_get"]["refused"] and v["second_get"]["status"] == 409
