"""Linear: Z = X W^T + b, by hand and against torch autograd."""

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
from scratchlib.layers import Input, Linear

X = t([[1, -2, 3], [0, 4, -1]])  # (B=2, in=3)
W = t([[2, 0, -1], [1, -3, 1]])  # (out=2, in=3)
b = t([0.5, -1])  # (out,)
G = t([[1, -2], [0.5, 3]])  # dJ/dZ, (2, 2), not ones


def test_forward_and_backward_by_hand():
    # Z_ij = sum_k X_ik W_jk + b_j:
    #   row 0: 1*2 + (-2)*0 + 3*(-1) + 0.5 = -0.5,   1*1 + (-2)(-3) + 3*1 - 1 = 9
    #   row 1: 0 + 0 + (-1)(-1) + 0.5 = 1.5,          0 + 4*(-3) + (-1)*1 - 1 = -14
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # dX = G W:   row 0: 1*[2,0,-1] - 2*[1,-3,1] = [0, 6, -3]
    #             row 1: 0.5*[2,0,-1] + 3*[1,-3,1] = [4, -9, 2.5]
    # dW = G^T X: row 0: 1*[1,-2,3] + 0.5*[0,4,-1] = [1, 0, 2.5]
    #             row 1: -2*[1,-2,3] + 3*[0,4,-1] = [-2, 16, -9]
    # db = column sums of G = [1.5, 1]
    # END TEACHER ONLY
    x, w, bias = inputs(X, W, b)
    layer = Linear(x, w, bias)
    out = run(layer, G)
    assert out.tolist() == [[-0.5, 9.0], [1.5, -14.0]]
    assert x.grad.tolist() == [[0.0, 6.0, -3.0], [4.0, -9.0, 2.5]]
    assert w.grad.tolist() == [[1.0, 0.0, 2.5], [-2.0, 16.0, -9.0]]
    assert bias.grad.tolist() == [1.5, 1.0]


def test_forward_alone_by_hand():
    """Runs only exercise 4.2 (Linear.forward): Z = X W^T + b."""
    # row 0: 1*2 + (-2)*0 + 3*(-1) + 0.5 = -0.5,   1*1 + (-2)(-3) + 3*1 - 1 = 9
    # row 1: 0 + 0 + (-1)(-1) + 0.5 = 1.5,          0 + 4*(-3) + (-1)*1 - 1 = -14
    x, w, bias = inputs(X, W, b)
    layer = Linear(x, w, bias)
    layer.forward()
    expect(layer.output.tolist(), [[-0.5, 9.0], [1.5, -14.0]])


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.3 (Linear.backward): the forward Z = X W^T + b is given, not run."""
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # dX = G W:   row 0: 1*[2,0,-1] - 2*[1,-3,1] = [0, 6, -3];   row 1: 0.5*[2,0,-1] + 3*[1,-3,1] = [4, -9, 2.5]
    # dW = G^T X: row 0: 1*[1,-2,3] + 0.5*[0,4,-1] = [1, 0, 2.5]; row 1: -2*[1,-2,3] + 3*[0,4,-1] = [-2, 16, -9]
    # db = column sums of G = [1 + 0.5, -2 + 3] = [1.5, 1]
    # END TEACHER ONLY
    x, w, bias = inputs(X, W, b)
    backward_alone(Linear(x, w, bias), X @ W.T + b, G)
    expect(x.grad.tolist(), [[0.0, 6.0, -3.0], [4.0, -9.0, 2.5]])
    expect(w.grad.tolist(), [[1.0, 0.0, 2.5], [-2.0, 16.0, -9.0]])
    expect(bias.grad.tolist(), [1.5, 1.0])
    _, (dx, dw, db) = autograd(lambda x, w, b: x @ w.T + b, [X, W, b], G)
    expect(x.grad, dx, atol=TOL)
    expect(w.grad, dw, atol=TOL)
    expect(bias.grad, db, atol=TOL)


@given(batch=sizes, n_in=sizes, n_out=sizes, data=st.data())
def test_matches_torch_autograd(batch, n_in, n_out, data):
    values = [data.draw(tensors((batch, n_in))), data.draw(tensors((n_out, n_in))), data.draw(tensors((n_out,)))]
    check_layer_against_torch(Linear, lambda x, w, b: x @ w.T + b, values)


def test_accumulate_grad_adds_and_backward_twice_doubles():
    x, w, bias = inputs(X, W, b)
    layer = Linear(x, w, bias)
    layer.forward()
    layer.accumulate_grad(G)
    layer.accumulate_grad(G)  # two consumers, each sending G: grad = 2 G
    assert layer.grad.tolist() == (2 * G).tolist()
    layer.backward()
    layer.backward()  # the inputs accumulate too: 2 backward passes of 2 G
    assert w.grad.tolist() == (4 * t([[1, 0, 2.5], [-2, 16, -9]])).tolist()
    layer.clear_grad()
    assert layer.grad is None and w.grad.tolist() == (4 * t([[1, 0, 2.5], [-2, 16, -9]])).tolist()


def test_step_moves_only_parameters():
    (x,) = inputs(X)
    w, bias = inputs(W, b, train=True)
    layer = Linear(x, w, bias)
    run(layer, G)
    layer.step(0.1)  # a Linear has no parameters of its own: nothing moves
    assert_close(w.output, W)
    for p in (x, w, bias):
        p.step(0.5)
    assert_close(x.output, X)  # data never moves
    assert_close(w.output, W - 0.5 * t([[1, 0, 2.5], [-2, 16, -9]]))
    assert_close(bias.output, b - 0.5 * t([1.5, 1]))


def test_wiring_errors_name_the_layer_and_shapes():
    x, w, bias = inputs(X, W, b)
    with pytest.raises(
        ValueError, match=r"Linear: x must have shape \(batch, 2\) to match W of shape \(2, 2\), got \(2, 3\)"
    ):
        Linear(x, Input((2, 2)), bias)
    with pytest.raises(ValueError, match=r"Linear: b must have shape \(2,\) to match W of shape \(2, 3\), got \(3,\)"):
        Linear(x, w, Input((3,)))
    with pytest.raises(ValueError, match=r"Linear: W must be 2-D"):
        Linear(x, Input((3,)), bias)
    with pytest.raises(TypeError, match=r"Linear: input 0 must be a Layer"):
        Linear(X, w, bias)


def test_wrong_shape_accumulate_grad_and_early_backward_change_nothing():
    x, w, bias = inputs(X, W, b)
    layer = Linear(x, w, bias)
    with pytest.raises(RuntimeError, match=r"Linear\(2, 2\).backward called before forward"):
        layer.backward()
    expect(w.grad, None)
    layer.forward()
    layer.accumulate_grad(G)
    with pytest.raises(
        ValueError,
        match=r"Linear\(2, 2\).accumulate_grad: gradient must have the shape "
        r"of the output \(2, 2\), got \(2, 3\)",
    ):
        layer.accumulate_grad(torch.ones(2, 3, dtype=F64))
    expect(layer.grad.tolist(), G.tolist())


def test_a_new_batch_size_flows_through():
    x, w, bias = inputs(X, W, b)
    layer = Linear(x, w, bias)
    run(layer, G)
    x.set(X[:1])  # a data Input takes any batch size
    layer.clear_grad()
    w.clear_grad()
    run(layer, G[:1])
    assert layer.output.tolist() == [[-0.5, 9.0]]
    assert w.grad.tolist() == [[1.0, -2.0, 3.0], [-2.0, 4.0, -6.0]]


def test_inputs_on_different_devices_are_refused_when_wiring():
    x = Input((2, 3)).set(torch.zeros(2, 3, device="meta"))
    with pytest.raises(
        ValueError,
        match=r"Linear: inputs live on different devices: Input\(2, 3\) on meta, "
        r"Input\(2, 3\) \(parameter\) on cpu",
    ):
        Linear(x, Input((2, 3), train=True), Input((2,), train=True))


def test_a_parameter_refuses_a_step_that_would_make_it_non_finite():
    from scratchlib.course.validate import NonFiniteStep

    (w,) = inputs(W, train=True)
    w.accumulate_grad(t([[1.0, float("nan"), 0.0], [0.0, 0.0, 0.0]]))
    before = w.output.clone()
    with pytest.raises(NonFiniteStep, match=r"Input\(2, 3\) \(parameter\) non-finite: its gradient holds NaN or inf"):
        w.step(0.1)
    assert torch.equal(w.output, before)  # nothing moved
