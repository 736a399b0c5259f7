"""The inventory of every option of every command: one name for one idea, one idea per name.

A new option name must be added to :data:`INVENTORY` with its meaning, which makes its author
check that no existing name already stands for the idea (two names with one meaning fail here).
The spellings in :data:`RETIRED` were replaced; they may only live on as hidden aliases.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from qclone.cli.main import ALIASES, all_commands

TREE = all_commands()

#: long option name -> its one meaning across the commands
INVENTORY = {
    # the protocol
    "--clones": "number of encrypted clones n (a comma-separated list where a command runs several)",
    "--qubits": "register size k (qubits per input or stored object)",
    "--decrypt": "which clone is decrypted",
    "--depth": "encryption variant: linear or log",
    "--series": "modules in series",
    "--series-target": "what a series level re-clones",
    "--schedule": "order of the modules of a series",
    "--dim": "qudit dimension d",
    "--format": "circuit output format",
    "--picture": "draw the circuit picture",
    "--stage": "point of the lifecycle",
    "--placement": "which party holds which qubits",
    "--max-coalition": "largest coalition examined",
    "--all-subsets": "census over all subsets instead of a placement",
    "--list": "list the sets of one kind",
    "--engine": "qclone's simulation engine that computes the checks",
    "--method": "the algorithm inside the chosen computation (Aer's simulation method, the census' enumeration)",
    "--sample": "how many clones are checked at scale",
    # noise, sampling, results
    "--noise": "noise model",
    "--error-rate": "error probability of a noise model",
    "--failure-rate": "probability that a provider loses a clone",
    "--vault-failure-rate": "probability that the key vault loses a key",
    "--seed": "random seed",
    "--shots": "number of shots",
    "--retrieval": "plain or corrected retrieval (decrypt as stored, or measure the stabilizers, correct, then decrypt)",
    "--rounds": "syndrome-extraction rounds of corrected retrieval",
    "--max-errors": "stop a point after this many errors",
    "--max-clones": "largest n searched",
    "--workers": "worker processes",
    "--dask-scheduler": "Dask scheduler address",
    "--csv": "a results CSV file",
    "--objects": "number of simulated objects (Monte Carlo samples)",
    "--storage-time": "seconds an object is stored",
    "--t1": "memory T1 in seconds",
    "--t2": "memory T2 in seconds",
    "--title": "figure title",
    "--bootstrap": "bootstrap rounds",
    "--confidence": "central probability of the intervals",
    "--entangled": "also measure the reference pair",
    "--idle-noise": "schedule with delays so waiting qubits relax",
    "--runner": "how the circuits run: Aer or SamplerV2",
    "--backend": "the IBM device",
    "--max-bond": "MPS bond-dimension cap",
    "--truncation": "MPS truncation threshold",
    "--kind": "kinds of module composition",
    "--levels": "modules in a series on the device",
    "--variant": "circuit variant of the protocol on the device",
    "--timing": "scheduling policy with the device's durations (alap, asap)",
    "--dd": "dynamical-decoupling sequence in idle windows",
    "--mitigate": "also report readout-error-mitigated estimates",
    "--error-scale": "factor on every error probability and 1/T1, 1/T2 of a device",
    # output
    "--output": "output file(s)",
    "--output-dir": "output directory",
    "--plot": "plot file(s) of a simulation",
    "--json": "one JSON document instead of tables",
    "--jsonl": "a stream of JSON Lines",
    "--quiet": "no progress display",
    # the storage service
    "--url": "the gateway's URL",
    "--token": "the tenant's API token",
    "--admin-token": "the admin token",
    "--limit": "at most this many entries (audit-log, ls)",
    "--data-dir": "a server's, node's or local cluster's data directory",
    "--db": "metadata database URL",
    "--role": "the role of a server process or node",
    "--port": "TCP port",
    "--host": "address to bind",
    "--substrate": "URL of the substrate node",
    "--vault": "URL of the vault node",
    "--id": "a provider node's id",
    "--zone": "a provider's zone",
    "--substrate-join": "the substrate's join token",
    "--vault-join": "the vault's join token",
    "--join": "a provider node's join token",
    "--holder": "a key holder (custodian or extra vault) the gateway registers: KIND:NAME[=URL]",
    "--holder-join": "a key holder node's join token: NAME=TOKEN",
    "--node-url": "URL of a provider node process",
    "--gateways": "gateway processes of a local cluster",
    "--substrate-workers": "worker processes of the substrate node of a local cluster",
    "--providers": "provider node processes of a local cluster",
    "--settable-clock": "a clock the admin API sets",
    "--log-level": "log level",
    "--max-body-bytes": "largest request body",
    "--tls-cert": "TLS certificate",
    "--tls-key": "TLS private key",
    "--lease": "seconds a get or put may run before the reconciler takes over",
    "--retention": "seconds a decrypted output waits for its acknowledgement",
    "--bloch": "a one-qubit state as a Bloch vector",
    "--statevector": "a state vector file",
    "--density": "a density matrix file",
    "--qasm": "an OpenQASM file preparing the state",
    "--keep-reference": "keep a copy of the input to report the fidelity",
    "--force": "allow what is refused by default",
    "--basis": "measurement basis",
    "--gate": "a logical gate applied to a stored object",
    "--qubit": "a register qubit a command acts on (repeatable)",
    "--provider": "a provider's id",
    "--storage": "also run the storage part",
    "--storage-clones": "clones of the demo's storage part",
    # durability and placement planning
    "--zones": "zones the providers are spread over",
    "--zone-failure-rate": "probability that a zone fails",
    "--custodian-failure-rate": "probability that the custodian keeping A loses it",
    "--compare": "compare every alternative scheme on one failure model",
    "--vaults": "vaults a split key is spread over",
    "--qss-threshold": "threshold k of a secret-sharing comparison",
    "--budget": "most qubits stored per input qubit",
}

#: Spellings replaced by the canonical name (never shown in help; ALIASES may still accept them).
RETIRED = {"--out": "--output or --output-dir", "--p": "--error-rate", "--progress": "--quiet", "--no-progress": "--quiet",
           "--fail-unsafe": "(audit always exits 1 when not safe)", "--outdir": "--output-dir", "--out-dir": "--output-dir",
           "--output-file": "--output", "--silent": "--quiet", "--ndjson": "--jsonl", "--json-lines": "--jsonl",
           "--samples": "--objects (Monte Carlo samples are simulated objects)"}

#: Short flags and the one long name each belongs to.
SHORT = {"-n": "--clones", "-k": "--qubits", "-p": "--error-rate", "-o": "--output", "-q": "--quiet", "-m": "--objects", "-h": "--help"}


def visible_options():
    """(command path, option) for every option a help page shows."""
    return [(path, p) for path, cmd in TREE.items() for p in cmd.params if p.param_type_name == "option" and not p.hidden]


def test_every_option_is_in_the_inventory():
    missing = sorted({p.opts[0] for _, p in visible_options()} - set(INVENTORY))
    assert not missing, f"add these options to INVENTORY with their meaning (or reuse an existing name): {missing}"


def test_one_name_per_meaning():
    by_meaning = defaultdict(list)
    for name, meaning in INVENTORY.items():
        by_meaning[meaning.lower()].append(name)
    assert all(len(names) == 1 for names in by_meaning.values()), [n for n in by_meaning.values() if len(n) > 1]


def test_no_retired_spelling_is_shown():
    shown = {o for _, p in visible_options() for o in (*p.opts, *p.secondary_opts)}
    assert not shown & set(RETIRED), shown & set(RETIRED)


def test_short_flags_mean_one_thing_and_long_names_keep_their_short_flag():
    shorts = defaultdict(set)
    for _, p in visible_options():
        for o in p.opts[1:]:
            shorts[o].add(p.opts[0])
    assert all(len(v) == 1 for v in shorts.values()), dict(shorts)
    assert {s: v.pop() for s, v in shorts.items()} == {s: n for s, n in SHORT.items() if s in shorts}
    for path, p in visible_options():
        expected = [s for s, n in SHORT.items() if n == p.opts[0]]
        assert list(p.opts[1:]) == expected, (path, p.opts)


def test_one_name_one_kind():
    """An option is a flag everywhere or takes a value everywhere; files and directories are paths."""
    kinds = defaultdict(set)
    for _, p in visible_options():
        kinds[p.opts[0]].add(bool(p.is_flag))
    assert all(len(k) == 1 for k in kinds.values()), {n: k for n, k in kinds.items() if len(k) > 1}
    for path, p in visible_options():
        if p.opts[0] in ("--output", "--output-dir", "--plot", "--data-dir", "--csv"):
            assert "Path" in str(p.type_descriptor.annotation), (path, p.opts[0])
        if p.opts[0] in ("--json", "--jsonl", "--quiet"):
            assert p.is_flag, (path, p.opts[0])


def test_jsonl_goes_with_json():
    for path, cmd in TREE.items():
        names = {p.opts[0] for p in cmd.params}
        if "--jsonl" in names:
            assert "--json" in names, path


@pytest.mark.parametrize(("option", "env"), [("--url", "QCLONE_URL"), ("--token", "QCLONE_TOKEN"), ("--admin-token", "QCLONE_ADMIN_TOKEN")])
def test_service_options_read_the_environment(option, env):
    found = [(path, p) for path, p in visible_options() if p.opts[0] == option]
    assert found
    for path, p in found:  # read by the option itself or, for --url and --token, by the SDK (one place, shared)
        assert p.envvar in (env, None) and env in (p.help or ""), path


def test_serve_db_help_names_the_real_file():
    from qclone.storage.db import DEFAULT_DB_FILE

    for path in (("serve",), ("tenant", "create")):
        [db] = [p for p in TREE[path].params if p.opts[0] == "--db"]
        assert f"DATA_DIR/{DEFAULT_DB_FILE}" in db.help


def test_aliases_point_at_canonical_names():
    for path, table in ALIASES.items():
        assert path in TREE, path
        shown = {o for p in TREE[path].params for o in (*p.opts, *p.secondary_opts)}
        for old, new in table.items():
            assert old not in shown and (new == "" or new in shown), (path, old, new)
