"""Tanh: Y = tanh(X), dX = G * (1 - Y^2), by hand and against torch autograd."""

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
from scratchlib.layers import Tanh

L2, L3 = math.log(2), math.log(3)
X = t([[L2, -L3, 0], [L3, -L2, L2]])  # tanh(ln a) = (a^2 - 1) / (a^2 + 1): 0.6 and 0.8
G = t([[1, -2, 0.5], [3, 2, -1]])


def test_forward_and_backward_by_hand():
    # Y = [[0.6, -0.8, 0], [0.8, -0.6, 0.6]];  1 - Y^2 = [[0.64, 0.36, 1], [0.36, 0.64, 0.64]]
    # dX = G * (1 - Y^2) = [[0.64, -0.72, 0.5], [1.08, 1.28, -0.64]]
    (x,) = inputs(X)
    out = run(Tanh(x), G)
    assert_close(out, t([[0.6, -0.8, 0], [0.8, -0.6, 0.6]]), tol=1e-15)
    assert_close(x.grad, t([[0.64, -0.72, 0.5], [1.08, 1.28, -0.64]]), tol=1e-15)


def test_forward_alone_by_hand():
    """Runs only exercise 4.8 (Tanh.forward): tanh(ln 2) = 3/5, tanh(ln 3) = 4/5."""
    (x,) = inputs(X)
    layer = Tanh(x)
    layer.forward()
    expect(layer.output, t([[0.6, -0.8, 0], [0.8, -0.6, 0.6]]), atol=1e-15)


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.9 (Tanh.backward): the forward Y = tanh(X) is given, not run."""
    # 1 - Y^2 = [[0.64, 0.36, 1], [0.36, 0.64, 0.64]];  dX = G * (1 - Y^2) = [[0.64, -0.72, 0.5], [1.08, 1.28, -0.64]]
    (x,) = inputs(X)
    backward_alone(Tanh(x), t([[0.6, -0.8, 0], [0.8, -0.6, 0.6]]), G)
    expect(x.grad, t([[0.64, -0.72, 0.5], [1.08, 1.28, -0.64]]), atol=1e-15)
    _, (dx,) = autograd(torch.tanh, [X], G)
    expect(x.grad, dx, atol=TOL)


@given(batch=sizes, width=sizes, data=st.data())
def test_matches_torch_autograd(batch, width, data):
    check_layer_against_torch(Tanh, torch.tanh, [data.draw(tensors((batch, width)))])


def test_accumulate_grad_adds_and_step_moves_nothing():
    (x,) = inputs(X)
    layer = Tanh(x)
    layer.forward()
    layer.accumulate_grad(G)
    layer.accumulate_grad(-G)  # the two consumers cancel: nothing flows back
    layer.backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2
    layer.step(1.0)
    assert_close(x.output, X, tol=0)


def test_bad_input_is_refused_before_anything_changes():
    (x,) = inputs(X)
    layer = Tanh(x)
    with pytest.raises(RuntimeError, match=r"Tanh\(2, 3\).backward called before forward"):
        layer.backward()
    layer.forward()
    with pytest.raises(ValueError, match=r"Tanh\(2, 3\).accumulate_grad: .* got \(1, 3\)"):
        layer.accumulate_grad(torch.ones(1, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"Tanh.step: step_size must be a positive finite number, got -1"):
        layer.step(-1)
