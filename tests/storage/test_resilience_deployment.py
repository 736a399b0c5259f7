"""Recovery from what survived in a multi-process deployment: the vault, a second vault and a
custodian are node processes (``qclone serve --role vault``) killed with SIGKILL; a keep-A object
is still retrieved exactly once without the vault (the substrate checks the custodian's signed
release), a split-key object without one of its vaults, and a holder that comes back discards
the part the recovery did without. The CLI's ``put --placement FILE`` and ``stat`` against it."""

from __future__ import annotations

import json

import pytest

from qclone import Client
from qclone.cli.main import main
from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError, UnavailableError
from qclone.storage.launcher import Cluster
from qclone.storage.results import Part
from tests.storage.procs import until

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("resilient"), mode="deployment", providers=4,
                holders=["custodian:c1", "vault:v2"], extra=["--settable-clock"])
    try:
        c.up()
        yield c
    finally:
        c.down()


@pytest.fixture
def client(cluster):
    with Client(cluster.url, cluster.token(), admin_token=cluster.token("admin-token")) as c:
        yield c


def _until(check, timeout: float = 30.0):
    return until(check, timeout)


def _part(client: Client, name: str, holder: str) -> Part:
    return next(p for p in client.stat(name).parts if p.holder == holder)


def test_the_holders_are_node_processes(client):
    listed = {h.id: h for h in client.holders()}
    assert [*listed][:1] == ["vault"] and set(listed) == {"vault", "c1", "v2"}
    assert listed["c1"].kind == "custodian" and listed["c1"].url and listed["c1"].node == "up"


def test_keep_a_survives_the_vault_killed(cluster, client):
    put = client.put("kept", bloch=[0.6, 0.0, 0.8], clones=4, keep_reference=True, placement="keep-A")
    assert put.placement_name == "keep-A" and put.safe
    cluster.processes["vault"].kill()  # SIGKILL
    try:
        st = _until(lambda: (s := client.stat("kept")).recovery.now and "vault" in s.recovery.down and s)
        assert sorted(st.recovery.sets[0]) == ["c1", "p1", "p2", "p3", "p4"]
        out = client.get("kept")
        assert out.clone is None and out.holders == ("c1",) and out.fidelity == pytest.approx(1.0, abs=1e-9)
        with pytest.raises(ConflictError):
            client.get("kept")
    finally:
        cluster.restart("vault")
    # the vault is back: the reconciler has it discard the key it kept
    assert _until(lambda: not _part(client, "kept", "vault").discard_pending)
    assert _part(client, "kept", "vault").state == "discarded"


def test_a_split_key_without_one_vault_and_with_a_provider_down(cluster, client):
    put = client.put("split", bloch=[0.0, 1.0, 0.0], clones=4, keep_reference=True, placement="split-key")
    assert {p.holder for p in put.parts} == {"vault", "v2"}
    cluster.processes["v2"].kill()
    try:
        out = client.get("split")
        assert out.clone is None and out.holders == ("vault",) and out.fidelity == pytest.approx(1.0, abs=1e-9)
    finally:
        cluster.restart("v2")
    assert _until(lambda: not _part(client, "split", "v2").discard_pending)


def test_custodian_and_vault_killed_waits_then_a_plain_decryption(cluster, client):
    client.put("both", bloch=[1.0, 0.0, 0.0], clones=4, keep_reference=True, placement="keep-A")
    cluster.processes["c1"].kill()
    cluster.processes["vault"].kill()
    try:
        with pytest.raises(UnavailableError):  # A and the key both gone for now: no authorized set is live
            client.get("both")
        st = client.stat("both")
        assert st.state == "stored" and not st.recovery.now and st.recovery.reason
        cluster.restart("vault")
        out = _until(lambda: _get_or_none(client, "both"))
        assert out.clone in (1, 2, 3, 4) and out.fidelity == pytest.approx(1.0, abs=1e-9)
    finally:
        for name in ("vault", "c1"):
            if not cluster.processes[name].running:
                cluster.restart(name)
    assert _until(lambda: not _part(client, "both", "c1").discard_pending)


def _get_or_none(client: Client, name: str):
    try:
        return client.get(name)
    except UnavailableError:
        return None


def test_cli_put_with_a_placement_file_and_stat(cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QCLONE_URL", cluster.url)
    monkeypatch.setenv("QCLONE_TOKEN", cluster.token())
    spec = tmp_path / "two-vaults.yaml"
    spec.write_text("parties:\n  vault: [N1..N3]\n  v2: [N4]\n  c1: [A]\n")
    assert main(["put", "filed", "--bloch", "0,0,1", "--clones", "4", "--placement", str(spec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["placement_name"] == "two-vaults"
    assert main(["stat", "filed"]) == 0
    text = capsys.readouterr().out
    assert "retrievable now from:" in text and "trade: c1 keeps A" in text
    assert main(["put", "bad", "--bloch", "0,0,1", "--placement", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["put", "bad", "--bloch", "0,0,1", "--placement", "vault-only"]) == 2
    assert "unknown placement" in capsys.readouterr().err
    with Client(cluster.url, cluster.token()) as c, pytest.raises(InvalidArgumentError, match="unknown placement"):
        c.put("bad", bloch=[0, 0, 1], placement="/etc/passwd")  # a name to the server: it never opens a path
