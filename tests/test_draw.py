"""scratchlib.show.draw: the pictures of a Network's tape and of the engine's graph, one drawing module."""

import matplotlib.pyplot as plt
import pytest
import torch

from scratchlib.autograd import Tensor
from scratchlib.show import draw
from scratchlib.show.draw import draw_graph
from scratchlib.show.graph import graph_nodes


def _nodes(ax):
    """The node labels of a drawn network (the arrows are Annotations, also Text)."""
    return [t for t in ax.texts if type(t).__name__ == "Text"]


def _weight_decay_mlp():
    from scratchlib.layers import mlp

    return mlp([2, 3, 2], regularization=0.01, batch_size=4, generator=torch.Generator().manual_seed(0))


def test_draw_network_draws_every_layer_and_every_wire():
    net = _weight_decay_mlp()
    ax = draw.draw_network(net, title="weight decay")
    texts = [t.get_text() for t in _nodes(ax)]
    assert len(texts) == len(net.layers)
    assert {"x\n4x2", "y\n4", "W1\n3x2", "b1\n3", "W2\n2x3", "b2\n2", "Linear\n4x3", "ReLU\n4x3"} <= set(texts)
    assert texts.count("Regularization\n$\\lambda$=0.01") == 2
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation" and not c.get_text()]
    assert len(arrows) == sum(len(layer.inputs) for layer in net.layers)
    assert ax.get_title() == "weight decay"
    plt.close(ax.figure)


def test_draw_network_tells_parameters_data_and_the_weight_decay_branch_apart():
    net = _weight_decay_mlp()
    ax = draw.draw_network(net)
    colour = {t.get_text().split("\n")[0]: t.get_bbox_patch().get_facecolor() for t in _nodes(ax)}
    assert colour["W1"] == colour["b2"] != colour["x"] == colour["y"]
    assert colour["Regularization"] not in (colour["W1"], colour["x"], colour["Linear"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["data", "parameter", "operation", "loss", "weight decay"]
    dashed = [
        c
        for c in ax.get_children()
        if type(c).__name__ == "Annotation" and c.arrow_patch is not None and c.arrow_patch.get_linestyle() != "-"
    ]
    assert len(dashed) == 4  # W1 -> R1, W2 -> R2, R1 -> Sum, R2 -> Sum
    # the main path runs along row 0, the weight-decay branch along the top row
    pos = draw.network_layout(net)
    assert pos[id(net.x)][1] == pos[id(net.loss)][1] == pos[id(net.objective)][1] == 0
    assert all(pos[id(r)][1] > pos[id(w)][1] for r, w in zip(net.regularizers, net.weights))
    plt.close(ax.figure)


def test_draw_network_on_given_axes_with_labels_and_highlight():
    from scratchlib.layers import Input, Network, ReLU

    net = Network()
    x = net.add(Input((2, 3)))
    r = net.add(ReLU(x))
    fig, ax = plt.subplots()
    out = draw.draw_network(net, ax=ax, labels={x: "input"}, highlight=r)
    assert out is ax
    texts = {t.get_text(): t for t in _nodes(ax)}
    assert set(texts) == {"input\n2x3", "ReLU\n2x3"}
    assert texts["ReLU\n2x3"].get_bbox_patch().get_linewidth() > texts["input\n2x3"].get_bbox_patch().get_linewidth()
    plt.close(fig)
    with pytest.raises(ValueError, match="draw_network: the network has no layers yet"):
        draw.draw_network(Network())


def _stepped_mlp():
    from scratchlib.layers import mlp

    g = torch.Generator().manual_seed(0)
    net = mlp([2, 3, 2], regularization=0.05, batch_size=4, generator=g, dtype=torch.float64)
    net.x.set(torch.randn(4, 2, generator=g, dtype=torch.float64))
    net.target.set(torch.tensor([0, 1, 1, 0]))
    net.forward()
    return net


def test_draw_network_at_every_step_of_a_replayed_backward():
    from scratchlib.show.replay import record_backward

    net = _stepped_mlp()
    replay = record_backward(net)
    pending = []
    for step in range(len(replay)):
        ax = draw.draw_network(net, step=step, replay=replay)
        texts = {t.get_text().split("\n")[0]: t for t in _nodes(ax)}
        assert len(texts) == len(net.layers)
        pending.append(sum("grad pending" in t.get_text() for t in texts.values()))
        event = replay[step]
        current = texts[replay.name(event.node)]
        assert current.get_bbox_patch().get_edgecolor()[:3] == pytest.approx((0.8, 0, 0), abs=0.01)
        plt.close(ax.figure)
    # all 12 layers that need a gradient start pending except the seed, and end reached
    assert pending[0] == 11 and pending[-1] == 0
    assert pending == sorted(pending, reverse=True)
    # step 7: the gradients into W2 meet; its node shows the value and the summed gradient
    ax = draw.draw_network(net, step=7, replay=replay)
    w2 = next(t.get_text() for t in _nodes(ax) if t.get_text().startswith("W2"))
    low, high = net.weights[1].output.min().item(), net.weights[1].output.max().item()
    total = replay[7].grad
    assert w2 == (f"W2\n2x3\n{low:.3g} .. {high:.3g}\ngrad {total.min().item():.3g} .. {total.max().item():.3g}")
    assert "sum W2" in ax.get_title()
    b2 = next(t.get_text() for t in _nodes(ax) if t.get_text().startswith("b2"))
    assert b2.startswith("b2\n2\n[0, 0]\ngrad [")  # small tensors: the numbers themselves
    plt.close(ax.figure)


def test_draw_network_with_a_step_records_a_replay_and_leaves_the_grads_alone():
    net = _stepped_mlp()
    net.backward()
    before = [(layer.grad, None if layer.grad is None else layer.grad.clone()) for layer in net.layers]
    ax = draw.draw_network(net, step=-1)
    assert "sum W1" in ax.get_title()
    assert all(
        layer.grad is grad and (grad is None or torch.equal(grad, values))
        for layer, (grad, values) in zip(net.layers, before)
    )
    assert torch.count_nonzero(net.weights[0].grad) > 0
    with pytest.raises(IndexError, match=r"step must lie in \[0, 11\)"):
        draw.draw_network(net, step=11)
    plt.close("all")


def test_summarize_shows_small_tensors_and_ranges():
    assert draw.summarize(torch.tensor(0.123456)) == "0.123"
    assert draw.summarize(torch.tensor([1.0, -0.0, 2.5])) == "[1, 0, 2.5]"
    assert draw.summarize(torch.arange(6.0) - 2.25) == "-2.25 .. 2.75"


def test_draws_every_node_and_edge_of_a_small_expression():
    a = Tensor(torch.tensor(2.0), requires_grad=True)
    b = Tensor(torch.tensor(-3.0), requires_grad=True)
    u = a * b
    loss = u * a + b  # a and b are used twice: one leaf node each, two arrows out
    nodes, edges = graph_nodes(loss)
    assert len(nodes) == 5 and len(edges) == 6
    loss.backward()
    ax = draw_graph(loss, names={"a": a, "b": b, "u": u, "L": loss})
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(texts) == 5 and len(arrows) == 6
    assert sum("Mul" in t for t in texts) == 2 and sum("Add" in t for t in texts) == 1
    # L = a^2 b + b = -15; dL/da = 2ab = -12, dL/db = a^2 + 1 = 5
    assert "a\n2\ngrad -12" in texts and "b\n-3\ngrad 5" in texts
    assert "Add\n= L\n-15" in texts and "Mul\n= u\n-6" in texts
    plt.close("all")


def test_needs_a_tensor_with_a_graph():
    with pytest.raises(ValueError, match="requires_grad=True"):
        draw_graph(Tensor(torch.ones(2)))


def _boxes_on_the_page(ax):
    """Each node label's box in pixels, once the figure is drawn at the notebooks' 72 dpi."""
    ax.figure.set_dpi(72)
    ax.figure.canvas.draw()
    return [(t, t.get_bbox_patch().get_window_extent()) for t in _nodes(ax)]


def _overlapping(boxes):
    return [(a.get_text(), b.get_text()) for k, (a, p) in enumerate(boxes) for b, q in boxes[k + 1 :] if p.overlaps(q)]


@pytest.mark.parametrize("stepped", [False, True])
def test_tape_labels_are_readable_at_100_percent_zoom(stepped):
    """At 72 dpi a point is a pixel: labels of at least 11 px, no two boxes on top of each other,
    every box inside the figure (so nothing is shrunk or cut off)."""
    net = _stepped_mlp()
    ax = draw.draw_network(net, step=7 if stepped else None)
    boxes = _boxes_on_the_page(ax)
    assert len(boxes) == len(net.layers)
    assert min(t.get_fontsize() for t, _ in boxes) >= 11
    assert _overlapping(boxes) == []
    page = ax.figure.bbox
    assert all(page.x0 <= b.x0 and b.x1 <= page.x1 and page.y0 <= b.y0 and b.y1 <= page.y1 for _, b in boxes)
    plt.close(ax.figure)


def test_engine_graph_labels_are_readable_at_100_percent_zoom():
    a = Tensor(torch.tensor(2.0), requires_grad=True)
    b = Tensor(torch.tensor(-3.0), requires_grad=True)
    ab = a * b
    f = ab + a
    for step in (None, 3):
        ax = draw_graph(f, names=dict(a=a, b=b, ab=ab, f=f), step=step)
        boxes = _boxes_on_the_page(ax)
        assert len(boxes) == 4 and min(t.get_fontsize() for t, _ in boxes) >= 11
        assert _overlapping(boxes) == []
        plt.close(ax.figure)
