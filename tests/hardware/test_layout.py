import pytest
import rustworkx as rx

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.hardware.devices import DEVICE_NAMES, get_backend
from qclone.hardware.layout import coupling_adjacency, device_layout, long_path, max_clones


def _max_matching(adj):
    g = rx.PyGraph()
    g.add_nodes_from(range(len(adj)))
    g.add_edges_from_no_data([(a, b) for a in range(len(adj)) for b in adj[a] if a < b])
    return len(rx.max_weight_matching(g, max_cardinality=True))


@pytest.mark.parametrize("name", DEVICE_NAMES)
def test_path_is_a_simple_path_of_the_coupling_map_and_reaches_the_matching_bound(name):
    b = get_backend(name)
    adj = coupling_adjacency(b)
    path = long_path(adj)
    assert len(set(path)) == len(path)
    assert all(v in adj[u] for u, v in zip(path, path[1:]))
    # every Bell pair (and R, A) is a coupling edge, so they form a matching: no layout holds more
    assert max_clones(b) == _max_matching(adj) - 1


def test_max_clones_per_device(fez, torino):
    assert (max_clones(fez), max_clones(torino)) == (63, 55)


def test_layout_places_pairs_on_edges_and_the_decrypted_pair_last(fez):
    adj = coupling_adjacency(fez)
    lay = device_layout(fez, 7, decrypt=3)
    assert lay.pair_order[-1] == 3 and sorted(lay.pair_order) == list(range(1, 8))
    assert lay.R in adj[lay.A]
    for k in range(1, 8):
        assert lay.N(k) in adj[lay.S(k)]
    assert sorted(lay.physical.values()) == sorted(lay.path)


def test_layout_errors(fez):
    with pytest.raises(TooLargeError, match="at most 63"):
        device_layout(fez, 64)
    with pytest.raises(InvalidArgumentError):
        device_layout(fez, 3, decrypt=4)
    with pytest.raises(InvalidArgumentError):
        device_layout(fez, 0)
