"""The command line's answers to a new user's mistakes: bounds, messages, warnings and exit statuses."""

from __future__ import annotations

import json

import pytest

from qclone.cli.exits import BAD_INPUT, CHECK_FAILED
from qclone.cli.main import main

HUGE = "99999999999999999999"
RESILIENCE = "docs/examples/resilience-parties.yaml"
PLACEMENT = "docs/examples/resilience-placement.yaml"


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def only_error(err: str) -> str:
    """The one line on stderr, which must be an error (no warning before it)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("qclone: error:"), err
    return lines[0]


@pytest.mark.parametrize("args", [
    ["verify", "--clones", HUGE], ["verify", "--clones", "9223372036854775808"],
    ["verify", "--clones", "10000000", "--engine", "heisenberg"],
    ["audit", "--clones", "100000000"], ["classify", "S1", "--clones", "100000000"],
    ["circuit", "--clones", "100000000", "--format", "stim"], ["circuit", "--clones", HUGE, "--format", "qasm"],
    ["sweep", "--clones", "10000000", "--noise", "depolarizing", "-p", "1e-3", "--shots", "10"],
    ["sweep", "--clones", HUGE, "--noise", "depolarizing", "-p", "1e-3", "--shots", "10"],
    ["sweep", "--clones", "1e400", "--noise", "depolarizing", "-p", "1e-3", "--shots", "10"],
    ["plot", "-o", "x.png", "--noise", "depolarizing", "-p", "1e-3", "--clones", HUGE],
    ["scaling", "--max-clones", HUGE], ["storage", "simulate", "--clones", HUGE],
    ["storage", "plan", RESILIENCE, "--placement", PLACEMENT, "-n", HUGE],
    ["hardware", "compare", "--clones", HUGE],
])
def test_a_huge_number_of_clones_is_one_line_and_status_2(capsys, args, monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)
    code, _, err = run(capsys, *args)
    assert code == BAD_INPUT
    line = only_error(err)
    assert "--clones" in line or "--max-clones" in line


def test_put_with_huge_clones_is_refused_before_any_request(capsys):
    code, _, err = run(capsys, "put", "zz", "--bloch", "0,0,1", "--clones", HUGE, "--url", "http://127.0.0.1:9")
    assert code == BAD_INPUT and "--clones" in only_error(err)


def test_memory_error_is_one_line_and_status_2(capsys, monkeypatch):
    import qclone.cli.protocol as protocol

    def boom(*a, **k):
        raise MemoryError

    monkeypatch.setattr(protocol, "verify_at_scale", boom)
    code, _, err = run(capsys, "verify", "--clones", "100")
    assert code == BAD_INPUT
    assert "needs more memory than this machine has" in only_error(err)


@pytest.mark.parametrize("url", ["notaurl", "ftp://host/x", "http://", "http://host:99999"])
def test_a_malformed_url_is_bad_input(capsys, url):
    code, _, err = run(capsys, "ls", "--url", url)
    assert code == BAD_INPUT and "URL" in only_error(err)


def test_storage_plan_exits_1_when_the_trust_is_not_met(capsys, monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)
    code, out, err = run(capsys, "storage", "plan", RESILIENCE, "--placement", PLACEMENT, "-n", "4", "--max-coalition", "2")
    assert code == CHECK_FAILED and "trust NOT met" in out and "qclone: error" not in err
    code, out, _ = run(capsys, "storage", "plan", RESILIENCE, "--placement", PLACEMENT, "-n", "4", "--max-coalition", "2", "--json")
    assert code == CHECK_FAILED and json.loads(out)["placement"]["audit"]["learn_nothing"] is False
    code, out, _ = run(capsys, "storage", "plan", RESILIENCE, "--placement", PLACEMENT, "-n", "4", "--max-coalition", "1")
    assert code == 0 and "trust met" in out


def test_a_lone_seed_on_get_is_refused(capsys):
    code, _, err = run(capsys, "get", "w1", "--seed", "3", "--url", "http://127.0.0.1:9")
    assert code == BAD_INPUT and "--seed" in only_error(err)


def test_the_service_refuses_a_seed_without_a_basis():
    from qclone.errors import InvalidArgumentError
    from qclone.storage.service.common import check_sampling

    with pytest.raises(InvalidArgumentError, match="seed"):
        check_sampling(None, None, 3)
    assert check_sampling(None, None, None) == (None, None, None)
    assert check_sampling("z", 5, 3) == ("Z", 5, 3)


@pytest.mark.parametrize(("args", "needle"), [
    (["sweep", "--clones", "2", "--noise", "depolarizing", "-p", "1e-3", "--shots", "-3"], "--shots"),
    (["audit", "--clones", "4", "--max-coalition", "-1"], "--max-coalition"),
    (["sweep", "--clones", "2", "--noise", "depolarizing", "-p", "1e-3", "--shots", "5", "--csv", "."], "directory"),
    (["plot", "--csv", ".", "-o", "x.png"], "directory"),
    (["put", "x", "--bloch", "0,0,1", "--placement", ".", "--url", "http://127.0.0.1:9"], "directory"),
    (["put", "x", "--bloch", "0,0,1", "--clones", "1", "--url", "http://127.0.0.1:9"], "--force"),
    (["serve", "--holder", "custodian:a/b", "--data-dir", "d"], "--holder"),
    (["verify", "--clones", "9", "--engine", "dense"], "--engine auto"),
])
def test_messages_name_the_option(capsys, args, needle):
    code, _, err = run(capsys, *args)
    assert code == BAD_INPUT
    line = only_error(err)
    assert needle in line
    assert "max_shots" not in line and "max_coalition" not in line and "provider id" not in line


def test_the_same_bloch_message_for_words_and_too_few_numbers(capsys):
    lines = []
    for value in ("a,b", "0.1,0.2"):
        code, _, err = run(capsys, "put", "x", "--bloch", value, "--url", "http://127.0.0.1:9")
        assert code == BAD_INPUT
        lines.append(only_error(err).replace(repr(value), "V"))
    assert lines[0] == lines[1]


def test_a_yaml_error_is_one_short_line_with_line_and_column(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("parties:\n  a: [1, 2\n  b: x\n")
    code, _, err = run(capsys, "put", "x", "--bloch", "0,0,1", "--placement", str(bad), "--url", "http://127.0.0.1:9")
    assert code == BAD_INPUT
    line = only_error(err)
    assert "line " in line and "column " in line and len(line) < 200


def test_a_serve_refused_for_its_holder_leaves_no_state(capsys, tmp_path):
    code, _, _ = run(capsys, "serve", "--holder", "custodian:a/b", "--data-dir", str(tmp_path / "d"))
    assert code == BAD_INPUT and not (tmp_path / "d").exists()


@pytest.mark.parametrize("args", [
    ["storage", "simulate", "--clones", "1", "--objects", "100", "--json"],
    ["scaling", "--max-clones", "1", "--noise", "depolarizing", "-p", "1e-3", "--depth", "linear", "--json"],
    ["plot", "--clones", "1,2", "--noise", "depolarizing", "-p", "1e-3", "-o", "x.svg", "--json"],
])
def test_n_1_warns(capsys, args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 0
    assert [x for x in err.splitlines() if x.startswith("qclone: warning:") and "Y" in x]


def test_plot_default_range_does_not_warn(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "plot", "--noise", "depolarizing", "-p", "1e-3", "-o", "x.svg", "--json")
    assert code == 0 and "warning" not in err


def test_verify_seed_is_fresh_and_printed(capsys):
    seeds = set()
    for _ in range(3):
        code, out, _ = run(capsys, "verify", "--clones", "40", "--sample", "3", "--json")
        assert code == 0
        seeds.add(json.loads(out)["seed"])
    assert len(seeds) > 1
    seed = seeds.pop()
    first = json.loads(run(capsys, "verify", "--clones", "40", "--sample", "3", "--seed", str(seed), "--json")[1])
    again = json.loads(run(capsys, "verify", "--clones", "40", "--sample", "3", "--seed", str(seed), "--json")[1])
    assert first["checked_clones"] == again["checked_clones"] and first["seed"] == seed


def test_plot_into_a_missing_directory_is_refused(capsys, tmp_path):
    target = tmp_path / "nothere" / "x.png"
    code, _, err = run(capsys, "plot", "--noise", "depolarizing", "-p", "1e-3", "--clones", "2", "-o", str(target))
    assert code == BAD_INPUT and "does not exist" in only_error(err)
    assert not target.parent.exists()


def test_a_bad_backend_is_refused_before_the_n_1_warning(capsys):
    pytest.importorskip("qiskit_ibm_runtime")
    code, _, err = run(capsys, "hardware", "run", "--backend", "fake_nothing", "--clones", "1", "--shots", "10")
    assert code == BAD_INPUT
    only_error(err)
