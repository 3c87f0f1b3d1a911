"""Sigmoid: Y = 1 / (1 + exp(-X)), dX = G * Y * (1 - Y), by hand and against torch autograd."""

import math

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
from scratchlib.layers import Sigmoid

L3, L4 = math.log(3), math.log(4)
X = t([[0, L3, -L3], [L4, -L4, 0]])  # sigma(ln a) = a / (a + 1): round numbers
G = t([[2, -1, 4], [0.5, 3, -2]])


def test_forward_and_backward_by_hand():
    # Y = [[1/2, 3/4, 1/4], [4/5, 1/5, 1/2]];  Y (1 - Y) = [[0.25, 0.1875, 0.1875], [0.16, 0.16, 0.25]]
    # dX = G * Y (1 - Y) = [[0.5, -0.1875, 0.75], [0.08, 0.48, -0.5]]
    (x,) = inputs(X)
    out = run(Sigmoid(x), G)
    assert_close(out, t([[0.5, 0.75, 0.25], [0.8, 0.2, 0.5]]), tol=1e-15)
    assert_close(x.grad, t([[0.5, -0.1875, 0.75], [0.08, 0.48, -0.5]]), tol=1e-15)


def test_forward_alone_by_hand():
    """Runs only exercise 4.6 (Sigmoid.forward): sigma(ln a) = a / (a + 1)."""
    # sigma(0) = 1/2, sigma(ln 3) = 3/4, sigma(-ln 3) = 1/4, sigma(ln 4) = 4/5, sigma(-ln 4) = 1/5
    (x,) = inputs(X)
    layer = Sigmoid(x)
    layer.forward()
    expect(layer.output, t([[0.5, 0.75, 0.25], [0.8, 0.2, 0.5]]), atol=1e-15)


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.7 (Sigmoid.backward): the forward Y = sigma(X) is given, not run."""
    # Y (1 - Y) = [[0.25, 0.1875, 0.1875], [0.16, 0.16, 0.25]]
    # dX = G * Y (1 - Y) = [[0.5, -0.1875, 0.75], [0.08, 0.48, -0.5]]
    (x,) = inputs(X)
    backward_alone(Sigmoid(x), 1 / (1 + torch.exp(-X)), G)
    expect(x.grad, t([[0.5, -0.1875, 0.75], [0.08, 0.48, -0.5]]), atol=1e-15)
    _, (dx,) = autograd(torch.sigmoid, [X], G)
    expect(x.grad, dx, atol=TOL)


@given(batch=sizes, width=sizes, data=st.data())
def test_matches_torch_autograd(batch, width, data):
    check_layer_against_torch(Sigmoid, torch.sigmoid, [data.draw(tensors((batch, width)))])


def test_saturates_without_nan():
    (x,) = inputs(t([[-800.0, 800.0]]))
    out = run(Sigmoid(x), t([[1.0, 1.0]]))
    assert out.tolist() == [[0.0, 1.0]]
    assert x.grad.tolist() == [[0.0, 0.0]]


def test_accumulate_grad_adds_and_step_moves_nothing():
    (x,) = inputs(X)
    layer = Sigmoid(x)
    layer.forward()
    layer.accumulate_grad(G)
    layer.accumulate_grad(G)
    layer.backward()
    assert_close(x.grad, 2 * t([[0.5, -0.1875, 0.75], [0.08, 0.48, -0.5]]), tol=1e-15)
    layer.step(1.0)
    assert_close(x.output, X, tol=0)


def test_bad_input_is_refused_before_anything_changes():
    (x,) = inputs(X)
    layer = Sigmoid(x)
    with pytest.raises(RuntimeError, match=r"Sigmoid\(2, 3\).backward called before forward"):
        layer.backward()
    layer.forward()
    with pytest.raises(ValueError, match=r"Sigmoid\(2, 3\).accumulate_grad: .* got \(2,\)"):
        layer.accumulate_grad(torch.ones(2, dtype=F64))
    expect(layer.grad, None)  # refused: no gradient arrived
