"""``tenant create --data-dir`` and ``storage rotate-key --data-dir`` work on existing state only:
a mistyped or wrong directory is refused (exit 2, one line) and nothing is created."""

from __future__ import annotations

import stat

from qclone.storage.db import Database
from qclone.storage.rpc.keys import NodeKeys
from qclone.storage.server import create_tenant_in
from tests.cli.helpers import one_error, run


def test_tenant_create_refuses_a_missing_or_foreign_directory(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    code, out, err = run(capsys, "tenant", "create", "zed", "--data-dir", str(missing))
    assert code == 2 and out == "" and not missing.exists()
    one_error(err, "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "tenant", "create", "zed", "--data-dir", str(empty))
    assert code == 2 and list(empty.iterdir()) == []
    one_error(err, "not a storage gateway's data directory")


def test_tenant_create_in_a_gateway_directory_keeps_the_files_private(tmp_path, capsys):
    gw = tmp_path / "gw"
    gw.mkdir()
    Database.open(None, data_dir=gw).dispose()  # what `qclone serve` makes at its first start: the metadata database
    assert create_tenant_in(gw, "first")["tenant"] == "first"
    for f in gw.iterdir():
        f.chmod(0o600)
    code, out, err = run(capsys, "tenant", "create", "zed", "--data-dir", str(gw))
    assert code == 0 and out.strip(), err
    for f in gw.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f


def test_rotate_key_refuses_a_missing_directory_or_another_role(tmp_path, capsys):
    missing = tmp_path / "nothere"
    code, _, err = run(capsys, "storage", "rotate-key", "--role", "provider", "--data-dir", str(missing))
    assert code == 2 and not missing.exists()
    one_error(err, "does not exist")
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = run(capsys, "storage", "rotate-key", "--role", "provider", "--data-dir", str(plain))
    assert code == 2 and list(plain.iterdir()) == []
    one_error(err, "not a node's data directory")
    NodeKeys(tmp_path / "v", "vault")
    before = (tmp_path / "v" / "join-token").read_text()
    code, _, err = run(capsys, "storage", "rotate-key", "--role", "provider", "--data-dir", str(tmp_path / "v"))
    assert code == 2 and (tmp_path / "v" / "join-token").read_text() == before
    one_error(err, "vault node, not a provider")
    code, out, err = run(capsys, "storage", "rotate-key", "--role", "vault", "--data-dir", str(tmp_path / "v"))
    assert code == 0 and out.strip() != before.strip(), err
    for name in ("node-key", "join-token"):
        assert stat.S_IMODE((tmp_path / "v" / name).stat().st_mode) == 0o600
