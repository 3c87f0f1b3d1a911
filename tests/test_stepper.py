"""stepper: the backward stepper's logic, headless, and its widget driven through the slider."""

import matplotlib.pyplot as plt
import pytest
import torch

from scratchlib.layers import mlp
from scratchlib.show.draw import draw_network
from scratchlib.show.stepper import BackwardStepper, backward_stepper, local_rule, matrix_text


def small_net():
    g = torch.Generator().manual_seed(0)
    net = mlp([2, 3, 2], regularization=0.05, batch_size=4, generator=g, dtype=torch.float64)
    net.x.set(torch.tensor([[1.0, -2.0], [0.5, 0.25], [-1.5, 3.0], [2.0, 1.0]], dtype=torch.float64))
    net.target.set(torch.tensor([0, 1, 1, 0]))
    net.biases[0].set(torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64))
    net.forward()
    return net


def test_matrix_text_aligns_rows():
    assert matrix_text(torch.tensor([[1.0, -2.5], [0.125, 3.0]]), indent="") == "[    1  -2.5]\n[0.125     3]"
    assert matrix_text(torch.zeros(10, 10), indent="") == "(10, 10), values 0 .. 0"


def test_the_rule_of_a_linear_step_shows_its_matrices():
    net = small_net()
    stepper = BackwardStepper(net)
    rule = stepper.rule(6)  # Linear2.backward
    G = stepper.replay[6].grad
    X = net.activations[0].output
    assert rule.startswith("Linear2.backward, G = dJ/dLinear2 (4, 2):\n" + matrix_text(G))
    assert "dJ/dW2 = G^T X\n  X = ReLU:\n" + matrix_text(X) + "\n  =\n" + matrix_text(G.T @ X) in rule
    assert "dJ/db2 = column sums of G\n  =\n" + matrix_text(G.sum(0)) in rule
    assert "dJ/dReLU = G W\n  W = W2:" in rule
    meet = stepper.rule(7)
    assert meet.startswith("paths meet at W2: its gradient is the sum\ndJ/dW2 = (what was there) + (from Linear2)")
    assert meet.endswith("= dJ/dW2:\n" + matrix_text(stepper.replay[7].grad))
    assert stepper.rule(0) == "seed: dJ/dSum2 = dJ/dJ = 1\n    1"
    assert "dJ/dW1 = 2 lambda g W,  lambda = 0.05" in stepper.rule(4)
    assert "dJ/dLinear2 = (g / B) (softmax(Yhat) - onehot(y))" in local_rule(stepper.replay, 5)


def test_step_and_frames():
    stepper = BackwardStepper(small_net())
    assert len(stepper) == 11 and stepper.step == 0
    stepper.step = 7
    assert (
        stepper.describe() == "7 sum W2: the gradient from Linear2 meets the one already there, 2 terms of shape (2, 3)"
    )
    fig = stepper.frame()
    graph, text = fig.axes
    assert "sum W2" in graph.get_title()
    assert text.texts[0].get_text() == stepper.rule(7)
    # the graph keeps the size draw_network gives it alone (its labels readable), and every
    # frame has the same size, so the picture does not jump while the slider moves
    alone = draw_network(stepper.net, step=7, replay=stepper.replay).figure
    width, height = alone.get_size_inches()
    box = graph.get_position()
    assert box.width * fig.get_figwidth() == pytest.approx(alone.axes[0].get_position().width * width)
    assert box.height * fig.get_figheight() == pytest.approx(alone.axes[0].get_position().height * height)
    assert all(tuple(stepper.frame(k).get_size_inches()) == tuple(fig.get_size_inches()) for k in (0, 3, 10))
    plt.close("all")
    assert stepper.png(3).startswith(b"\x89PNG")
    with pytest.raises(IndexError, match=r"step must lie in \[0, 11\), got 11"):
        stepper.step = 11
    assert stepper.step == 7


def test_the_widget_follows_its_slider():
    net = small_net()
    box = backward_stepper(net)
    assert box.slider.max == box.play.max == 10
    first = bytes(box.image.value)
    assert first.startswith(b"\x89PNG") and "0 seed Sum2" in box.caption.value
    box.slider.value = 7
    assert box.stepper.step == 7
    assert "7 sum W2" in box.caption.value
    assert bytes(box.image.value) != first and bytes(box.image.value) == box.stepper.png(7)
    box.slider.value = 0
    assert bytes(box.image.value) == first
    plt.close("all")


def test_each_layer_class_carries_its_rule_for_its_own_inputs():
    from scratchlib import layers
    from scratchlib.show import stepper

    assert not hasattr(stepper, "_RULES")  # one home: beside each backward
    w, b, x = (layers.Input(s) for s in ((2, 3), (2,), (4, 3)))
    built = [
        layers.Linear(x, w, b),
        layers.ReLU(x),
        layers.Sigmoid(x),
        layers.Tanh(x),
        layers.Scale(x, 2.0),
        layers.Sum(x, x),
        layers.Regularization(w, 0.1),
        layers.MSELoss(x, x),
        layers.Softmax(x),
        layers.SoftmaxCrossEntropy(x, layers.Input((4,), dtype=torch.int64)),
    ]
    for layer in built:
        assert layer.rule and all(getattr(layer, name) in layer.inputs for name in layer.rule), layer
    assert layers.Linear.rule["W"] == ("G^T X", ["x:X"])


def _engine_graphs():
    """For each Function of scratchlib.autograd: a scalar computed through it from leaves only."""
    from scratchlib.autograd import Tensor
    from scratchlib.autograd import functional as F

    g = torch.Generator().manual_seed(0)

    def leaf(*shape, positive=False):
        data = torch.randn(*shape, dtype=torch.float64, generator=g)
        return Tensor(data.abs() + 0.5 if positive else data, requires_grad=True)

    return {
        "Add": lambda: leaf(2, 3) + leaf(3),
        "Sub": lambda: leaf(2, 3) - leaf(2, 3),
        "Mul": lambda: leaf(2, 3) * leaf(2, 1),
        "Div": lambda: leaf(2, 3) / leaf(2, 3, positive=True),
        "Neg": lambda: -leaf(2, 3),
        "Pow": lambda: leaf(2, 3) ** 3,
        "MatMul": lambda: leaf(2, 3) @ leaf(3, 4),
        "Sum": lambda: leaf(2, 3).sum(1),
        "Log": lambda: leaf(2, 3, positive=True).log(),
        "Exp": lambda: leaf(2, 3).exp(),
        "ReLU": lambda: leaf(2, 3).relu(),
        "Tanh": lambda: leaf(2, 3).tanh(),
        "Sigmoid": lambda: leaf(2, 3).sigmoid(),
        "LogSumExp": lambda: leaf(2, 3).logsumexp(1),
        "Transpose": lambda: leaf(2, 3).T,
        "Reshape": lambda: leaf(2, 3).reshape(3, 2),
        "Permute": lambda: leaf(2, 3, 4).permute(2, 0, 1),
        "LinearFunction": lambda: F.linear(leaf(4, 3), leaf(2, 3), leaf(2)),
        "BatchNormFunction": lambda: F.BatchNormFunction.apply(leaf(4, 3), leaf(3), leaf(3), None, None, 0.1, 1e-5),
        "CrossEntropyFunction": lambda: F.cross_entropy(leaf(4, 3), torch.tensor([0, 2, 1, 0])),
        "SoftmaxFunction": lambda: F.softmax(leaf(2, 3), 1),
        "LogSoftmaxFunction": lambda: F.log_softmax(leaf(2, 3), 1),
        "GELUFunction": lambda: F.gelu(leaf(2, 3)),
        "DropoutFunction": lambda: F.dropout(leaf(2, 3), 0.5, generator=torch.Generator().manual_seed(1)),
    }


def _engine_functions():
    """Every Function subclass in the modules of scratchlib.autograd, by class name."""
    import importlib
    import pkgutil

    import scratchlib.autograd
    from scratchlib.autograd.function import Function

    functions = {}
    for module in pkgutil.iter_modules(scratchlib.autograd.__path__, "scratchlib.autograd."):
        for cls in vars(importlib.import_module(module.name)).values():
            if isinstance(cls, type) and issubclass(cls, Function) and cls is not Function:
                functions[cls.__name__] = cls
    return functions


def test_every_engine_function_has_a_graph_for_the_stepper_test():
    assert set(_engine_functions()) == set(_engine_graphs())  # a new Function needs a row in the table above


# One case per Function: each runs that Function's backward (with the engine and Sum), so that
# a core op's case never waits on an optional exercise, nor an optional op's on another one.
@pytest.mark.parametrize("name", list(_engine_graphs()))
def test_each_engine_function_carries_its_rule_and_the_stepper_shows_it(name):
    import inspect

    from scratchlib.autograd.function import AccumulateGrad

    cls = _engine_functions()[name]  # one home: beside each backward, for forward's own inputs
    inputs = list(inspect.signature(cls.forward).parameters)[1:]
    # the student edition leaves each rule empty (it is the derivation the backward exercise asks for);
    # the teacher's tests (test_teacher_edition.py) check that the course's rules are written
    assert "rule" in vars(cls) and set(cls.rule) <= set(inputs), cls
    assert all(isinstance(formula, str) for formula in cls.rule.values()), cls
    out = _engine_graphs()[name]()
    stepper = BackwardStepper(out.sum() if out.ndim else out)
    i, node = next(
        (i, e.node)
        for i, e in enumerate(stepper.replay)
        if e.kind == "backward" and getattr(e.node, "function", None) is cls
    )
    text = stepper.rule(i)
    for argument, formula in cls.rule.items():  # every input here is a leaf
        assert f" = {formula.format(**vars(node))}  (input " in text, (name, argument, text)
    accumulate = next(i for i, e in enumerate(stepper.replay) if e.kind == "accumulate")
    assert f".grad = {AccumulateGrad.rule['grad']}" in stepper.rule(accumulate)


def test_the_stepper_fills_a_rule_from_its_node():
    assert "p = 3" in BackwardStepper(_engine_graphs()["Pow"]().sum()).rule(2)  # {exponent} comes from the ctx
