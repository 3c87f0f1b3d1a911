"""Softmax layer: Y = softmax of each row, dX = Y * (G - rowsum(G * Y)), by hand and against torch."""

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
from scratchlib.layers import Input, Softmax

L2, L3, L4, L5 = (math.log(v) for v in (2, 3, 4, 5))
X = t([[0, L2, L5], [L3, 0, L4]])  # e^X = [[1, 2, 5], [3, 1, 4]]: both rows sum to 8
G = t([[1, 0, 0], [2, 0, -2]])


def test_forward_and_backward_by_hand():
    # Y = [[1, 2, 5], [3, 1, 4]] / 8
    # row 0: sum_j G_j Y_j = 1/8;  dX = Y * (G - 1/8) = [1/8 * 7/8, 2/8 * -1/8, 5/8 * -1/8] = [7, -2, -5] / 64
    # row 1: sum_j G_j Y_j = (6 - 8)/8 = -1/4;  dX = Y * (G + 1/4) = [3/8 * 9/4, 1/8 * 1/4, 4/8 * -7/4]
    #        = [54, 2, -56] / 64
    (x,) = inputs(X)
    out = run(Softmax(x), G)
    assert_close(out, t([[1, 2, 5], [3, 1, 4]]) / 8, tol=1e-15)
    assert_close(x.grad, t([[7, -2, -5], [54, 2, -56]]) / 64, tol=1e-15)


def test_forward_alone_by_hand():
    """Runs only exercise 4.50 (Softmax.forward): e^X = [[1, 2, 5], [3, 1, 4]], each row divided by its sum 8."""
    (x,) = inputs(X)
    layer = Softmax(x)
    layer.forward()
    expect(layer.output, t([[1, 2, 5], [3, 1, 4]]) / 8, atol=1e-15)


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.51 (Softmax.backward): the forward Y = softmax(X) is given, not run."""
    # G = [[1, -2, 0.5], [2, 1, -2]]
    # row 0: sum_j G_j Y_j = (1 - 4 + 2.5)/8 = -1/16;  dX = Y * (G + 1/16) = [1/8 * 17/16, 2/8 * -31/16, 5/8 * 9/16]
    #        = [17, -62, 45] / 128
    # row 1: sum_j G_j Y_j = (6 + 1 - 8)/8 = -1/8;     dX = Y * (G + 1/8) = [3/8 * 17/8, 1/8 * 9/8, 4/8 * -15/8]
    #        = [51, 9, -60] / 64
    G2 = t([[1, -2, 0.5], [2, 1, -2]])
    (x,) = inputs(X)
    backward_alone(Softmax(x), t([[1, 2, 5], [3, 1, 4]]) / 8, G2)
    expect(x.grad, t([[17 / 128, -62 / 128, 45 / 128], [51 / 64, 9 / 64, -60 / 64]]), atol=1e-15)
    _, (dx,) = autograd(lambda v: torch.softmax(v, dim=1), [X], G2)
    expect(x.grad, dx, atol=TOL)


@given(batch=sizes, width=sizes, data=st.data(), shift=st.sampled_from([0.0, 1000.0, -1000.0]))
def test_matches_torch_autograd_even_for_huge_inputs(batch, width, data, shift):
    # twice=False: the check that a second backward adds up runs exercise 4.1 (core), which an
    # optional layer's test must not need
    layer = check_layer_against_torch(
        Softmax, lambda v: torch.softmax(v, dim=1), [data.draw(tensors((batch, width))) + shift], twice=False
    )
    assert torch.isfinite(layer.output).all()
    assert_close(layer.output.sum(dim=1), torch.ones(batch, dtype=F64), tol=1e-14)


def test_agrees_with_finite_differences():
    # J = sum(Y * G); central differences err by O(eps^2) ~ 1e-10, far below a real mistake
    values = X.clone()
    (x,) = inputs(values)
    run(Softmax(x), G)
    numeric = torch.zeros_like(values)
    eps = 1e-6
    for i in range(values.numel()):
        for sign in (1, -1):
            moved = values.clone().reshape(-1)
            moved[i] += sign * eps
            (probe,) = inputs(moved.reshape(values.shape))
            layer = Softmax(probe)
            layer.forward()
            numeric.reshape(-1)[i] += sign * (layer.output * G).sum() / (2 * eps)
    assert_close(x.grad, numeric, tol=1e-8)


def test_bad_input_is_refused_before_anything_changes():
    with pytest.raises(ValueError, match=r"Softmax: input must be 2-D \(batch, classes\), got shape \(3,\)"):
        Softmax(Input((3,)))
    (x,) = inputs(X)
    layer = Softmax(x)
    with pytest.raises(RuntimeError, match=r"Softmax\(2, 3\).backward called before forward"):
        layer.backward()
    layer.forward()
    with pytest.raises(ValueError, match=r"Softmax\(2, 3\).accumulate_grad: .* got \(1, 3\)"):
        layer.accumulate_grad(torch.ones(1, 3, dtype=F64))
