"""CLI: qclone serve / tenant / put / get / ls / stat / rm / peek / providers / audit-log.

The client commands run in-process (``main(args)``) against a real ``qclone
serve`` process; QCLONE_URL and QCLONE_TOKEN come from the environment.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qclone.cli.main import main
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cli-server")
    # a settable clock that nobody moves: no memory noise, so outputs are exact
    srv = Server(["--data-dir", str(data_dir), "--settable-clock", "--holder", "vault:v2"], free_port(), data_dir / "server.log").start()
    srv.data_dir = data_dir
    yield srv
    srv.kill()


@pytest.fixture
def env(server, monkeypatch):
    monkeypatch.setenv("QCLONE_URL", server.url)
    monkeypatch.setenv("QCLONE_TOKEN", read_token(server.data_dir))
    monkeypatch.delenv("QCLONE_ADMIN_TOKEN", raising=False)
    return server


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_put_get_json_and_second_get_fails(env, capsys):
    code, out, err = run(capsys, "put", "cli-a", "--bloch", "0,0.6,0.8", "--clones", "4", "--keep-reference")
    assert code == 0 and "stored 'cli-a'" in out, err
    code, out, err = run(capsys, "get", "cli-a", "--json")
    d = json.loads(out)
    assert code == 0 and err == ""
    assert d["bloch"][0] == pytest.approx([0, 0.6, 0.8], abs=1e-9)
    rho = np.array(d["density_matrix"]["real"]) + 1j * np.array(d["density_matrix"]["imag"])
    np.testing.assert_allclose(rho, [[0.9, -0.3j], [0.3j, 0.1]], atol=1e-9)  # (I + 0.6 Y + 0.8 Z) / 2
    assert d["fidelity"] == pytest.approx(1.0, abs=1e-9)
    code, out, err = run(capsys, "get", "cli-a")
    assert code == 3 and out == ""  # refused by the service (409)
    assert err.startswith("qclone: error:") and "already retrieved" in err and err.count("\n") == 1


def test_put_from_files(env, capsys, tmp_path):
    sv = tmp_path / "plus.npy"
    np.save(sv, np.array([1, 1]) / math.sqrt(2))
    dm = tmp_path / "mixed.json"
    dm.write_text(json.dumps([[0.75, 0], [0, 0.25]]))
    qasm = tmp_path / "one.qasm"
    qasm.write_text('OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; x q[0];')
    for name, opt, f, bloch in (("cli-sv", "--statevector", sv, [1, 0, 0]), ("cli-dm", "--density", dm, [0, 0, 0.5]),
                                ("cli-qasm", "--qasm", qasm, [0, 0, -1])):
        code, out, err = run(capsys, "put", name, opt, str(f), "--json")
        assert code == 0 and json.loads(out)["state"] == "stored", err
        code, out, err = run(capsys, "get", name, "--json")
        assert code == 0 and json.loads(out)["bloch"][0] == pytest.approx(bloch, abs=1e-9), (name, err)


def test_measure_counts(env, capsys):
    assert run(capsys, "put", "cli-z", "--bloch", "0,0,1")[0] == 0
    code, out, err = run(capsys, "get", "cli-z", "--basis", "Z", "--shots", "20", "--seed", "1")
    assert code == 0 and "counts (Z basis, qubit 0 rightmost): 0: 20" in out, err


def test_ls_stat_rm_peek_audit_log(env, capsys):
    assert run(capsys, "put", "cli-b", "--bloch", "1,0,0")[0] == 0
    code, out, _ = run(capsys, "ls", "--json")
    assert code == 0 and "cli-b" in [o["name"] for o in json.loads(out)]
    code, out, _ = run(capsys, "stat", "cli-b", "--json")
    st = json.loads(out)
    assert code == 0 and st["state"] == "stored" and len(st["placement"]) == 4
    code, out, _ = run(capsys, "stat", "cli-b")
    assert code == 0 and "placement audit: safe" in out
    # the holders' parts as a table (the vault holds the key: its labels, live)
    part = next(line for line in out.splitlines() if "N0_1" in line)
    assert "vault" in part and "live" in part and "false" in part, out
    assert "retrievable now from: {" in out, out
    holder = st["placement"][0]["provider"]
    code, out, _ = run(capsys, "peek", "cli-b", "--provider", holder, "--json")
    view = json.loads(out)
    assert code == 0 and view["maximally_mixed"] and view["bloch"][0] == pytest.approx([0, 0, 0], abs=1e-9)
    code, out, _ = run(capsys, "rm", "cli-b")
    assert code == 0 and "deleted" in out
    code, out, _ = run(capsys, "audit-log", "--json")
    actions = [e["action"] for e in json.loads(out) if e["object_name"] == "cli-b"]
    assert code == 0 and actions[0] == "put" and "peek" in actions and "delete" in actions


def test_qiskit_order_through_the_cli(env, capsys, tmp_path):
    """A state vector file is read in Qiskit's order: [0, 1, 0, 0] has qubit 0 in |1>; the
    output's Bloch vectors are listed qubit 0 first and its counts have qubit 0 rightmost."""
    sv = tmp_path / "q0.json"
    sv.write_text(json.dumps([0, 1, 0, 0]))
    assert run(capsys, "put", "cli-order", "--statevector", str(sv))[0] == 0
    code, out, err = run(capsys, "get", "cli-order", "--basis", "Z", "--shots", "10", "--json")
    d = json.loads(out)
    assert code == 0, err
    np.testing.assert_allclose(d["bloch"], [[0, 0, -1], [0, 0, 1]], atol=1e-9)
    assert d["counts"] == {"01": 10}
    rho = np.array(d["density_matrix"]["real"])
    assert rho[1, 1] == pytest.approx(1, abs=1e-9)  # |01> in Qiskit's order is index 1


def test_a_name_with_a_slash_is_refused_with_the_rule(env, capsys):
    code, out, err = run(capsys, "put", "bad/name", "--bloch", "0,0,1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "may not contain '/'" in err and "1-255 characters" in err and "Not Found" not in err


def test_the_audit_log_table_is_readable(env, capsys):
    assert run(capsys, "put", "cli-log", "--bloch", "0,0,1", "--clones", "3")[0] == 0
    code, out, _ = run(capsys, "audit-log")
    assert code == 0 and "cli-log" in out
    assert "{" not in out and "'" not in out  # no Python dict reprs
    assert "clones=3" in out
    import re

    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d", out)  # times as UTC dates


def test_providers_need_the_admin_token_to_change(env, capsys, monkeypatch):
    code, out, _ = run(capsys, "providers", "--json")
    assert code == 0 and {p["id"] for p in json.loads(out)} == {"p1", "p2", "p3", "p4"}
    code, out, err = run(capsys, "providers", "kill", "p1")
    assert code == 2 and "admin token" in err
    monkeypatch.setenv("QCLONE_ADMIN_TOKEN", read_token(env.data_dir, "admin-token"))
    code, out, err = run(capsys, "providers", "kill", "p1", "--json")
    assert code == 0 and json.loads(out)["state"] == "down", err
    code, out, _ = run(capsys, "providers", "list", "--json")
    assert {p["id"]: p["state"] for p in json.loads(out)}["p1"] == "down"
    code, out, err = run(capsys, "put", "cli-c", "--bloch", "0,0,1")  # four clones, three providers up
    assert code == 4 and "unavailable" in err  # a 503: generic message, no server-side detail
    code, out, _ = run(capsys, "providers", "revive", "p1", "--json")
    assert code == 0 and json.loads(out)["state"] == "up"
    assert run(capsys, "put", "cli-c", "--bloch", "0,0,1")[0] == 0


def test_tenant_create_from_data_dir_and_admin_token(env, capsys, monkeypatch):
    code, out, err = run(capsys, "tenant", "create", "bob", "--data-dir", str(env.data_dir))
    assert code == 0, err
    bob = out.strip()
    monkeypatch.setenv("QCLONE_TOKEN", bob)
    code, out, _ = run(capsys, "ls", "--json")
    assert code == 0 and json.loads(out) == []  # bob sees none of the default tenant's objects
    code, out, err = run(capsys, "tenant", "create", "carol")
    assert code == 2 and "admin" in err
    code, out, err = run(capsys, "tenant", "create", "carol", "--admin-token", read_token(env.data_dir, "admin-token"), "--json")
    assert code == 0 and json.loads(out)["tenant"] == "carol", err
    code, out, err = run(capsys, "tenant", "create", "carol", "--data-dir", str(env.data_dir))
    assert code == 3 and "exists" in err  # a conflict


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["put", "x", "--bloch", "1,1,1"], ["Bloch"]),
        (["put", "x", "--bloch", "1,a,0"], ["--bloch"]),
        (["put", "x"], ["exactly one"]),
        (["put", "x", "--statevector", "/nonexistent.npy"], ["cannot read"]),
        (["get", "x", "--basis", "Z"], ["together"]),
    ],
)
def test_bad_input_is_one_line_exit_2(env, capsys, args, words):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    for w in words:
        assert w.lower() in err.lower(), err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["get", "never-stored"], ["no object"]),  # 404
        (["ls", "--token", "not-a-token"], ["token"]),  # 401
        (["put", "cli-a", "--bloch", "0,0,1"], ["exists"]),  # 409 (stored by the first test of the module, or by this one)
    ],
)
def test_refused_by_the_service_is_one_line_exit_3(env, capsys, args, words):
    run(capsys, "put", "cli-a", "--bloch", "0,0,1")  # make sure the name exists
    code, out, err = run(capsys, *args)
    assert code == 3 and out == "" and err.count("\n") == 1, err
    for w in words:
        assert w.lower() in err.lower(), err


def test_no_token_and_no_server(capsys, monkeypatch):
    monkeypatch.delenv("QCLONE_TOKEN", raising=False)
    code, _, err = run(capsys, "ls")
    assert code == 2 and "QCLONE_TOKEN" in err
    code, _, err = run(capsys, "ls", "--url", f"http://127.0.0.1:{free_port()}", "--token", "x")
    assert code == 4 and "cannot reach" in err


def test_serve_rejects_bad_options(capsys):
    code, _, err = run(capsys, "serve", "--role", "janitor")
    assert code == 2 and "unknown role" in err
    code, _, err = run(capsys, "serve", "--role", "provider")
    assert code == 2 and "--id" in err


def test_every_command_in_the_docs_exists(capsys):
    """docs/storage.md, "Command line": each listed command (and subcommand) has --help."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "storage.md").read_text()
    block = doc[doc.index("### Command line"):doc.index("### Python SDK")]
    commands = set()
    for line in block.splitlines():
        if not line.startswith("qclone "):
            continue
        first, *alternatives = line.split(" | ")
        words = first.split()
        group = words[1] in ("providers", "tenant")
        commands.add((words[1], words[2] if group and len(words) > 2 and words[2].isalpha() else None))
        for alt in alternatives:  # "ls | stat NAME | rm NAME", "drain ID | kill ID | revive ID"
            word = alt.split()[0]
            if word.isalpha():
                commands.add((words[1], word) if group else (word, None))
    assert {("get", None), ("rm", None), ("providers", "add"), ("providers", "revive")} <= commands
    for cmd, sub in sorted(commands, key=str):
        args = [cmd, sub, "--help"] if sub else [cmd, "--help"]
        code, out, err = run(capsys, *args)
        assert code == 0 and "Usage" in out, (args, err)


def test_names_are_never_reused_plurals_and_audit_log_limit(env, capsys):
    code, out, err = run(capsys, "put", "cli-once", "--bloch", "0,0,1", "--clones", "1", "--force")
    assert code == 0 and out == "stored 'cli-once': 1 qubit, 1 clone\n", (out, err)
    assert "placement 'today' of 'cli-once'" in err  # the n = 1 audit warnings name what they are about
    assert run(capsys, "rm", "cli-once")[0] == 0
    code, out, err = run(capsys, "put", "cli-once", "--bloch", "0,0,1")
    assert code == 3 and "never reused" in err
    code, out, _ = run(capsys, "rm", "--help")
    assert "never reused" in " ".join(out.split())
    code, out, err = run(capsys, "audit-log", "--limit", "2", "--json")
    assert code == 0 and len(json.loads(out)) == 2, err
    code, out, err = run(capsys, "audit-log", "--limit", "0")
    assert code == 2 and "--limit" in err


def test_put_split_key_says_what_it_trades(env, capsys):
    """The audit's warning names the placement, and the trades say with how many providers one vault recovers."""
    code, out, err = run(capsys, "put", "cli-split", "--bloch", "0,0,1", "--placement", "split-key")
    assert code == 0 and out == "stored 'cli-split': 1 qubit, 4 clones\n", err
    lines = err.splitlines()
    assert lines[0].startswith("qclone: warning: placement 'split-key' of 'cli-split': 6 coalition(s) not meant to decrypt")
    assert lines[1].startswith("qclone: warning: placement 'split-key' of 'cli-split' trades: ")
    assert "vault (holding N1 N2) together with 3 of the 4 providers" in lines[1] and len(lines) == 2
    code, out, err = run(capsys, "put", "cli-split0", "--bloch", "0,0,1", "--placement", "split-key:0")
    assert code == 2 and "V >= 2" in err
    code, out, err = run(capsys, "put", "cli-today", "--bloch", "0,0,1")
    assert code == 0 and err == ""
