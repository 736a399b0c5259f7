"""One CLI convention for every command: -h, --version, exit statuses, one line on stderr for bad input.

The command tree is walked (:func:`qclone.cli.main.all_commands`), so a new command is covered
without being listed here; a command with a required parameter this file cannot fill makes
:func:`test_every_required_parameter_can_be_filled` fail and name it.
"""

from __future__ import annotations

import importlib.metadata
import json
import socket

import pytest

import qclone
from qclone.cli.exits import BAD_INPUT, CHECK_FAILED, REFUSED, UNAVAILABLE, describe_exit, exit_status
from qclone.cli.main import COMMANDS, all_commands, main

COMMAND_TREE = all_commands()
PATHS = sorted(COMMAND_TREE)
IDS = [" ".join(p) for p in PATHS]

#: A valid value for each required parameter (by option name, or argument name) of any command.
FILL = {
    "--clones": "2", "--shots": "10", "--backend": "fake_fez", "--noise": "depolarizing", "--provider": "p1",
    "--role": "vault", "--output": "out.png", "--data-dir": "data", "--gate": "X",
    "name": "obj", "provider_id": "p1", "qubits": "S1", "parties": "parties.yaml",
}
#: The parties file ``storage plan`` reads (written into each test's working directory).
PARTIES = "parties:\n  a: {failure: 0.01}\n  b: {failure: 0.01}\n  vault: {failure: 0.001, kind: vault}\ntrust: {max_coalition: 1}\nbudget: 5\n"
#: Where the client commands look for the service: nothing listens on a port bound and never listened on.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def workdir(tmp_path, monkeypatch):
    """Every test runs in its own directory, with the files the required parameters name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parties.yaml").write_text(PARTIES)
    return tmp_path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> bool:
    lines = err.strip().splitlines()
    return len([x for x in lines if not x.startswith("qclone: warning:")]) == 1 and lines[-1].startswith("qclone: error:")


def option_names(cmd) -> set[str]:
    return {o for p in cmd.params if p.param_type_name == "option" for o in p.opts}


def required_args(path: tuple[str, ...]) -> list[str]:
    """The command's path and a valid value for each required parameter."""
    args = list(path)
    for p in COMMAND_TREE[path].params:
        if p.param_type_name == "argument":
            args.append(FILL[p.name])
        elif p.required:
            args += [p.opts[0], FILL[p.opts[0]]]
    if "--url" in option_names(COMMAND_TREE[path]):
        args += ["--url", NOWHERE]
    return args


def annotation(param) -> str:
    return str(param.type_descriptor.annotation)


# --- help and version -----------------------------------------------------------------------------


def test_the_tree_has_every_registered_command():
    assert {p[0] for p in PATHS} == set(COMMANDS)
    assert len(PATHS) >= 25


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_short_and_long_help(capsys, path):
    for flag in ("-h", "--help"):
        code, out, err = run(capsys, *path, flag)
        assert code == 0 and "Usage: qclone " + " ".join(path) in " ".join(out.split()) and err == ""


def test_top_level_help_lists_every_command_with_its_line(capsys):
    code, out, _ = run(capsys, "-h")
    text = " ".join(out.split())
    assert code == 0 and "--version" in text and "Exit status: 0 ok" in text
    for name, (_, short, _) in COMMANDS.items():
        assert name in text
        assert " ".join(short.split()[:4]) in text


def test_version_has_one_source(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == f"qclone {qclone.__version__}\n"
    assert importlib.metadata.version("qclone") == qclone.__version__


# --- never a traceback for bad input ------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_every_required_parameter_can_be_filled(path):
    required_args(path)  # a KeyError names what FILL lacks


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_an_unknown_option_is_one_line_and_status_2(capsys, path):
    code, out, err = run(capsys, *required_args(path), "--no-such-option")
    assert code == BAD_INPUT and out == "" and one_error_line(err), err


NUMERIC = [(path, p.opts[0]) for path in PATHS for p in COMMAND_TREE[path].params
           if p.param_type_name == "option" and not p.is_flag and ("int" in annotation(p) or "float" in annotation(p))]


@pytest.mark.parametrize(("path", "option"), NUMERIC, ids=[f"{' '.join(p)} {o}" for p, o in NUMERIC])
def test_a_number_option_given_a_word_is_one_line_and_status_2(capsys, path, option):
    args = required_args(path)
    if option in args:
        args[args.index(option) + 1] = "many"
    else:
        args += [option, "many"]
    code, out, err = run(capsys, *args)
    assert code == BAD_INPUT and out == "" and one_error_line(err) and option in err, err


#: Out-of-range values by option name: every command that has the option must refuse it with status 2.
BAD_VALUES = {
    "--clones": "0", "--seed": "-1", "--shots": "0", "--qubits": "0", "--workers": "0", "--port": "70000",
    "--max-coalition": "-1", "--objects": "0", "--failure-rate": "1.5", "--vault-failure-rate": "-0.1",
    "--decrypt": "99", "--bootstrap": "0", "--confidence": "2", "--gateways": "0", "--substrate-workers": "0",
    "--providers": "0",
}
#: (command, option) pairs whose out-of-range value the service (not the command) refuses: exit 4 here, no server.
SERVER_CHECKED = {("put", "--clones"), ("get", "--shots"), ("get", "--seed")}
#: (command, option) pairs where the value above is valid (--max-coalition 0 is valid everywhere: no coalition by size).
VALID_THERE: set[tuple[tuple[str, ...], str]] = set()
SEMANTIC = [(path, o) for path in PATHS for o in sorted(option_names(COMMAND_TREE[path]) & set(BAD_VALUES))
            if (path[0], o) not in SERVER_CHECKED and (path, o) not in VALID_THERE and path != ("serve",)]


@pytest.mark.parametrize(("path", "option"), SEMANTIC, ids=[f"{' '.join(p)} {o}" for p, o in SEMANTIC])
def test_an_out_of_range_value_is_one_line_and_status_2(capsys, path, option):
    args = required_args(path)
    if option in args:
        args[args.index(option) + 1] = BAD_VALUES[option]
    else:
        args += [option, BAD_VALUES[option]]
    code, out, err = run(capsys, *args)
    assert code == BAD_INPUT and one_error_line(err), (args, code, err)


def test_the_known_tracebacks_are_one_line(capsys, tmp_path):
    (tmp_path / "notcsv.toml").write_text("[table]\nkey = 1\n")
    cases = [
        (["demo", "--seed", "-1"], "--seed"),
        (["sweep", "--clones", "2", "--noise", "depolarizing", "-p", "1e-3", "--shots", "10", "--csv", "notcsv.toml"], "not a sinter CSV"),
        (["serve", "--data-dir", "notcsv.toml"], "not a directory"),
        (["tenant", "create", "bob", "--data-dir", "notcsv.toml"], "not a directory"),
        (["storage", "rotate-key", "--role", "vault", "--data-dir", "notcsv.toml"], "not a directory"),
        (["verify", "--clones", "2", "--seed", "-3"], "--seed"),
    ]
    for args, words in cases:
        code, out, err = run(capsys, *args)
        assert code == BAD_INPUT and out == "" and one_error_line(err) and words in err, (args, err)


def test_serve_on_a_busy_port_fails_before_announcing(capsys, tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        code, out, err = run(capsys, "serve", "--data-dir", str(tmp_path / "d"), "--port", str(port))
    assert code == BAD_INPUT and out == "" and one_error_line(err) and "in use" in err and "serving" not in err, err


@pytest.mark.parametrize("path", [p for p in PATHS if "--url" in option_names(COMMAND_TREE[p])], ids=lambda p: " ".join(p))
def test_an_unreachable_service_is_one_line_and_status_4(capsys, path, monkeypatch):
    """Every client command, pointed at an address where nothing listens (with any token it needs)."""
    for var in ("QCLONE_URL", "QCLONE_TOKEN", "QCLONE_ADMIN_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    args = required_args(path)
    for option in ("--token", "--admin-token"):
        if option in option_names(COMMAND_TREE[path]):
            args += [option, "x"]
    if path == ("put",):
        args += ["--bloch", "0,0,1"]
    code, out, err = run(capsys, *args)
    assert code == UNAVAILABLE and out == "" and one_error_line(err) and "cannot reach" in err, (args, err)


# --- exit statuses: one mapping ------------------------------------------------------------------


def test_audit_not_safe_exits_1_and_safe_exits_0(capsys):
    code, out, _ = run(capsys, "audit", "--clones", "3", "--json")
    assert code == CHECK_FAILED and json.loads(out)["safe"] is False
    code, out, _ = run(capsys, "audit", "--clones", "4", "--json")
    assert code == 0 and json.loads(out)["safe"] is True


@pytest.mark.parametrize(("status", "kind", "expected"), [
    (400, "StorageError", BAD_INPUT), (413, "BodyTooLargeError", BAD_INPUT), (422, "InvalidArgumentError", BAD_INPUT),
    (422, "TooLargeError", BAD_INPUT), (422, "UnsupportedError", BAD_INPUT),
    (401, "UnauthorizedError", REFUSED), (404, "NotFoundError", REFUSED), (409, "ConflictError", REFUSED),
    (503, "UnavailableError", UNAVAILABLE), (500, "InternalError", UNAVAILABLE), (502, "", UNAVAILABLE),
])
def test_the_sdks_errors_map_to_exit_statuses(status, kind, expected):
    """What the SDK raises for each answer of the service (its own decoding of the error body)."""
    from qclone.storage.rpc.client import error_from_body

    body = json.dumps({"error": {"type": kind, "message": "m"}}).encode() if kind else b"<html>bad gateway</html>"
    exc = error_from_body(status, body, where="the qclone server", by_status=True)
    assert exit_status(exc) == expected, (status, type(exc).__name__)


@pytest.mark.parametrize(("status", "expected"), [
    (403, REFUSED), (429, REFUSED), (410, REFUSED), (404, REFUSED), (400, BAD_INPUT), (422, BAD_INPUT),
    (500, UNAVAILABLE), (503, UNAVAILABLE), (504, UNAVAILABLE),
])
def test_an_error_type_the_sdk_does_not_know_maps_by_its_http_status(status, expected):
    """A newer server's refusal of a new type is still a refusal (3), not an outage (4)."""
    from qclone.storage.errors import RefusedError, UnavailableError
    from qclone.storage.rpc.client import error_from_body

    body = json.dumps({"error": {"type": "QuotaExceededError", "message": "over quota"}}).encode()
    exc = error_from_body(status, body, where="the qclone server", by_status=True)
    assert exit_status(exc) == expected, (status, type(exc).__name__)
    if status < 500:
        assert isinstance(exc, RefusedError) and exc.http_status == status and exc.kind == "QuotaExceededError"
        assert "QuotaExceededError: over quota" in str(exc)
    else:
        assert isinstance(exc, UnavailableError)
    # a type name that is this module's fallback is no type the server can make known by naming it
    spoofed = error_from_body(status, json.dumps({"error": {"type": "RefusedError", "message": "m"}}).encode(),
                              where="the qclone server", by_status=True)
    assert exit_status(spoofed) == expected
    # between the gateway and its own nodes an unknown type stays a failing node
    assert isinstance(error_from_body(status, body, where="node p1"), UnavailableError)


def test_the_cli_exits_3_on_a_new_refusal_of_a_newer_server(capsys):
    """End to end: ``qclone stat`` against a server answering 429 with an error type unknown here."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  # http.server's hook name
            body = json.dumps({"error": {"type": "RateLimitedError", "message": "slow down"}}).encode()
            self.send_response(429)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, out, err = run(capsys, "stat", "anything", "--url", url, "--token", "t")
    finally:
        server.shutdown()
        server.server_close()
    assert code == REFUSED and out == "" and one_error_line(err), err
    assert "RateLimitedError: slow down" in err


def test_refusals_the_service_may_add_map_by_their_http_status():
    """403 and 429 (and any storage error that names its status) are refusals: status 3."""
    from qclone.storage.errors import StorageError

    for status, expected in ((403, REFUSED), (429, REFUSED), (410, REFUSED), (413, BAD_INPUT), (504, UNAVAILABLE)):
        exc = type("Err", (StorageError,), {"http_status": status})("m")
        assert exit_status(exc) == expected


def test_environment_errors_and_bugs():
    from qclone.errors import BackendUnavailableError

    assert exit_status(BackendUnavailableError("no IBM Quantum account is available")) == BAD_INPUT
    assert exit_status(ConnectionRefusedError(111, "refused")) == UNAVAILABLE
    assert exit_status(TimeoutError("slow")) == UNAVAILABLE
    assert exit_status(IsADirectoryError(21, "Is a directory")) == BAD_INPUT
    assert exit_status(ValueError("a bug")) is None
    with pytest.raises(ZeroDivisionError):
        describe_exit(ZeroDivisionError("a bug is not hidden"))
    code, line = describe_exit(OSError(28, "No space left on device"))
    assert code == BAD_INPUT and line == "qclone: error: [Errno 28] No space left on device"


# --- one JSON document per --json invocation ----------------------------------------------------

#: A small run of every command with --json that needs neither the service nor an IBM device.
JSON_RUNS = {
    ("demo",): ["--clones", "2", "--seed", "1", "--no-storage"],
    ("circuit",): ["--clones", "2", "--decrypt", "1"],
    ("verify",): ["--clones", "2"],
    ("audit",): ["--clones", "4"],
    ("classify",): ["--clones", "2", "S1"],
    ("scaling",): ["--noise", "memory", "-p", "0.01", "--depth", "linear"],
    ("sweep",): ["--clones", "2", "--noise", "depolarizing", "-p", "0.01", "--shots", "100", "--workers", "1"],
    ("plot",): ["--noise", "memory", "-p", "0.01", "--clones", "1,2", "--output", "f.svg"],
    ("storage", "simulate"): ["--clones", "2", "--objects", "1000", "--seed", "1"],
    ("storage", "plan"): ["parties.yaml"],
    ("hardware", "compare"): ["--clones", "2,3"],
}
#: Commands whose --json needs a server or a device model run (their JSON is tested with them).
JSON_ELSEWHERE = {("serve",), ("put",), ("get",), ("apply",), ("ls",), ("stat",), ("rm",), ("peek",), ("audit-log",),
                  ("tenant", "create"),
                  ("providers",), ("providers", "list"), ("providers", "add"), ("providers", "drain"), ("providers", "kill"),
                  ("providers", "revive"), ("storage", "rotate-key"), ("hardware", "run"), ("hardware", "layout"),
                  ("hardware", "modules"), ("hardware", "predict"),
                  # tests/storage/test_cluster.py (a running cluster) and tests/cli/test_cluster_cli.py
                  ("cluster", "up"), ("cluster", "down"), ("cluster", "status")}


def test_every_json_command_is_covered():
    with_json = {p for p in PATHS if "--json" in option_names(COMMAND_TREE[p])}
    assert with_json - set(JSON_RUNS) - JSON_ELSEWHERE == set(), "add the new command to JSON_RUNS (or JSON_ELSEWHERE)"


@pytest.mark.parametrize("path", sorted(JSON_RUNS), ids=[" ".join(p) for p in sorted(JSON_RUNS)])
def test_json_is_one_document_and_jsonl_one_object_per_line(capsys, path):
    code, out, err = run(capsys, *path, *JSON_RUNS[path], "--json")
    assert code == 0, err
    json.loads(out)  # the whole of stdout is one document
    if "--jsonl" in option_names(COMMAND_TREE[path]):
        code, out, err = run(capsys, *path, *JSON_RUNS[path], "--jsonl")
        rows = [json.loads(line) for line in out.splitlines()]
        assert code == 0 and rows and all(isinstance(r, dict) for r in rows), err
        code, out, err = run(capsys, *path, *JSON_RUNS[path], "--json", "--jsonl")
        assert code == BAD_INPUT and out == "" and one_error_line(err)


def test_a_misspelt_command_is_one_line_with_a_suggestion(capsys):
    code, out, err = run(capsys, "veify", "--clones", "3")
    assert code == BAD_INPUT and out == "" and err == "qclone: error: No such command 'veify'. Did you mean 'verify'?\n"
    code, out, err = run(capsys, "hardware", "runn")
    assert code == BAD_INPUT and one_error_line(err) and "'run'" in err
