"""Regularization: forward and backward by hand and against torch autograd."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from expect import expect
from layer_testing import (
    F64,
    TOL,
    assert_close,
    autograd,
    backward_alone,
    check_layer_against_torch,
    inputs,
    run,
    sizes,
    t,
    tensors,
)
from scratchlib.layers import Input, Regularization

W = t([[1, -2, 0.5], [0, 3, -1]])


def test_forward_and_backward_by_hand():
    # sum of squares = 1 + 4 + 0.25 + 0 + 9 + 1 = 15.25, R = 0.1 * 15.25 = 1.525
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # with g = dJ/dR = -2: dW = 2 * 0.1 * (-2) * W = -0.4 W = [[-0.4, 0.8, -0.2], [0, -1.2, 0.4]]
    # END TEACHER ONLY
    (w,) = inputs(W)
    out = run(Regularization(w, 0.1), t(-2.0))
    assert_close(out, t(1.525), tol=1e-15)
    assert_close(w.grad, t([[-0.4, 0.8, -0.2], [0, -1.2, 0.4]]), tol=1e-15)


def test_forward_alone_by_hand():
    """Runs only exercise 4.14 (Regularization.forward): R = lambda * sum of squares."""
    # sum of squares = 1 + 4 + 0.25 + 0 + 9 + 1 = 15.25, R = 0.1 * 15.25 = 1.525
    (w,) = inputs(W)
    layer = Regularization(w, 0.1)
    layer.forward()
    expect(layer.output, t(1.525), atol=1e-15)


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.15 (Regularization.backward): the forward R is given, not run."""
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # g = dJ/dR = -2:  dW = 2 * 0.1 * (-2) * W = -0.4 W = [[-0.4, 0.8, -0.2], [0, -1.2, 0.4]]
    # END TEACHER ONLY
    (w,) = inputs(W)
    backward_alone(Regularization(w, 0.1), 0.1 * (W**2).sum(), t(-2.0))
    expect(w.grad, t([[-0.4, 0.8, -0.2], [0, -1.2, 0.4]]), atol=1e-15)
    _, (dw,) = autograd(lambda v: 0.1 * (v**2).sum(), [W], t(-2.0))
    expect(w.grad, dw, atol=TOL)


@given(rows=sizes, cols=sizes, strength=st.floats(0, 2), data=st.data())
def test_matches_torch_autograd(rows, cols, strength, data):
    check_layer_against_torch(
        lambda w: Regularization(w, strength), lambda w: strength * (w**2).sum(), [data.draw(tensors((rows, cols)))]
    )


def test_accumulate_grad_adds_and_parameter_steps():
    (w,) = inputs(W, train=True)
    layer = Regularization(w, 0.25)
    layer.forward()
    layer.accumulate_grad(t(1.0))
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # g = 2: dW = 2 * 0.25 * 2 * W = W
    # END TEACHER ONLY
    layer.accumulate_grad(t(1.0))
    layer.backward()
    assert_close(w.grad, W, tol=0)
    layer.step(0.5)  # the layer itself has no parameter
    assert_close(w.output, W, tol=0)
    w.step(0.5)  # W - 0.5 W: weight decay shrinks the weights
    assert_close(w.output, 0.5 * W, tol=0)


def test_bad_input_is_refused_before_anything_changes():
    with pytest.raises(ValueError, match=r"Regularization: strength must be a finite number >= 0, got -0.1"):
        Regularization(Input((2, 3)), -0.1)
    with pytest.raises(ValueError, match=r"Regularization: strength must be a finite number >= 0, got nan"):
        Regularization(Input((2, 3)), float("nan"))
    (w,) = inputs(W)
    layer = Regularization(w, 0.1)
    with pytest.raises(RuntimeError, match=r"Regularization\(\).backward called before forward"):
        layer.backward()
    layer.forward()
    with pytest.raises(ValueError, match=r"Regularization\(\).accumulate_grad: .* output \(\), got \(2, 3\)"):
        layer.accumulate_grad(torch.ones(2, 3, dtype=F64))
    expect(layer.grad, None)  # refused: nothing arrived, nothing handed on
    expect(w.grad, None)
