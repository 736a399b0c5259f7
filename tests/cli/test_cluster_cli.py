"""``qclone cluster up | down | status``: bad input refused before anything starts (exit 2, one line),
a state file that is not one, a pid that is no longer the cluster's. The commands on a running
cluster (each invocation its own process, the cluster's processes outliving ``up``): the service
group's ``tests/storage/test_cluster.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.helpers import one_error, run


@pytest.mark.parametrize(("args", "words"), [
    (["--gateways", "2"], "PostgreSQL"),
    (["--substrate-workers", "2"], "PostgreSQL"),
    (["--gateways", "65"], "--gateways"),
    (["--providers", "0"], "--providers"),
    (["--holder", "vault"], "--holder"),
    (["--holder", "custodian:p1"], "another process"),
    (["--lease", "0"], "--lease"),
    (["--db", "mysql://u@h/db"], "unsupported database"),
])
def test_up_refuses_bad_input_before_starting_anything(tmp_path, capsys, args, words):
    d = tmp_path / "c"
    code, out, err = run(capsys, "cluster", "up", "--data-dir", str(d), "--quiet", *args)
    assert code == 2 and out == ""
    one_error(err, words)
    assert not (d / "cluster.json").exists() and not any(d.glob("*.log"))


@pytest.mark.parametrize("verb", ["status", "down"])
def test_status_and_down_need_a_cluster(tmp_path, capsys, verb):
    code, out, err = run(capsys, "cluster", verb, "--data-dir", str(tmp_path))
    assert code == 2 and out == ""
    one_error(err, "no cluster", "qclone cluster up")
    (tmp_path / "cluster.json").write_text("{not json")
    code, _, err = run(capsys, "cluster", verb, "--data-dir", str(tmp_path))
    assert code == 2
    one_error(err, "not a cluster state file")
    (tmp_path / "cluster.json").write_text(json.dumps({"version": 1, "processes": {"x": {}}}))
    code, _, err = run(capsys, "cluster", verb, "--data-dir", str(tmp_path))
    assert code == 2
    one_error(err, "not a cluster state file")


def test_a_pid_that_is_no_longer_the_clusters_is_never_signalled(tmp_path, capsys):
    """A state file naming a live process that is not a ``qclone serve --port PORT`` (a reused pid)."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state = {"version": 1, "root": str(tmp_path), "mode": "deployment", "db": None, "gateways": ["http://127.0.0.1:9"],
                 "providers": 0, "substrate_workers": 1, "holders": [], "token_file": "t", "admin_token_file": "a",
                 "processes": {"gateway": {"role": "gateway", "pid": other.pid, "port": 9, "url": "http://127.0.0.1:9",
                                           "log": str(tmp_path / "g.log"), "data_dir": str(tmp_path / "gateway"),
                                           "workers": None}}}
        (tmp_path / "cluster.json").write_text(json.dumps(state))
        code, out, _ = run(capsys, "cluster", "status", "--data-dir", str(tmp_path), "--json")
        assert code == 1 and json.loads(out)["processes"]["gateway"]["running"] is False
        code, out, _ = run(capsys, "cluster", "down", "--data-dir", str(tmp_path), "--json")
        assert code == 0 and json.loads(out)["stopped"] == []
        assert other.poll() is None  # not signalled
    finally:
        other.kill()
        other.wait()
