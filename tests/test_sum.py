"""Sum: forward and backward by hand and against torch autograd."""

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
from scratchlib.layers import Input, Sum


def test_scalars_by_hand():
    # s = 1.5 + (-4) = -2.5; with ds = -3 both inputs receive -3
    a, b = inputs(t(1.5), t(-4.0))
    out = run(Sum(a, b), t(-3.0))
    assert out.item() == -2.5
    assert a.grad.item() == -3.0 and b.grad.item() == -3.0


def test_batches_by_hand():
    # element-wise: [[1, -2, 0.5], [3, 0, -4]] + [[0.5, 2, -1], [-3, 1, 1]] = [[1.5, 0, -0.5], [0, 1, -3]]
    a, b = inputs(t([[1, -2, 0.5], [3, 0, -4]]), t([[0.5, 2, -1], [-3, 1, 1]]))
    G = t([[2, -1, 4], [0.5, 3, -2]])
    out = run(Sum(a, b), G)
    assert out.tolist() == [[1.5, 0.0, -0.5], [0.0, 1.0, -3.0]]
    assert a.grad.tolist() == G.tolist() and b.grad.tolist() == G.tolist()


def test_forward_alone_by_hand():
    """Runs only exercise 4.12 (Sum.forward): element-wise a + b."""
    # [[1, -2, 0.5], [3, 0, -4]] + [[0.5, 2, -1], [-3, 1, 1]] = [[1.5, 0, -0.5], [0, 1, -3]]
    a, b = inputs(t([[1, -2, 0.5], [3, 0, -4]]), t([[0.5, 2, -1], [-3, 1, 1]]))
    layer = Sum(a, b)
    layer.forward()
    expect(layer.output.tolist(), [[1.5, 0.0, -0.5], [0.0, 1.0, -3.0]])


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.13 (Sum.backward): the forward s = a + b is given, not run."""
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # ds/da = ds/db = 1: both inputs receive G itself
    # END TEACHER ONLY
    A, B = t([[1, -2, 0.5], [3, 0, -4]]), t([[0.5, 2, -1], [-3, 1, 1]])
    G = t([[2, -1, 4], [0.5, 3, -2]])
    a, b = inputs(A, B)
    backward_alone(Sum(a, b), A + B, G)
    expect(a.grad.tolist(), [[2.0, -1.0, 4.0], [0.5, 3.0, -2.0]])
    expect(b.grad.tolist(), [[2.0, -1.0, 4.0], [0.5, 3.0, -2.0]])
    _, (da, db) = autograd(lambda u, v: u + v, [A, B], G)
    expect(a.grad, da, atol=TOL)
    expect(b.grad, db, atol=TOL)


@given(batch=sizes, width=sizes, data=st.data())
def test_matches_torch_autograd(batch, width, data):
    shape = data.draw(st.sampled_from([(), (batch, width)]))
    check_layer_against_torch(Sum, lambda a, b: a + b, [data.draw(tensors(shape)), data.draw(tensors(shape))])


def test_the_same_input_twice_gets_both_gradients():
    # BEGIN TEACHER ONLY: the backward worked out (notebook 04's derivations ask the student for it)
    # s = a + a: ds/da = 2 (the two paths add up)
    # END TEACHER ONLY
    (a,) = inputs(t(2.0))
    out = run(Sum(a, a), t(1.5))
    assert out.item() == 4.0
    assert a.grad.item() == 3.0


def test_accumulate_grad_adds_and_step_moves_nothing():
    a, b = inputs(t(1.5), t(-4.0), train=True)
    layer = Sum(a, b)
    layer.forward()
    layer.accumulate_grad(t(2.0))
    layer.accumulate_grad(t(0.5))
    layer.backward()
    assert a.grad.item() == 2.5
    layer.step(1.0)
    assert a.output.item() == 1.5


def test_bad_input_is_refused_before_anything_changes():
    with pytest.raises(ValueError, match=r"Sum: a and b must have the same shape, got \(\) and \(2,\)"):
        Sum(Input(()), Input((2,)))
    a, b = inputs(t(1.5), t(-4.0))
    layer = Sum(a, b)
    with pytest.raises(RuntimeError, match=r"Sum\(\).backward called before forward"):
        layer.backward()
    layer.forward()
    with pytest.raises(ValueError, match=r"Sum\(\).accumulate_grad: .* output \(\), got \(1,\)"):
        layer.accumulate_grad(torch.ones(1, dtype=F64))
    expect(layer.grad, None)  # refused: no gradient arrived


def test_a_gradient_handed_on_is_never_added_to_in_place():
    # the first gradient becomes the layer's own (no copy); adding a second must not write into
    # the tensor it came from: here the caller's G, and the Sum's grad that a and b both took
    a, b = inputs(t([1.0, 2.0]), t([3.0, 4.0]))
    G = t([0.5, -1.0])
    s = Sum(a, b)
    s.accumulate_grad(G)
    s.forward()
    s.backward()
    a.accumulate_grad(t([1.0, 1.0]))
    assert a.grad.tolist() == [1.5, 0.0] and b.grad.tolist() == [0.5, -1.0] and G.tolist() == [0.5, -1.0]
    s.accumulate_grad(G)
    assert s.grad.tolist() == [1.0, -2.0] and G.tolist() == [0.5, -1.0] and b.grad.tolist() == [0.5, -1.0]
