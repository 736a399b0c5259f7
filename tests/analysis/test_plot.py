"""Plots read at every range of n: ticks, labels and legend inspected on the matplotlib objects."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from qclone.analysis.durability import durability_figure, simulate
from qclone.analysis.plot import CLASSICAL_LIMIT_LABEL, FidelitySeries, clone_ticks, fidelity_figure, plot_fidelity
from qclone.errors import InvalidArgumentError

RANGES = {"1..5": np.arange(1, 6), "1..63": np.unique(np.geomspace(1, 63, 12).astype(int)),
          "1..10^6": 10 ** np.arange(7), "3..63": np.array([3, 6, 10, 15, 20, 40, 63])}


def visible_labels(ax):
    """(text, bbox) of the x tick labels matplotlib draws (inside the axis limits, non-empty)."""
    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    lo, hi = sorted(ax.get_xlim())
    out = []
    for tick in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks():
        label = tick.label1
        x = tick.get_loc()
        if label.get_visible() and label.get_text() and lo <= x <= hi:
            out.append((label.get_text(), label.get_window_extent(renderer)))
    return out


def check_clone_axis(ax, ns):
    labels = visible_labels(ax)
    texts = [t for t, _ in labels]
    assert len(texts) >= 3, texts
    for t in texts:  # plain numbers: no mathtext, no "2×10⁰"
        assert t.replace("\u2009", "").isdigit(), t
    values = sorted(int(t.replace("\u2009", "")) for t in texts)
    assert values[0] <= max(min(ns), 1) * 2 and values[-1] >= max(ns) / 10
    boxes = sorted((b for _, b in labels), key=lambda b: b.x0)
    for a, b in zip(boxes, boxes[1:]):
        assert a.x1 < b.x0, f"overlapping tick labels in {texts}"
    assert "clones n" in ax.get_xlabel()


@pytest.mark.parametrize("name", list(RANGES))
def test_fidelity_plot_reads_at_every_range(name):
    ns = RANGES[name]
    series = [FidelitySeries("memory, p = 0.001", tuple(int(n) for n in ns), tuple(0.5 + 0.5 / (1 + 0.01 * ns))),
              FidelitySeries("sampled", tuple(int(n) for n in ns), tuple(0.5 + 0.5 / (1 + 0.02 * ns)),
                             tuple(0.49 + 0.5 / (1 + 0.02 * ns)), tuple(0.51 + 0.5 / (1 + 0.02 * ns)))]
    fig = fidelity_figure(series)
    ax = fig.axes[0]
    check_clone_axis(ax, ns)
    assert ax.get_xscale() == ("linear" if name == "1..5" else "log")
    if name == "1..5":
        assert [t for t, _ in visible_labels(ax)] == ["1", "2", "3", "4", "5"]
    assert "average fidelity" in ax.get_ylabel() and "dimensionless" in ax.get_ylabel()
    handles, labels = ax.get_legend_handles_labels()
    assert sorted(labels) == sorted(["memory, p = 0.001", "sampled", CLASSICAL_LIMIT_LABEL])
    limit = handles[labels.index(CLASSICAL_LIMIT_LABEL)]
    assert np.allclose(limit.get_ydata(), 2 / 3)  # the legend names the dashed line at 2/3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels


def test_ticks_for_ranges():
    assert clone_ticks(1, 5) == ("linear", [1, 2, 3, 4, 5])
    assert clone_ticks(3, 20) == ("linear", [3, 4, 6, 8, 10, 12, 14, 16, 18, 20])
    assert clone_ticks(1, 63) == ("log", [1, 2, 5, 10, 20, 50])
    assert clone_ticks(10, 10**6) == ("log", [10, 100, 1000, 10**4, 10**5, 10**6])
    assert clone_ticks(7, 7) == ("linear", [7])
    assert clone_ticks(3, 63) == ("log", [3, 5, 10, 20, 50])
    assert clone_ticks(30, 40) == ("linear", [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40])  # narrow: linear
    assert clone_ticks(100, 500) == ("linear", [100, 150, 200, 250, 300, 350, 400, 450, 500])
    assert clone_ticks(1, 30) == ("log", [1, 2, 5, 10, 20, 30])
    assert clone_ticks(3, 3 * 10**5) == ("log", [3, 10, 100, 1000, 10**4, 10**5, 3 * 10**5])
    with pytest.raises(InvalidArgumentError):
        clone_ticks(0, 5)


def test_a_single_clone_count_still_has_readable_ticks(tmp_path):
    out = plot_fidelity([FidelitySeries("one point", (5,), (0.9,))], [tmp_path / "f.png"])
    assert out[0].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("clones", [5, 30])
def test_durability_plot_reads(clones):
    r = simulate(clones=clones, failure_rate=0.3, objects=200, seed=1, storage_time=10.0)
    fig = durability_figure(r)
    loss_ax, fid_ax = fig.axes
    for ax in (loss_ax, fid_ax):
        check_clone_axis(ax, np.arange(1, clones + 1))
    assert "lost" in loss_ax.get_ylabel() and "per object lifetime" in loss_ax.get_ylabel()
    assert "dimensionless" in fid_ax.get_ylabel()
    assert any(label.startswith("classical limit 2/(d+1)") for label in fid_ax.get_legend_handles_labels()[1])


@pytest.mark.parametrize("qubits", [[3, 5, 7, 9], [3, 9, 17, 33, 65]])
def test_placement_front_plot_reads(qubits):
    from qclone.analysis.planner import front_figure

    front = [{"qubits": q, "loss": 10.0 ** -i, "clones": (q - 1) // 2} for i, q in enumerate(qubits)]
    fig = front_figure({"front": front, "trust": {"max_coalition": 1}, "budget": max(qubits)})
    ax = fig.axes[0]
    labels = visible_labels(ax)
    values = [int(t) for t, _ in labels]
    assert values[0] <= qubits[0] and values[-1] >= qubits[-1] / 2
    boxes = sorted((b for _, b in labels), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
    assert "qubits stored" in ax.get_xlabel() and "lost" in ax.get_ylabel()
    assert ax.get_legend_handles_labels()[1] == ["most durable placement with at most this many qubits"]
