"""The explorer, driven headlessly: set the widgets' values, train, check what it learned and drew."""

import matplotlib.pyplot as plt
import pytest
import torch

from scratchlib.show import widgets


def test_parse_hidden():
    assert widgets.parse_hidden("16, 8") == [16, 8]
    assert widgets.parse_hidden(" 4 ") == [4]
    assert widgets.parse_hidden("") == []
    with pytest.raises(ValueError, match="whole numbers separated by commas, got 'a, 3'"):
        widgets.parse_hidden("a, 3")
    with pytest.raises(ValueError, match="between 1 and 512"):
        widgets.parse_hidden("0")


def test_setting_values_and_clicking_train_learns_xor():
    e = widgets.Explorer(auto=False)
    e.dataset.value = "xor"
    e.hidden.value = "8"
    e.lr.value = 0.5
    e.epochs.value = 60
    assert e.runs == 0 and e.history is None  # auto off: nothing trained yet
    e.train_button.click()
    assert e.runs == 1
    assert [W.shape for W in e.net.weights] == [(8, 2), (2, 8)]
    assert e.history.epochs == 60 and e.history.lr == 0.5
    assert e.history.val_accuracy[-1] >= 0.95
    assert e.status.value.startswith("xor: hidden [8], lr 0.5, regularization 0, 60 epochs: train accuracy")
    boundary, losses = e.figure.axes[:2]
    assert boundary.get_title() == "xor"
    assert [line.get_label() for line in losses.get_lines()] == ["train", "held-out"]
    assert list(losses.get_lines()[0].get_ydata()) == e.history.epoch_loss


def test_every_change_retrains_when_auto_is_on():
    e = widgets.Explorer(dataset="spirals", hidden="", epochs=5, auto=True)
    e.epochs.value = 3
    assert e.runs == 1 and e.history.epochs == 3
    assert [W.shape for W in e.net.weights] == [(3, 2)]  # no hidden layer, three spiral arms
    e.regularization.value = 1e-2
    assert e.runs == 2 and [r.strength for r in e.net.regularizers] == [1e-2]
    e.dataset.value = "five points"
    assert e.history.val_accuracy == [] and "held-out" not in e.status.value


def test_five_points_are_learned_with_a_hidden_layer():
    e = widgets.Explorer(dataset="five points", hidden="6", lr=1.0, epochs=300, batch_size=5, auto=False)
    h = e.run()
    assert h.epoch_accuracy[-1] == 1.0


def test_errors_show_in_the_status_line(monkeypatch):
    e = widgets.Explorer(auto=False)
    e.hidden.value = "many"
    assert e.run() is None and "error:" in e.status.value and "'many'" in e.status.value
    # a data set with a NaN in it: training stops at once and the status says where
    x, y = widgets.data.xor(n=20)
    x[3, 0] = float("nan")
    monkeypatch.setitem(widgets.DATASETS, "broken", (lambda seed: (x, y), False))
    e.dataset.options = list(widgets.DATASETS)
    e.dataset.value = "broken"
    e.hidden.value = "4"
    e.epochs.value = 2
    assert e.run() is None
    assert e.status.value.startswith("<b>error:</b> train: x holds NaN or inf in 1 row (3)")


def test_widget_tree_holds_every_control():
    e = widgets.Explorer(dataset="circles", auto=False)
    tree = e.widget
    found = []
    stack = [tree]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(getattr(node, "children", ()))
    for control in e.controls + [e.train_button, e.auto, e.status, e.output]:
        assert any(control is node for node in found)


def test_backward_stepper_is_a_slider_over_a_network():
    # the logic is tested in tests/test_stepper.py (slider, frames, rules) and tests/test_replay.py
    from scratchlib.layers import mlp
    from scratchlib.show import stepper

    net = mlp([2, 3, 2], generator=torch.Generator().manual_seed(0))
    with pytest.raises(RuntimeError, match=r"run forward first"):
        stepper.backward_stepper(net)
    net.x.set(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))
    net.target.set(torch.tensor([1, 0]))
    net.forward()
    box = stepper.backward_stepper(net)
    assert box.slider.max == len(box.stepper) - 1 == 4  # seed, loss, Linear2, ReLU, Linear1
    box.slider.value = 2
    assert box.caption.value.startswith("<code>2 backward Linear2: -> ReLU (2, 3), W2 (2, 3), b2 = [")
    plt.close("all")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(dataset="moons"), ValueError, r"Explorer: dataset must be one of \["),
        (dict(lr=100), ValueError, r"Explorer: lr must be in \[0.001, 10.0\], got 100"),
        (dict(epochs=10000), ValueError, r"Explorer: epochs must be in \[1, 500\], got 10000"),
        (dict(lr="0.1"), TypeError, r"Explorer: lr must be a number, got str '0.1'"),
        (dict(regularization=0.5), ValueError, r"Explorer: regularization must be one of \[0.0, 0.0001"),
    ],
)
def test_the_explorer_refuses_values_its_controls_cannot_show(kwargs, error, message):
    # no TraitError from deep inside ipywidgets, and no silent clamping to the slider's end
    with pytest.raises(error, match=message):
        widgets.Explorer(auto=False, **kwargs)
