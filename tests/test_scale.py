"""Scale: forward and backward by hand and against torch autograd."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from expect import expect
from layer_testing import (
    F64,
    TOL,
    autograd,
    backward_alone,
    check_layer_against_torch,
    inputs,
    run,
    sizes,
    t,
    tensors,
)
from scratchlib.layers import Scale

X = t([[1, -2, 0.5], [3, 0, -4]])
G = t([[2, -1, 4], [0.5, 3, -2]])


def test_forward_and_backward_by_hand():
    # c = -2.5:  Y = -2.5 X = [[-2.5, 5, -1.25], [-7.5, 0, 10]]
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # dX = -2.5 G = [[-5, 2.5, -10], [-1.25, -7.5, 5]]
    # END TEACHER ONLY
    (x,) = inputs(X)
    out = run(Scale(x, -2.5), G)
    assert out.tolist() == [[-2.5, 5.0, -1.25], [-7.5, 0.0, 10.0]]
    assert x.grad.tolist() == [[-5.0, 2.5, -10.0], [-1.25, -7.5, 5.0]]


def test_forward_alone_by_hand():
    """Runs only exercise 4.10 (Scale.forward): Y = c X with c = -2.5."""
    (x,) = inputs(X)
    layer = Scale(x, -2.5)
    layer.forward()
    expect(layer.output.tolist(), [[-2.5, 5.0, -1.25], [-7.5, 0.0, 10.0]])


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.11 (Scale.backward): the forward Y = c X is given, not run."""
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # c = -2.5:  dX = c G = [[-5, 2.5, -10], [-1.25, -7.5, 5]]
    # END TEACHER ONLY
    (x,) = inputs(X)
    backward_alone(Scale(x, -2.5), -2.5 * X, G)
    expect(x.grad.tolist(), [[-5.0, 2.5, -10.0], [-1.25, -7.5, 5.0]])
    _, (dx,) = autograd(lambda v: -2.5 * v, [X], G)
    expect(x.grad, dx, atol=TOL)


@given(batch=sizes, width=sizes, factor=st.floats(-5, 5), data=st.data())
def test_matches_torch_autograd(batch, width, factor, data):
    check_layer_against_torch(lambda x: Scale(x, factor), lambda x: x * factor, [data.draw(tensors((batch, width)))])


def test_accumulate_grad_adds_and_step_moves_nothing():
    (x,) = inputs(X)
    layer = Scale(x, 2.0)
    layer.forward()
    layer.accumulate_grad(G)
    layer.accumulate_grad(G)
    layer.backward()
    assert x.grad.tolist() == (4 * G).tolist()
    layer.step(0.1)
    assert x.output.tolist() == X.tolist()


def test_bad_input_is_refused_before_anything_changes():
    (x,) = inputs(X)
    with pytest.raises(ValueError, match=r"Scale: factor must be a finite number, got inf"):
        Scale(x, float("inf"))
    layer = Scale(x, 3.0)
    with pytest.raises(RuntimeError, match=r"Scale\(2, 3\).backward called before forward"):
        layer.backward()
    layer.forward()
    with pytest.raises(ValueError, match=r"Scale\(2, 3\).accumulate_grad: .* got \(3,\)"):
        layer.accumulate_grad(torch.ones(3, dtype=F64))
    expect(layer.grad, None)  # refused: no gradient arrived
