"""ReLU: forward and backward by hand and against torch autograd."""

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
from scratchlib.layers import ReLU

X = t([[1.5, -2, 0.5], [-0.5, 3, 0]])  # (2, 3), signs mixed and one zero (ReLU's kink: torch passes 0 there)
G = t([[2, -1, 0.5], [4, -3, 1.5]])  # dJ/dY, not ones


def test_forward_and_backward_by_hand():
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # Y keeps the positive entries; the gradient passes only where X > 0:
    #   [X > 0] = [[1, 0, 1], [0, 1, 0]],  dX = G * [X > 0] = [[2, 0, 0.5], [0, -3, 0]]
    # END TEACHER ONLY
    (x,) = inputs(X)
    out = run(ReLU(x), G)
    assert out.tolist() == [[1.5, 0.0, 0.5], [0.0, 3.0, 0.0]]
    assert x.grad.tolist() == [[2.0, 0.0, 0.5], [0.0, -3.0, 0.0]]


def test_forward_alone_by_hand():
    """Runs only exercise 4.4 (ReLU.forward): Y keeps the positive entries of X."""
    (x,) = inputs(X)
    layer = ReLU(x)
    layer.forward()
    expect(layer.output.tolist(), [[1.5, 0.0, 0.5], [0.0, 3.0, 0.0]])


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.5 (ReLU.backward): the forward Y = max(X, 0) is given, not run."""
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # [X > 0] = [[1, 0, 1], [0, 1, 0]]:  dX = G * [X > 0] = [[2, 0, 0.5], [0, -3, 0]]
    # END TEACHER ONLY
    (x,) = inputs(X)
    backward_alone(ReLU(x), torch.clamp(X, min=0), G)
    expect(x.grad.tolist(), [[2.0, 0.0, 0.5], [0.0, -3.0, 0.0]])
    _, (dx,) = autograd(torch.relu, [X], G)
    expect(x.grad, dx, atol=TOL)


@given(batch=sizes, width=sizes, data=st.data())
def test_matches_torch_autograd(batch, width, data):
    check_layer_against_torch(ReLU, torch.relu, [data.draw(tensors((batch, width)))])


def test_accumulate_grad_adds_and_step_moves_nothing():
    (x,) = inputs(X)
    layer = ReLU(x)
    layer.forward()
    layer.accumulate_grad(G)
    layer.accumulate_grad(-3 * G)  # grad = G - 3G = -2G
    layer.backward()
    assert x.grad.tolist() == [[-4.0, 0.0, -1.0], [0.0, 6.0, 0.0]]
    layer.step(0.5)
    assert layer.output.tolist() == [[1.5, 0.0, 0.5], [0.0, 3.0, 0.0]]


def test_bad_input_is_refused_before_anything_changes():
    (x,) = inputs(X)
    layer = ReLU(x)
    with pytest.raises(RuntimeError, match=r"ReLU\(2, 3\).backward called before forward"):
        layer.backward()
    layer.forward()
    with pytest.raises(ValueError, match=r"ReLU\(2, 3\).accumulate_grad: .* output \(2, 3\), got \(3, 2\)"):
        layer.accumulate_grad(torch.ones(3, 2, dtype=F64))
    expect(layer.grad, None)  # refused: no gradient arrived
    with pytest.raises(RuntimeError, match=r"ReLU\(2, 3\).backward called before any gradient arrived"):
        layer.backward()
    expect(x.grad, None)
    with pytest.raises(ValueError, match=r"ReLU.step: step_size must be a positive finite number, got nan"):
        layer.step(float("nan"))
