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
