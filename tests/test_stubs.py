"""A stub is a stub wherever it surfaces: ExerciseNotDone goes through every handler of the library.

A stub raises the course's own exception. Each place in scratchlib that catches or wraps errors
(the engine's explanation of torch's shape errors, record_backward and recording, the
explorer's callbacks) lets it through untouched, so the self-check and the grader recognise it
as "waiting for that exercise" whatever test reached it. The stubs here are raised by hand-made
layers and functions, so these tests hold in the student edition too.
"""

import ast
from pathlib import Path

import pytest
import torch

from scratchlib.autograd import Function, Tensor
from scratchlib.course.runner import ExerciseNotDone
from scratchlib.layers import Input, Network
from scratchlib.layers.base import Layer
from scratchlib.show import widgets
from scratchlib.show.replay import record_backward, recording

ROOT = Path(__file__).resolve().parents[1]


def test_the_stub_exception_belongs_to_no_family_that_tests_or_the_library_catch():
    assert ExerciseNotDone.__bases__ == (Exception,)
    for family in (RuntimeError, NotImplementedError, ValueError, TypeError, AssertionError, ArithmeticError):
        assert not issubclass(ExerciseNotDone, family), family
    with pytest.raises(ExerciseNotDone):  # pytest.raises(RuntimeError) would let it through
        with pytest.raises(RuntimeError):
            raise ExerciseNotDone("exercise 9.9: a stub")


# the course's own tools: the runner recognises stubs, and the self-check reports them
TOOLS = {"scratchlib/course/runner.py", "scratchlib/course/exercises.py"}


def test_no_handler_in_the_library_catches_every_exception():
    """A bare except, or one naming Exception or BaseException, would swallow a stub: none in the library."""
    found = []
    for path in sorted((ROOT / "scratchlib").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ExceptHandler):
                continue
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            names = {getattr(c, "id", getattr(c, "attr", None)) for c in caught}
            if node.type is None or names & {"Exception", "BaseException"}:
                found.append(f"{name}:{node.lineno}")
    assert [f for f in found if f.split(":")[0] not in TOOLS] == []


# ---------------------------------------------------------------- the explorer


def _stubbed_training(*args, **kwargs):
    raise ExerciseNotDone("exercise 5.1: train_step")


def test_clicking_train_lets_a_stub_through_and_says_so(monkeypatch):
    """ipywidgets' dispatcher swallows what a callback raises; the explorer's button does not."""
    monkeypatch.setattr(widgets.train, "train", _stubbed_training)
    e = widgets.Explorer(dataset="xor", hidden="4", epochs=2, auto=False)
    with pytest.raises(ExerciseNotDone, match=r"^exercise \d+\.\d+"):
        e.train_button.click()
    assert e.runs == 1 and e.history is None
    assert e.status.value.startswith("<b>waiting for an exercise:</b> exercise ")


def test_a_change_that_retrains_lets_a_stub_through(monkeypatch):
    monkeypatch.setattr(widgets.train, "train", _stubbed_training)
    e = widgets.Explorer(dataset="xor", hidden="4", epochs=2, auto=False)
    e.auto.value = True
    with pytest.raises(ExerciseNotDone):
        e.epochs.value = 3


# ---------------------------------------------------------------- recording a backward pass


class StubbedLayer(Layer):
    """A layer whose backward is still a stub (its forward doubles its input)."""

    def __init__(self, x: Layer):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        self.output = 2 * self.x.output

    def backward(self) -> None:
        raise ExerciseNotDone("exercise 9.1: StubbedLayer.backward")


def stubbed_network() -> Network:
    net = Network()
    x = net.add(Input((), train=True).set(torch.tensor(1.5)))  # a scalar, as the last output must be
    net.add(StubbedLayer(x))
    net.forward()
    return net


def test_record_backward_of_a_network_lets_a_stub_through():
    with pytest.raises(ExerciseNotDone, match=r"^exercise \d+\.\d+"):
        record_backward(stubbed_network())


def test_recording_a_network_lets_a_stub_through():
    net = stubbed_network()
    with pytest.raises(ExerciseNotDone), recording(net):
        net.backward()
    assert "backward" not in vars(net.layers[1])  # the stand-ins are gone all the same


class StubbedBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad):
        raise ExerciseNotDone("exercise 9.2: StubbedBackward.backward")


class StubbedForward(Function):
    @staticmethod
    def forward(ctx, x):
        raise ExerciseNotDone("exercise 9.3: StubbedForward.forward")

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_record_backward_of_the_engine_lets_a_stub_through():
    """record_backward wraps the engine's RuntimeErrors with its name; a stub is not one of them."""
    x = Tensor(torch.tensor(1.5), requires_grad=True)
    loss = StubbedBackward.apply(x)  # no other operation: the only stub met is this one's (or the engine's)
    with pytest.raises(ExerciseNotDone, match=r"^exercise \d+\.\d+"):
        record_backward(loss)


def test_the_engine_explains_torch_errors_in_forward_but_lets_a_stub_through():
    x = Tensor(torch.tensor([1.0, -2.0]), requires_grad=True)
    with pytest.raises(ExerciseNotDone, match=r"^exercise 9\.3: StubbedForward\.forward$"):
        StubbedForward.apply(x)
