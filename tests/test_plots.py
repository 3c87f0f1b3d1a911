import matplotlib.pyplot as plt
import pytest
import torch

from scratchlib.show import plots
from scratchlib.training import data


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
    legend = list(ax.get_legend_handles_labels()[1])
    assert legend == ["class 0", "class 1"]
    plt.close(ax.figure)


def test_decision_boundary_with_probabilities_on_given_axes():
    x, y = data.circles(n=40)
    fig, ax = plt.subplots()
    out = plots.plot_decision_boundary(lambda p: torch.sigmoid(1 - 4 * p.norm(dim=1)), x, y, ax=ax, resolution=30)
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
    ax = plots.plot_accuracy({"train": [0.5, 0.75, 0.9], "held-out": [0.4, 0.8]}, steps={"held-out": [0, 2]})
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


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0, 1, -1, 1], r"plot_decision_boundary: class labels must be >= 0, got values from -1 to 1"),
        ([0.0, 1.0, 0.5, 1.0], r"plot_decision_boundary: class labels must be whole numbers, got 0.5"),
    ],
)
def test_decision_boundary_refuses_labels_it_would_drop(labels, message):
    # negative or fractional labels used to vanish from the picture without a word
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=message):
        plots.plot_decision_boundary(lambda g: g[:, 0], x, torch.tensor(labels))


def test_decision_boundary_takes_whole_number_float_labels():
    x, y = data.five_points()  # y is float: [1., 0., 0., 0., 0.]
    ax = plots.plot_decision_boundary(lambda g: (g**2).sum(dim=1) < 0.5, x, y)
    points = sorted(len(c.get_offsets()) for c in ax.collections if c.get_label().startswith("class"))
    assert points == [1, 4]  # four of class 0, one of class 1: none dropped
    plt.close(ax.figure)
