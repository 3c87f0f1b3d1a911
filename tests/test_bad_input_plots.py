"""Bad input to the pictures (show: plots, draw, the backward stepper), and many classes in colour.

Rows from issue 30 (item 13 and the picture parts of 14). A row's state includes the open
figures: an error comes before a figure is made.
"""

import math

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.colors import to_hex

from bad_input import Bad, check, rows
from scratchlib.layers import mlp
from scratchlib.show import plots
from scratchlib.show.draw import draw_graph, draw_network
from scratchlib.show.stepper import BackwardStepper
from scratchlib.training import data


def xor_with(value):
    """xor's points with ``value`` in the first coordinate of row 5."""

    def make():
        x, y = data.xor(n=12)
        x[5, 0] = value
        return x, y

    return make


def small_net():
    net = mlp([2, 3, 2], batch_size=4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    net.x.set(torch.tensor([[1.0, -2.0], [0.5, 0.25], [-1.5, 3.0], [2.0, 1.0]], dtype=torch.float64))
    net.target.set(torch.tensor([0, 1, 1, 0]))
    net.forward()
    return net


def nothing():
    return None


def stepper():
    s = BackwardStepper(small_net())
    s.step = 2
    return s


def stepper_state(s):
    return [s.step, len(s.replay)]


def boundary(pair):
    return plots.plot_decision_boundary(lambda g: g, *pair, resolution=10)


def boundary_of(predict):
    """plot_decision_boundary of xor's points under ``predict``."""
    return lambda pair: plots.plot_decision_boundary(predict, *pair, resolution=10)


def nan_for_the_left_half(points):
    """Scores for two classes, NaN where x1 < 0: a model that has diverged there."""
    scores = torch.stack([points[:, 0], -points[:, 0]], dim=1)
    scores[points[:, 0] < 0] = math.nan
    return scores


@rows(
    Bad("NaN in x", xor_with(math.nan), boundary, ValueError, ["plot_decision_boundary: x holds NaN or inf", "(5)"]),
    Bad("inf in x", xor_with(math.inf), boundary, ValueError, ["NaN or inf in 1 row (5)", "before plotting"]),
    Bad("-inf in x", xor_with(-math.inf), boundary, ValueError, ["x holds NaN or inf"]),
    Bad(
        "fractional labels",
        lambda: (torch.zeros(3, 2), torch.tensor([0.0, 0.7, 1.0])),
        boundary,
        ValueError,
        ["plot_decision_boundary: class labels must be whole numbers, got 0.7"],
    ),
    Bad(
        "confusion matrix of label 0.7",
        lambda: None,
        lambda _: plots.confusion_matrix(torch.tensor([0.7, 1.0]), torch.tensor([0, 1])),
        ValueError,
        ["confusion_matrix: y_true: class labels must be whole numbers, got 0.7"],
    ),
    Bad(
        "confusion matrix of predictions 1.5",
        lambda: None,
        lambda _: plots.confusion_matrix([0, 1], [0.0, 1.5]),
        ValueError,
        ["confusion_matrix: y_pred: class labels must be whole numbers, got 1.5"],
    ),
    Bad(
        "confusion matrix of negative labels",
        lambda: None,
        lambda _: plots.confusion_matrix([0, -1], [0, 1]),
        ValueError,
        ["confusion_matrix: y_true: class labels must be >= 0"],
    ),
    Bad(
        "confusion matrix with classes='3'",
        lambda: None,
        lambda _: plots.confusion_matrix([0, 1], [0, 1], classes="3"),
        TypeError,
        ["confusion_matrix: classes must be an integer", "str '3'"],
    ),
    Bad(
        "plot_confusion_matrix of labels 0.5",
        lambda: None,
        lambda _: plots.plot_confusion_matrix([0.5, 1.0], [0, 1]),
        ValueError,
        ["whole numbers, got 0.5"],
    ),
    Bad(
        "predict gives NaN scores",
        xor_with(0.5),
        boundary_of(nan_for_the_left_half),
        ValueError,
        ["plot_decision_boundary: predict returned NaN or inf", "50 of the 100 grid points", "nothing to shade"],
    ),
    Bad(
        "predict gives NaN probabilities",
        xor_with(0.5),
        boundary_of(lambda g: torch.full((len(g), 1), math.nan)),
        ValueError,
        ["predict returned NaN or inf", "100 of the 100 grid points"],
    ),
    Bad(
        "predict gives 3 rows for 100 points",
        xor_with(0.5),
        boundary_of(lambda g: torch.zeros(3, 2)),
        ValueError,
        ["plot_decision_boundary: predict must return one row per point", "(100, 2)", "got shape (3, 2)"],
    ),
    Bad("class_colours(-1)", nothing, lambda _: plots.class_colours(-1), ValueError, ["class_colours: n", "got -1"]),
    Bad(
        "class_colours(2.5)",
        nothing,
        lambda _: plots.class_colours(2.5),
        TypeError,
        ["class_colours: n must be an integer", "float 2.5"],
    ),
    Bad(
        "draw_network of a torch model",
        nothing,
        lambda _: draw_network(torch.nn.Linear(2, 2)),
        TypeError,
        ["draw_network: net must be a library Network", "got Linear", "draw_graph"],
    ),
    Bad(
        "draw_graph of a torch tensor",
        nothing,
        lambda _: draw_graph((torch.ones(2, requires_grad=True) * 2).sum()),
        TypeError,
        ["draw_graph: tensor must be the engine's Tensor", "scratchlib.autograd", "got torch.Tensor"],
    ),
    Bad(
        "a stepper over a torch tensor",
        nothing,
        lambda _: BackwardStepper((torch.ones(2, requires_grad=True) * 2).sum()),
        TypeError,
        ["record_backward needs a Network or an autograd Tensor", "got torch.Tensor", "scratchlib.autograd"],
    ),
    Bad(
        "stepper.rule(999)",
        stepper,
        lambda s: s.rule(999),
        IndexError,
        ["BackwardStepper.rule: step must lie in [0, 5)", "got 999"],
        stepper_state,
    ),
    Bad(
        "stepper.describe(-99)",
        stepper,
        lambda s: s.describe(-99),
        IndexError,
        ["BackwardStepper.describe: step must lie in [0, 5)", "got -99"],
        stepper_state,
    ),
    Bad("stepper.frame(999)", stepper, lambda s: s.frame(999), IndexError, ["frame: step", "got 999"], stepper_state),
    Bad("stepper.draw(5)", stepper, lambda s: s.draw(5), IndexError, ["draw: step must lie in [0, 5)"], stepper_state),
    Bad(
        "stepper.rule(1.5)",
        stepper,
        lambda s: s.rule(1.5),
        TypeError,
        ["BackwardStepper.rule: step must be an integer", "float 1.5"],
        stepper_state,
    ),
    Bad(
        "stepper.step = '3'",
        stepper,
        lambda s: setattr(s, "step", "3"),
        TypeError,
        ["BackwardStepper.step: step must be an integer", "str '3'"],
        stepper_state,
    ),
    Bad(
        "draw_network(step=1.5)",
        small_net,
        lambda net: draw_network(net, step=1.5),
        TypeError,
        ["draw_network: step must be an integer", "float 1.5"],
        lambda net: [layer.grad for layer in net.layers],
    ),
    Bad(
        "draw_network(step=True)",
        small_net,
        lambda net: draw_network(net, step=True),
        TypeError,
        ["draw_network: step must be an integer", "bool True"],
    ),
    Bad(
        "draw_network(step=99)",
        small_net,
        lambda net: draw_network(net, step=99),
        IndexError,
        ["draw_network: step must lie in [0, 5)", "got 99"],
        lambda net: [layer.grad for layer in net.layers],
    ),
)
def test_bad_input_is_refused_before_anything_changes(row):
    check(row)


# ---------------------------------------------------------------- many classes (not errors)


@pytest.mark.parametrize("n", [1, 2, 10, 11, 12, 20, 21, 40])
def test_every_class_gets_its_own_colour(n):
    colours = [to_hex(c) for c in plots.class_colours(n)]
    assert len(colours) == n == len(set(colours))
    assert colours[: min(n, 10)] == [to_hex(plt.get_cmap("tab10")(c)) for c in range(min(n, 10))]  # as before


def test_twelve_classes_are_drawn_in_twelve_colours():
    # issue 30, item 13: 12 classes reused tab10's 10 colours (and were refused beyond 10)
    x, y = data.spirals(n=120, classes=12)

    def predict(points):  # the class of the nearest training point
        return torch.nn.functional.one_hot(y[torch.cdist(points.float(), x).argmin(dim=1)], 12).float()

    ax = plots.plot_decision_boundary(predict, x, y, resolution=20)
    points = [c for c in ax.collections if c.get_label().startswith("class")]
    assert [c.get_label() for c in points] == [f"class {k}" for k in range(12)]
    assert len({to_hex(c.get_facecolor()[0]) for c in points}) == 12
    plt.close(ax.figure)
