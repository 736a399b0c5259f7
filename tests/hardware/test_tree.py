"""The comb (tree) layout: exact against the textbook protocol, the decryption on the pair and the key
only, every gate on a coupling edge, fewer gates than today's path."""

from dataclasses import replace

import pytest

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.hardware.check import check_schedule
from qclone.hardware.layout import coupling_adjacency
from qclone.hardware.predict import predict
from qclone.hardware.schedule import protocol_schedule
from qclone.hardware.tree import (
    MODEL_CANDIDATES,
    place_comb,
    ranked_spines,
    row_branches,
    simple_paths,
    spine_slots,
    tree_candidates,
    tree_encryption,
    tree_layout,
    tree_schedule,
)
from qclone.protocol import Circuit


@pytest.mark.parametrize(("n", "j"), [(2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (4, 1), (4, 4)])
def test_dense_exact(n, j):
    assert check_schedule(tree_schedule(n, j), method="dense").passed


@pytest.mark.parametrize("n", [6, 9, 40])
def test_stim_exact(n):
    assert check_schedule(tree_schedule(n, 2), method="stim").passed


def test_one_clone_is_todays_textbook_circuit():
    assert tree_schedule(1) == protocol_schedule(1)


@pytest.mark.parametrize("n", [3, 8])
def test_decryption_touches_only_the_pair_and_the_key(n):
    # who can decrypt is unchanged: no gate of the decryption acts on another clone, on A or on R
    sched = tree_schedule(n, 2)
    allowed = set(spine_slots(n)[2:])  # s, t and the key qubits
    touched = {int(q) for ins in sched.decryption.instructions for q in ins.targets}
    assert touched <= allowed
    clones = {sched.mid_slots[f"S{k}"] for k in range(1, n + 1) if k != 2}
    assert not touched & clones
    # and the other clones stay where the encryption left them
    assert all(sched.final_slots[f"S{k}"] == sched.mid_slots[f"S{k}"] for k in range(1, n + 1) if k != 2)


@pytest.mark.parametrize("n", [2, 3])
def test_a_wrong_phase_or_a_dropped_gate_fails(n):
    sched = tree_schedule(n, 1)
    s, t = 2 * n, 2 * n + 1
    enc = sched.encryption
    no_cz = tuple(i for i in enc.instructions if not (i.name == "CZ" and list(i.targets) == [s, t]))
    assert len(no_cz) == len(enc.instructions) - 1
    bad = replace(sched, encryption=Circuit(enc.registers, no_cz))
    assert not check_schedule(bad, method="dense").passed and not check_schedule(bad, method="stim").passed
    dec = sched.decryption
    dropped = replace(sched, decryption=Circuit(dec.registers, dec.instructions[:5] + dec.instructions[6:]))
    assert not check_schedule(dropped, method="dense").decryption
    assert not check_schedule(dropped, method="stim").decryption


def test_branches_are_validated():
    n = 4
    good = row_branches(n)
    assert tree_encryption(n, good)[0].num_two_qubit_gates > 0
    with pytest.raises(InvalidArgumentError, match="one branch per other pair"):
        tree_encryption(n, good[:-1])
    # two branches of one length: the second passes key 5, which the first has already filled
    bad = ((5, 3, 4), (3, 5, 2), (7, 6))
    with pytest.raises(InvalidArgumentError, match="not free"):
        tree_encryption(n, bad)


def _cnots(circuit: Circuit) -> int:
    """Two-qubit gates in CNOTs (a SWAP is three)."""
    return sum({"SWAP": 3, "CX": 1, "CZ": 1}.get(ins.name, 0) * (len(ins.targets) // 2) for ins in circuit.instructions)


def test_fewer_gates_and_a_shorter_decryption_than_todays_path():
    for n in (9, 15):
        tree, today = tree_schedule(n), protocol_schedule(n)
        assert _cnots(tree.decryption) == 4 * (n - 1) + 3  # 4 per key against 10 per pair
        assert _cnots(tree.decryption) < 0.5 * _cnots(today.decryption)
        assert tree.decryption.two_qubit_depth < 0.8 * today.decryption.two_qubit_depth  # a SWAP counts one layer here
        total = _cnots(tree.encryption) + _cnots(tree.decryption)
        assert total < 0.8 * (_cnots(today.encryption) + _cnots(today.decryption))


def _assert_comb_on_coupling_edges(backend, lay):
    n = lay.clones
    adj = coupling_adjacency(backend)
    assert len(set(lay.path)) == 2 * n + 2
    spine = lay.spine
    assert all(b in adj[a] for a, b in zip(spine, spine[1:]))  # the spine is a path of the device
    assert all(lay.path[b[0]] in spine and lay.path[b[-1]] not in spine for b in lay.branches)  # clones off it
    sched = tree_schedule(n, lay.decrypt, lay.pair_order, lay.branches)
    for stage in (sched.encryption, sched.decryption):
        for ins in stage.instructions:
            if ins.name in ("CX", "CZ", "SWAP"):
                for a, b in zip(ins.targets[0::2], ins.targets[1::2]):
                    assert lay.path[int(b)] in adj[lay.path[int(a)]], (ins, a, b)
    assert check_schedule(sched, method="stim").passed


@pytest.mark.parametrize("device", ["fez", "torino"])
def test_device_layout_is_a_comb_on_coupling_edges(device, request):
    # the placement the model chose, and the heuristic's first spine that turns off the long path
    backend = request.getfixturevalue(device)
    lay = tree_layout(backend, 9, 3)
    _assert_comb_on_coupling_edges(backend, lay)
    windows = {w for _, w, _ in ranked_spines(backend, 9, spines="windows")}
    spine, branches = next((w, b) for _, w, b in ranked_spines(backend, 9) if w not in windows)
    _assert_comb_on_coupling_edges(backend, place_comb(backend.name, 9, 2, spine, branches))


def test_simple_paths():
    # a square with a tail: 0-1-2-3-0 and 3-4
    adj = ((1, 3), (0, 2), (1, 3), (0, 2, 4), (3,))
    three = simple_paths(adj, 3)
    assert len(three) == len(set(three)) and all(len(p) == 3 for p in three)
    assert (2, 3, 4) in three and (4, 3, 2) in three and (0, 1, 2) in three
    assert all(b in adj[a] for p in three for a, b in zip(p, p[1:]))
    assert len(simple_paths(adj, 5)) == 4  # 4-3-0-1-2, 4-3-2-1-0 and their reverses
    assert simple_paths(adj, 3, limit=5) is None
    assert all(3 not in p for p in simple_paths(adj, 2, avoid=lambda a, b: 3 in (a, b)))


@pytest.mark.parametrize("device", ["fez", "torino"])
def test_every_window_is_a_spine_searched(device, request):
    backend = request.getfixturevalue(device)
    paths = {w for _, w, _ in ranked_spines(backend, 8)}
    windows = {w for _, w, _ in ranked_spines(backend, 8, spines="windows")}
    assert windows and windows <= paths and len(paths) > 10 * len(windows)


def test_the_model_chooses_a_placement_no_worse_than_the_heuristic(fez):
    n = 6
    found = tree_candidates(fez, n)
    assert MODEL_CANDIDATES <= len(found) <= MODEL_CANDIDATES + 1  # the first window joins if it is not among them
    scored = {c.layout.path: c.fidelity for c in found}
    assert len(scored) == len(found)
    heuristic = tree_layout(fez, n, candidates=1)  # the ranking's first, without the model
    before = tree_layout(fez, n, spines="windows", candidates=1)  # the placement before paths were searched
    assert found[0].layout.path == heuristic.path and before.path in scored
    chosen = tree_layout(fez, n, 2)
    assert chosen.decrypt == 2 and chosen.pair_order[-1] == 2
    best = max(scored.values())
    assert scored[chosen.path] == best and best >= scored[heuristic.path] and best >= scored[before.path]
    # the variant's own circuit on the chosen placement: the same F (the decrypted clone's label moves nothing)
    assert predict(fez, n, 2, variant="tree").average_fidelity == pytest.approx(best, abs=1e-9)


def test_too_many_clones_for_a_comb(fez):
    with pytest.raises(TooLargeError, match="comb"):
        tree_layout(fez, 40)
    with pytest.raises(InvalidArgumentError, match="decrypted clone"):
        tree_layout(fez, 3, decrypt=4)
