"""Input: set, randomize, step; data versus parameters."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from expect import expect
from layer_testing import F64, assert_close, sizes, t, tensors
from scratchlib.course.validate import NonFiniteStep
from scratchlib.layers import Input, ReLU, Scale, Sum

W = t([[1, -2, 0.5], [0, 3, -1]])
G = t([[2, -1, 4], [0.5, 3, -2]])


def test_set_stores_the_value_and_forward_backward_do_nothing():
    w = Input((2, 3), dtype=F64).set(W)
    w.forward()
    w.backward()
    assert w.output.tolist() == W.tolist()
    assert w.grad is None  # no gradient has arrived


def test_step_by_hand():
    # W - 0.5 G = [[1 - 1, -2 + 0.5, 0.5 - 2], [0 - 0.25, 3 - 1.5, -1 + 1]]
    w = Input((2, 3), train=True, dtype=F64).set(W)
    w.accumulate_grad(G)
    w.step(0.5)
    assert w.output.tolist() == [[0.0, -1.5, -1.5], [-0.25, 1.5, 0.0]]
    assert W.tolist() == [[1, -2, 0.5], [0, 3, -1]]  # set copied: the caller's tensor is untouched


def test_data_does_not_move_and_keeps_a_reference():
    x = Input((2, 3), dtype=F64).set(W)
    assert x.output is W  # no copy per batch
    x.accumulate_grad(G)
    x.step(0.5)
    assert x.output.tolist() == W.tolist()


@given(rows=sizes, cols=sizes, lr=st.floats(1e-3, 10), data=st.data())
def test_step_is_plain_sgd(rows, cols, lr, data):
    value, grad = data.draw(tensors((rows, cols))), data.draw(tensors((rows, cols)))
    w = Input((rows, cols), train=True, dtype=F64).set(value)
    w.accumulate_grad(grad)
    w.step(lr)
    assert_close(w.output, value - lr * grad, tol=1e-12)


def test_step_alone_by_hand():
    """Runs only exercise 4.30 (Input.step): the gradient is put in by hand, not by accumulate_grad."""
    # W - 0.5 G = [[1 - 1, -2 + 0.5, 0.5 - 2], [0 - 0.25, 3 - 1.5, -1 + 1]] = [[0, -1.5, -1.5], [-0.25, 1.5, 0]]
    w = Input((2, 3), train=True, dtype=F64).set(W)
    held = w.output
    w.grad = G.clone()
    w.step(0.5)
    expect(w.output.tolist(), [[0.0, -1.5, -1.5], [-0.25, 1.5, 0.0]])
    expect(w.output is held, True)  # in place: whatever reads this parameter's tensor sees the new value
    expect(w.grad.tolist(), G.tolist())  # the step reads the gradient, it does not change it
    x = Input((2, 3), dtype=F64).set(W)  # data never moves, even with a gradient
    x.grad = G.clone()
    x.step(0.5)
    expect(x.output.tolist(), W.tolist())


def test_clear_grad_alone_by_hand():
    """Runs only exercise 4.31 (clear_grad): the gradient is put in by hand, not by accumulate_grad."""
    w = Input((2, 3), train=True, dtype=F64).set(W)
    w.grad = G.clone()
    w.clear_grad()
    expect(w.grad, None)  # None stands for zeros, as torch's zero_grad sets it
    expect(w.output.tolist(), W.tolist())  # the value stays
    w.clear_grad()  # nothing held: still nothing
    expect(w.grad, None)


def test_accumulate_grad_adds_and_clear_grad_forgets():
    w = Input((2, 3), train=True, dtype=F64).set(W)
    w.accumulate_grad(G)
    w.accumulate_grad(-2 * G)
    expect(w.grad.tolist(), (-G).tolist())
    w.clear_grad()
    expect(w.grad, None)  # as torch's zero_grad: None stands for zeros
    w.step(0.5)  # no gradient: nothing moves (as in torch's SGD)
    expect(w.output.tolist(), W.tolist())
    w.accumulate_grad(G)
    expect(w.grad.tolist(), G.tolist())


def test_the_gradient_is_one_plain_tensor():
    w = Input((2, 3), train=True, dtype=F64).set(W)
    expect([k for k in vars(w) if "grad" in k], ["grad"])
    expect(w.grad, None)
    w.accumulate_grad(G)
    assert w.grad is G  # the first gradient is taken as it is (as torch)
    w.accumulate_grad(G)
    assert type(w.grad) is torch.Tensor
    expect(w.grad.tolist(), [[4.0, -2.0, 8.0], [1.0, 6.0, -4.0]])
    expect(G.tolist(), [[2, -1, 4], [0.5, 3, -2]])  # the gradient handed in is not written to


def test_a_data_gradient_follows_the_batch_size():
    x = Input((2, 3), dtype=F64).set(W)
    x.accumulate_grad(G)
    x.set(W[:1])  # a batch of one row: the gradient of two rows is stale
    x.accumulate_grad(G[:1])
    assert x.grad.tolist() == [[2.0, -1.0, 4.0]]


def test_glorot_is_the_one_of_notebook_03():
    from scratchlib import mlp

    a = Input((4, 3), train=True).randomize(torch.Generator().manual_seed(7))
    assert torch.equal(a.output, mlp.Linear(3, 4, generator=torch.Generator().manual_seed(7)).weight)
    # a = sqrt(6 / (3 + 4)) = 0.9258: U(0, 1) numbers u become (2 u - 1) a
    u = torch.rand(4, 3, generator=torch.Generator().manual_seed(7))
    assert_close(a.output.double(), ((2 * u - 1) * math.sqrt(6 / 7)).double(), tol=1e-7)


def test_randomize_is_repeatable_and_glorot_for_weights():
    a = Input((30, 20), train=True).randomize(torch.Generator().manual_seed(1))
    b = Input((30, 20), train=True).randomize(torch.Generator().manual_seed(1))
    assert torch.equal(a.output, b.output)
    bound = math.sqrt(6 / 50)
    assert a.output.abs().max() <= bound and a.output.abs().max() > 0.9 * bound
    x = Input((500, 4)).randomize(torch.Generator().manual_seed(2))  # data: standard normal
    assert abs(x.output.std().item() - 1) < 0.1


def test_data_takes_any_batch_size_parameters_do_not():
    x = Input((4, 3))
    x.set(torch.zeros(7, 3))
    assert x.output.shape == (7, 3)
    w = Input((4, 3), train=True)
    with pytest.raises(ValueError, match=r"Input\(4, 3\) \(parameter\).set: expected shape \(4, 3\), got \(7, 3\)"):
        w.set(torch.ones(7, 3))
    assert w.output.abs().sum() == 0


def test_bad_input_is_refused_before_anything_changes():
    x = Input((2, 3), dtype=F64).set(W)
    with pytest.raises(
        ValueError, match=r"Input\(2, 3\).set: expected shape \(2, 3\) \(any batch size\), got \(2, 4\)"
    ):
        x.set(torch.zeros(2, 4))
    assert x.output is W
    w = Input((2, 3), train=True, dtype=F64).set(W)
    w.accumulate_grad(G)
    with pytest.raises(
        ValueError,
        match=r"Input\(2, 3\) \(parameter\).accumulate_grad: gradient must have "
        r"the shape of the output \(2, 3\), got \(3, 2\)",
    ):
        w.accumulate_grad(torch.ones(3, 2, dtype=F64))
    for bad in (0, -0.1, float("inf"), float("nan")):
        with pytest.raises(
            ValueError, match=r"Input\(2, 3\) \(parameter\).step: step_size must be a positive finite number"
        ):
            w.step(bad)
    with pytest.raises(TypeError, match=r"step_size must be a number, got str 'big'"):
        w.step("big")
    assert w.output.tolist() == W.tolist() and w.grad.tolist() == G.tolist()
    with pytest.raises(ValueError, match=r"Input: shape must have non-negative sizes, got \(2, -1\)"):
        Input((2, -1))


def test_an_input_follows_its_values_device_unless_told_one():
    meta = torch.device("meta")  # a device without data: shapes and devices only
    x = Input((2, 3)).set(torch.zeros(2, 3, device=meta))
    w = Input((2, 3), train=True).set(torch.zeros(2, 3, device=meta))
    assert x.output.device == w.output.device == meta
    assert w.device == meta
    fixed = Input((2, 3), device="cpu").set(torch.ones(2, 3))
    assert fixed.device == torch.device("cpu")


def test_a_gradient_follows_its_input_onto_another_device():
    x = Input((2, 3)).set(torch.zeros(2, 3))
    x.accumulate_grad(torch.ones(2, 3))
    x.set(torch.zeros(2, 3, device="meta"))
    assert x.output.device.type == x.grad.device.type == "meta" and x.grad.shape == (2, 3)


def test_a_step_that_would_make_a_parameter_non_finite_names_it_and_moves_nothing():
    w = Input((2, 2), train=True).set(torch.ones(2, 2))
    w.accumulate_grad(torch.tensor([[0.5, math.inf], [0.0, 1.0]]))
    with pytest.raises(NonFiniteStep) as error:
        w.step(0.1)
    assert str(error.value) == (
        "Input(2, 2) (parameter).step: the update would make Input(2, 2) (parameter) non-finite: "
        "its gradient holds NaN or inf; nothing was moved"
    )
    assert w.output.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_values_of_another_float_dtype_take_the_declared_one():
    x = Input((2, 2), dtype=F64).set(torch.ones(2, 2, dtype=torch.float32))
    w = Input((2, 2), train=True).set(torch.ones(2, 2, dtype=F64) / 3)
    assert (x.output.dtype, x.dtype, w.output.dtype, w.dtype) == (F64, F64, torch.float32, torch.float32)
    labels = Input((2,), dtype=torch.int64).set(torch.tensor([0.5, 1.5]))  # floats in an integer Input
    assert labels.output.dtype == torch.get_default_dtype() and labels.output.tolist() == [0.5, 1.5]
    assert labels.set(torch.tensor([1, 0], dtype=torch.int16)).output.dtype == torch.int64


def test_randomize_draws_in_the_inputs_dtype_from_the_generator():
    for shape, train, draw in [
        ((3,), True, lambda g: torch.randn(3, generator=g, dtype=F64)),
        ((2, 3), False, lambda g: torch.randn(2, 3, generator=g, dtype=F64)),
        ((2, 3), True, lambda g: (2 * torch.rand(2, 3, generator=g, dtype=F64) - 1) * math.sqrt(6 / 5)),
    ]:
        made = Input(shape, train=train, dtype=F64).randomize(torch.Generator().manual_seed(5))
        assert made.output.dtype == made.dtype == F64
        assert_close(made.output, draw(torch.Generator().manual_seed(5)), tol=1e-15)


def test_an_input_told_a_device_keeps_its_values_there_and_layers_follow_it():
    meta = torch.device("meta")  # shapes and devices without data
    x, w = Input((2, 3), device="meta"), Input((2, 3), train=True, device="meta")
    assert x.output.device == w.output.device == x.device == meta
    x.set(torch.ones(2, 3))  # a CPU value moves to the device it was told
    assert x.output.device == x.device == meta
    assert x.randomize(torch.Generator().manual_seed(0)).output.device == meta
    assert ReLU(x).device == meta and Scale(Input((2, 3)), 2.0).device == torch.device("cpu")


def test_a_layer_takes_the_dtype_of_its_first_float_input():
    labels, values = Input((2,), dtype=torch.int64), Input((2,), dtype=F64)
    assert Sum(labels, values).dtype == F64 and Sum(values, labels).dtype == F64
    assert Scale(labels, 2.0).dtype == torch.int64  # no float input: the first one's
    assert labels.randomize(torch.Generator().manual_seed(0)).output.dtype == torch.get_default_dtype()


def test_an_input_takes_a_list_and_refuses_a_size_past_int64():
    assert Input((2, 2), dtype=F64).set([[1.5, 2.0], [3.0, 4.0]]).output.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    with pytest.raises(
        ValueError, match=r"^Input: shape\[0\] must be an integer in \[0, 2\*\*63\), got 9223372036854775808$"
    ):
        Input((2**63,))
