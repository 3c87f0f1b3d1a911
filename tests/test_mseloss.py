"""MSELoss (as torch.nn.MSELoss): forward and backward by hand and against torch autograd."""

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
from scratchlib.layers import Input, MSELoss

P = t([[1, -2, 0.5], [3, 0, -1]])
T = t([[0, 1, 0.5], [1, -2, 1]])


def test_forward_and_backward_by_hand():
    # D = P - T = [[1, -3, 0], [2, 2, -2]]; sum D^2 = 1 + 9 + 0 + 4 + 4 + 4 = 22; N = 6: L = 22/6
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # with g = 1.5: dP = (2 g / N) D = 0.5 D = [[0.5, -1.5, 0], [1, 1, -1]], dT = -dP
    # END TEACHER ONLY
    p, target = inputs(P, T)
    out = run(MSELoss(p, target), t(1.5))
    assert_close(out, t(22 / 6), tol=1e-15)
    assert p.grad.tolist() == [[0.5, -1.5, 0.0], [1.0, 1.0, -1.0]]
    assert target.grad.tolist() == [[-0.5, 1.5, 0.0], [-1.0, -1.0, 1.0]]


def test_forward_alone_by_hand():
    """Runs only exercise 4.16 (MSELoss.forward): the mean of the squared differences."""
    # D = P - T = [[1, -3, 0], [2, 2, -2]]; sum D^2 = 1 + 9 + 0 + 4 + 4 + 4 = 22; N = 6: L = 22/6
    p, target = inputs(P, T)
    layer = MSELoss(p, target)
    layer.forward()
    expect(layer.output, t(22 / 6), atol=1e-15)


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.17 (MSELoss.backward): the forward (L and D = P - T) is given, not run."""
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # g = 1.5, N = 6:  dP = (2 g / N) D = 0.5 D = [[0.5, -1.5, 0], [1, 1, -1]],  dT = -dP
    # END TEACHER ONLY
    p, target = inputs(P, T)
    backward_alone(MSELoss(p, target), ((P - T) ** 2).mean(), t(1.5), diff=P - T)
    expect(p.grad.tolist(), [[0.5, -1.5, 0.0], [1.0, 1.0, -1.0]])
    expect(target.grad.tolist(), [[-0.5, 1.5, 0.0], [-1.0, -1.0, 1.0]])
    _, (dp, dt) = autograd(lambda u, v: ((u - v) ** 2).mean(), [P, T], t(1.5))
    expect(p.grad, dp, atol=TOL)
    expect(target.grad, dt, atol=TOL)


def test_matches_torch_mse_loss():
    p, target = inputs(P, T)
    out = run(MSELoss(p, target), t(1.0))
    assert_close(out, torch.nn.functional.mse_loss(P, T), tol=1e-15)


@given(batch=sizes, width=sizes, data=st.data())
def test_matches_torch_autograd(batch, width, data):
    values = [data.draw(tensors((batch, width))), data.draw(tensors((batch, width)))]
    check_layer_against_torch(
        MSELoss, lambda p, y: ((p - y) ** 2).mean(), values, grad_out=t(data.draw(st.floats(-3, 3)))
    )


def test_accumulate_grad_adds_and_step_moves_nothing():
    p, target = inputs(P, T)
    layer = MSELoss(p, target)
    layer.forward()
    layer.accumulate_grad(t(1.0))
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # g = 3: dP = D
    # END TEACHER ONLY
    layer.accumulate_grad(t(2.0))
    layer.backward()
    assert p.grad.tolist() == (P - T).tolist()
    layer.step(0.1)
    assert p.output.tolist() == P.tolist()


def test_bad_input_is_refused_before_anything_changes():
    with pytest.raises(
        ValueError, match=r"MSELoss: pred and target must have the same shape, got \(2, 3\) and \(2, 2\)"
    ):
        MSELoss(Input((2, 3)), Input((2, 2)))
    p, target = inputs(P, T)
    layer = MSELoss(p, target)
    with pytest.raises(RuntimeError, match=r"MSELoss\(\).backward called before forward"):
        layer.backward()
    target.set(T[:1])  # a batch of one target against two predictions
    with pytest.raises(ValueError, match=r"MSELoss.forward: pred has shape \(2, 3\) but target has shape \(1, 3\)"):
        layer.forward()
    expect(layer.output, None)
    target.set(T)
    layer.forward()
    with pytest.raises(ValueError, match=r"MSELoss\(\).accumulate_grad: .* got \(2, 3\)"):
        layer.accumulate_grad(torch.ones(2, 3, dtype=F64))
