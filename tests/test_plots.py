import matplotlib.pyplot as plt
import pytest
import torch

from scratchlib import data, plots


def test_class_predictions_handles_scores_and_probabilities():
    assert plots.class_predictions(torch.tensor([[0.1, 2.0], [3.0, -1.0]])).tolist() == [1, 0]
    assert plots.class_predictions(torch.tensor([[0.7], [0.2]])).tolist() == [1, 0]
    assert plots.class_predictions(torch.tensor([0.2, 0.9])).tolist() == [0, 1]


def test_decision_boundary_shades_the_predicted_regions():
    x, y = data.xor(n=40)

    def predict(points):  # the true xor rule, as two class scores
        positive = ((points[:, 0] > 0) != (points[:, 1] > 0)).double()
        return torch.stack([1 - positive, positive], dim=1)

    ax = plots.plot_decision_boundary(predict, x, y, resolution=50, title="xor")
    assert ax.get_title() == "xor"
    assert len(ax.collections) >= 3  # the shaded regions and one scatter per class
    legend = [t for t in ax.get_legend_handles_labels()[1]]
    assert legend == ["class 0", "class 1"]
    plt.close(ax.figure)


def test_decision_boundary_with_probabilities_on_given_axes():
    x, y = data.circles(n=40)
    fig, ax = plt.subplots()
    out = plots.plot_decision_boundary(lambda p: torch.sigmoid(1 - 4 * p.norm(dim=1)), x, y, ax=ax,
                                       resolution=30)
    assert out is ax
    plt.close(fig)


def test_decision_boundary_rejects_non_2d_points():
    with pytest.raises(ValueError, match=r"shape \(n, 2\), got \(4, 3\)"):
        plots.plot_decision_boundary(lambda p: p, torch.zeros(4, 3), torch.zeros(4))


def test_plot_losses_draws_one_line_per_curve():
    ax = plots.plot_losses({"lr 0.1": [1.0, 0.5, 0.25], "lr 0.01": [1.0, 0.9, 0.8]})
    assert [line.get_label() for line in ax.get_lines()] == ["lr 0.1", "lr 0.01"]
    assert list(ax.get_lines()[0].get_ydata()) == [1.0, 0.5, 0.25]
    assert ax.get_yscale() == "log"
    plt.close(ax.figure)


def test_plot_accuracy_in_percent_with_positions():
    ax = plots.plot_accuracy({"train": [0.5, 0.75, 0.9], "held-out": [0.4, 0.8]},
                             steps={"held-out": [0, 2]})
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["train", "held-out"]
    assert list(lines[0].get_ydata()) == [50.0, 75.0, 90.0]
    assert list(lines[1].get_xdata()) == [0, 2]
    assert ax.get_ylabel() == "accuracy (%)"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="'a' has 2 values but 3 positions"):
        plots.plot_accuracy({"a": [0.1, 0.2]}, steps={"a": [0, 1, 2]})


def test_confusion_matrix_counts():
    # true 0 0 1 2 2 2, predicted 0 1 1 2 0 2: row = true class, column = prediction
    counts = plots.confusion_matrix(torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 0, 2]))
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert plots.confusion_matrix([1], [1], classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match=r"y_pred must lie in \[0, 3\), got values from 0 to 5"):
        plots.confusion_matrix([0, 1], [0, 5], classes=3)
    with pytest.raises(ValueError, match="2 true labels but 3 predictions"):
        plots.confusion_matrix([0, 1], [0, 1, 1])


def test_plot_confusion_matrix_writes_the_counts():
    ax = plots.plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1])
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "2"]
    assert ax.get_title() == "accuracy 75.0%"
    plt.close(ax.figure)


def test_show_weights_draws_one_image_per_unit():
    weight = torch.randn(5, 784, generator=torch.Generator().manual_seed(0))
    fig = plots.show_weights(weight, ncols=3)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 5 and len(fig.axes) == 6  # 2 rows of 3, the last one blank
    shown = images[1].images[0].get_array()
    assert shown.shape == (28, 28)
    torch.testing.assert_close(torch.as_tensor(shown.data), weight[1].double().reshape(28, 28))
    low, high = images[1].images[0].get_clim()
    assert low == -high == -weight[1].abs().max().item()  # symmetric: zero is white
    plt.close(fig)
    with pytest.raises(ValueError, match=r"shape \(out_features, 784\), got \(5, 10\)"):
        plots.show_weights(torch.zeros(5, 10))


def test_show_misclassified_titles_true_and_predicted():
    x = torch.rand(6, 784, generator=torch.Generator().manual_seed(1))
    fig = plots.show_misclassified(x, [1, 2, 3, 4, 5, 6], [1, 7, 3, 0, 5, 6])
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["2 -> 7", "4 -> 0"]
    plt.close(fig)
    fig = plots.show_misclassified(x, [1] * 6, [1] * 6)
    assert "no misclassified" in fig.axes[0].texts[0].get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="same length, got 6, 6 and 5"):
        plots.show_misclassified(x, [1] * 6, [1] * 5)


def _nodes(ax):
    """The node labels of a drawn network (the arrows are Annotations, also Text)."""
    return [t for t in ax.texts if type(t).__name__ == "Text"]


def _weight_decay_mlp():
    from scratchlib.network import mlp
    return mlp([2, 3, 2], regularization=0.01, batch_size=4, generator=torch.Generator().manual_seed(0))


def test_draw_network_draws_every_layer_and_every_wire():
    net = _weight_decay_mlp()
    ax = plots.draw_network(net, title="weight decay")
    texts = [t.get_text() for t in _nodes(ax)]
    assert len(texts) == len(net.layers)
    assert {"x\n4x2", "y\n4", "W1\n3x2", "b1\n3", "W2\n2x3", "b2\n2", "Linear\n4x3", "ReLU\n4x3"} <= set(texts)
    assert texts.count("Regularization\n$\\lambda$=0.01") == 2
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation" and not c.get_text()]
    assert len(arrows) == sum(len(l.inputs) for l in net.layers)
    assert ax.get_title() == "weight decay"
    plt.close(ax.figure)


def test_draw_network_tells_parameters_data_and_the_weight_decay_branch_apart():
    net = _weight_decay_mlp()
    ax = plots.draw_network(net)
    colour = {t.get_text().split("\n")[0]: t.get_bbox_patch().get_facecolor() for t in _nodes(ax)}
    assert colour["W1"] == colour["b2"] != colour["x"] == colour["y"]
    assert colour["Regularization"] not in (colour["W1"], colour["x"], colour["Linear"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["data", "parameter", "operation", "loss", "weight decay"]
    dashed = [c for c in ax.get_children() if type(c).__name__ == "Annotation"
              and c.arrow_patch is not None and c.arrow_patch.get_linestyle() != "-"]
    assert len(dashed) == 4  # W1 -> R1, W2 -> R2, R1 -> Sum, R2 -> Sum
    # the main path runs along row 0, the weight-decay branch along the top row
    pos = plots.network_layout(net)
    assert pos[id(net.x)][1] == pos[id(net.loss)][1] == pos[id(net.objective)][1] == 0
    assert all(pos[id(r)][1] > pos[id(w)][1] for r, w in zip(net.regularizers, net.weights))
    plt.close(ax.figure)


def test_draw_network_on_given_axes_with_labels_and_highlight():
    from scratchlib.layers import Input, ReLU
    from scratchlib.network import Network
    net = Network()
    x = net.add(Input((2, 3)))
    r = net.add(ReLU(x))
    fig, ax = plt.subplots()
    out = plots.draw_network(net, ax=ax, labels={x: "input"}, highlight=r)
    assert out is ax
    texts = {t.get_text(): t for t in _nodes(ax)}
    assert set(texts) == {"input\n2x3", "ReLU\n2x3"}
    assert texts["ReLU\n2x3"].get_bbox_patch().get_linewidth() > texts["input\n2x3"].get_bbox_patch().get_linewidth()
    plt.close(fig)
    with pytest.raises(ValueError, match="draw_network: the network has no layers yet"):
        plots.draw_network(Network())


def _stepped_mlp():
    from scratchlib.network import mlp
    g = torch.Generator().manual_seed(0)
    net = mlp([2, 3, 2], regularization=0.05, batch_size=4, generator=g, dtype=torch.float64)
    net.x.set(torch.randn(4, 2, generator=g, dtype=torch.float64))
    net.target.set(torch.tensor([0, 1, 1, 0]))
    net.forward()
    return net


def test_draw_network_at_every_step_of_a_replayed_backward():
    from scratchlib.replay import record_backward
    net = _stepped_mlp()
    replay = record_backward(net)
    pending = []
    for step in range(len(replay)):
        ax = plots.draw_network(net, step=step, replay=replay)
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
    ax = plots.draw_network(net, step=7, replay=replay)
    w2 = next(t.get_text() for t in _nodes(ax) if t.get_text().startswith("W2"))
    low, high = net.weights[1].output.min().item(), net.weights[1].output.max().item()
    total = replay[7].grad
    assert w2 == (f"W2\n2x3\n{low:.2g} .. {high:.2g}\ngrad {total.min().item():.2g} .. {total.max().item():.2g}")
    assert "sum W2" in ax.get_title()
    b2 = next(t.get_text() for t in _nodes(ax) if t.get_text().startswith("b2"))
    assert b2.startswith("b2\n2\n[0, 0]\ngrad [")  # small tensors: the numbers themselves
    plt.close(ax.figure)


def test_draw_network_with_a_step_records_a_replay_and_leaves_the_grads_alone():
    net = _stepped_mlp()
    net.backward()
    before = [layer.grad.clone() for layer in net.layers]
    ax = plots.draw_network(net, step=-1)
    assert "sum W1" in ax.get_title()
    assert all(torch.equal(layer.grad, b) for layer, b in zip(net.layers, before))
    with pytest.raises(IndexError, match=r"step must lie in \[0, 11\)"):
        plots.draw_network(net, step=11)
    plt.close("all")


def test_summarize_shows_small_tensors_and_ranges():
    assert plots.summarize(torch.tensor(0.123456)) == "0.123"
    assert plots.summarize(torch.tensor([1.0, -0.0, 2.5])) == "[1, 0, 2.5]"
    assert plots.summarize(torch.arange(6.0) - 2) == "-2 .. 3"


@pytest.mark.parametrize("labels, message", [
    ([0, 1, -1, 1], r"plot_decision_boundary: class labels must lie in \[0, 10\), got values from -1 to 1"),
    ([0.0, 1.0, 0.5, 1.0], r"plot_decision_boundary: class labels must be integers, got dtype torch.float32"),
])
def test_decision_boundary_refuses_labels_it_would_drop(labels, message):
    # negative or fractional labels used to vanish from the picture without a word
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=message):
        plots.plot_decision_boundary(lambda g: g[:, 0], x, torch.tensor(labels))


def test_decision_boundary_takes_whole_number_float_labels():
    x, y = data.five_points()  # y is float: [1., 0., 0., 0., 0.]
    ax = plots.plot_decision_boundary(lambda g: (g ** 2).sum(dim=1) < 0.5, x, y)
    points = sorted(len(c.get_offsets()) for c in ax.collections if c.get_label().startswith("class"))
    assert points == [1, 4]  # four of class 0, one of class 1: none dropped
    plt.close(ax.figure)
