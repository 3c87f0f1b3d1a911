"""SoftmaxCrossEntropy: mean -log softmax(Yhat)[t], dL = g (softmax - onehot) / B; stable for any logits."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from expect import expect
from layer_testing import F64, TOL, assert_close, autograd, backward_alone, inputs, run, sizes, t, tensors
from scratchlib.layers import Input, Layer, SoftmaxCrossEntropy

# softmax is shift invariant: rows are logs of (1, 2, 5) and of (3, 1, 4), the second shifted by -1
LOGITS = t([[0, math.log(2), math.log(5)], [math.log(3) - 1, -1, math.log(4) - 1]])
LABELS = torch.tensor([2, 0])


def test_forward_and_backward_by_hand():
    # softmax: row 0 = (1, 2, 5)/8 = [0.125, 0.25, 0.625], row 1 = (3, 1, 4)/8 = [0.375, 0.125, 0.5]
    # J = -(ln 0.625 + ln 0.375) / 2 = (0.470004 + 0.980829) / 2 = 0.725416
    # with g = 2: dL = (2 / 2) (p - onehot) = [[0.125, 0.25, -0.375], [-0.625, 0.125, 0.5]]
    logits, labels = inputs(LOGITS, LABELS)
    layer = SoftmaxCrossEntropy(logits, labels)
    out = run(layer, t(2.0))
    assert_close(out, t(-(math.log(0.625) + math.log(0.375)) / 2), tol=1e-15)
    assert abs(out.item() - 0.725416) < 1e-6
    assert_close(layer.classifications, t([[0.125, 0.25, 0.625], [0.375, 0.125, 0.5]]), tol=1e-15)
    assert_close(logits.grad, t([[0.125, 0.25, -0.375], [-0.625, 0.125, 0.5]]), tol=1e-15)
    assert labels.grad is None  # integer labels get no gradient


def test_forward_alone_by_hand():
    """Runs only exercise 4.18 (SoftmaxCrossEntropy.forward): the softmax and the mean -log p of each label."""
    # p = [[1, 2, 5], [3, 1, 4]] / 8;  labels 2 and 0:  J = -(ln 5/8 + ln 3/8) / 2 = 0.725416
    logits, labels = inputs(LOGITS, LABELS)
    layer = SoftmaxCrossEntropy(logits, labels)
    layer.forward()
    expect(layer.output, t(-(math.log(0.625) + math.log(0.375)) / 2), atol=1e-15)
    expect(layer.classifications, t([[0.125, 0.25, 0.625], [0.375, 0.125, 0.5]]), atol=1e-15)


def test_backward_alone_on_a_given_forward_by_hand():
    """Runs only exercise 4.19 (SoftmaxCrossEntropy.backward): the forward (J and p) is given, not run."""
    # g = -3, B = 2:  dL = (g / B) (p - onehot) = -1.5 [[0.125, 0.25, -0.375], [-0.625, 0.125, 0.5]]
    #                    = [[-0.1875, -0.375, 0.5625], [0.9375, -0.1875, -0.75]]
    p = t([[1, 2, 5], [3, 1, 4]]) / 8
    logits, labels = inputs(LOGITS, LABELS)
    layer = SoftmaxCrossEntropy(logits, labels)
    J = torch.nn.functional.cross_entropy(LOGITS, LABELS)
    backward_alone(layer, J, t(-3.0), classifications=p)
    expect(logits.grad, t([[-0.1875, -0.375, 0.5625], [0.9375, -0.1875, -0.75]]), atol=1e-15)
    expect(labels.grad, None)  # integer labels get no gradient
    _, (d_logits,) = autograd(lambda z: torch.nn.functional.cross_entropy(z, LABELS), [LOGITS], t(-3.0))
    expect(logits.grad, d_logits, atol=TOL)


@given(batch=sizes, classes=st.integers(2, 6), data=st.data())
def test_matches_torch_autograd(batch, classes, data):
    values = data.draw(tensors((batch, classes)))
    labels = torch.tensor(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch)))
    g = t(data.draw(st.floats(-3, 3)))
    logits, target = inputs(values, labels)
    layer = SoftmaxCrossEntropy(logits, target)
    run(layer, g)
    ref, (d_logits,) = autograd(lambda z: torch.nn.functional.cross_entropy(z, labels), [values], g)
    assert_close(layer.output, ref)
    assert_close(logits.grad, d_logits)
    assert_close(layer.classifications, torch.softmax(values, dim=1))
    layer.backward()  # the accumulate path: logits.grad now holds twice the gradient
    assert_close(logits.grad, 2 * d_logits)


@pytest.mark.parametrize("size", [1e4, -1e4, 1e300])
def test_stable_for_huge_logits(size):
    logits, labels = inputs(t([[size, 0.0, -size], [0.0, size, 1.0]]), torch.tensor([0, 2]))
    layer = SoftmaxCrossEntropy(logits, labels)
    out = run(layer, t(1.0))
    assert torch.isfinite(out) and torch.isfinite(logits.grad).all()
    assert torch.isfinite(layer.classifications).all()
    ref = torch.nn.functional.cross_entropy(logits.output, labels.output)
    assert_close(out, ref, tol=1e-10 * abs(size))
    # each gradient row sums to zero (softmax rows and one-hot rows both sum to 1)
    assert_close(logits.grad.sum(1), t([0.0, 0.0]), tol=1e-15)


def test_float32_at_1e4_has_no_inf_or_nan():
    logits = Input((2, 3), dtype=torch.float32).set(torch.tensor([[1e4, 0, -1e4], [-1e4, -1e4, 1e4]]))
    layer = SoftmaxCrossEntropy(logits, Input((2,), dtype=torch.int64).set(torch.tensor([2, 2])))
    out = run(layer, torch.tensor(1.0))
    assert abs(out.item() - 1e4) < 1 and torch.isfinite(logits.grad).all()


def test_accumulate_grad_adds_and_step_moves_nothing():
    logits, labels = inputs(LOGITS, LABELS)
    layer = SoftmaxCrossEntropy(logits, labels)
    layer.forward()
    layer.accumulate_grad(t(0.5))
    layer.accumulate_grad(t(1.5))  # g = 2, as in the hand example
    layer.backward()
    assert_close(logits.grad, t([[0.125, 0.25, -0.375], [-0.625, 0.125, 0.5]]), tol=1e-15)
    layer.step(1.0)
    assert_close(logits.output, LOGITS, tol=0)


def test_labels_outside_the_class_range_are_refused_on_set():
    logits, labels = inputs(LOGITS, LABELS)
    layer = SoftmaxCrossEntropy(logits, labels)
    with pytest.raises(ValueError, match=r"Input\(2,\).set: class labels must lie in \[0, 3\), got values from 0 to 3"):
        labels.set(torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 3\), got values from -1 to 1"):
        labels.set(torch.tensor([-1, 1]))
    with pytest.raises(ValueError, match=r"class labels must be integers, got dtype torch.float64"):
        labels.set(t([0.0, 1.0]))
    expect(labels.output.tolist(), [2, 0])  # unchanged
    layer.forward()
    expect(layer.output, t(-(math.log(0.625) + math.log(0.375)) / 2), atol=1e-15)


def test_bad_wiring_and_early_backward():
    with pytest.raises(
        ValueError,
        match=r"SoftmaxCrossEntropy: target must have shape \(2,\) to match logits of shape \(2, 3\), got \(3,\)",
    ):
        SoftmaxCrossEntropy(Input((2, 3)), Input((3,), dtype=torch.int64))
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy: logits must be 2-D"):
        SoftmaxCrossEntropy(Input((3,)), Input((3,)))
    with pytest.raises(
        ValueError, match=r"SoftmaxCrossEntropy: class labels must lie in \[0, 3\), got values from 0 to 7"
    ):
        SoftmaxCrossEntropy(Input((2, 3)), Input((2,), dtype=torch.int64).set(torch.tensor([7, 0])))
    logits, labels = inputs(LOGITS, LABELS)
    layer = SoftmaxCrossEntropy(logits, labels)
    with pytest.raises(RuntimeError, match=r"SoftmaxCrossEntropy\(\).backward called before forward"):
        layer.backward()
    labels.set(torch.tensor([1]))  # one label for two rows of logits
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.forward: 2 rows of logits but 1 labels"):
        layer.forward()
    expect(layer.output, None)
    expect(layer.classifications, None)
    labels.set(LABELS)
    layer.forward()
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy\(\).accumulate_grad: .* got \(2,\)"):
        layer.accumulate_grad(torch.ones(2, dtype=F64))


def test_an_empty_batch_is_named_not_a_division_by_zero():
    logits, target = Input((0, 3)), Input((0,), dtype=torch.int64)
    loss = SoftmaxCrossEntropy(logits, target)
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.forward: the batch is empty \(0 rows\)"):
        loss.forward()


def test_labels_from_a_layer_are_checked_at_forward():
    """A target that is not an Input (here a hand-made layer) is checked when the loss runs."""

    class Labels(Layer):
        def __init__(self, values):
            super().__init__(shape=(len(values),))
            self.output = values

    logits = Input((2, 3), dtype=F64).set(t([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    for values, message in [
        (
            torch.tensor([0, 3]),
            r"^SoftmaxCrossEntropy.forward: class labels must lie in \[0, 3\), got values from 0 to 3$",
        ),
        (
            torch.tensor([True, False]),
            r"^SoftmaxCrossEntropy.forward: class labels must be integers, got dtype torch.bool$",
        ),
    ]:
        with pytest.raises(ValueError, match=message):
            SoftmaxCrossEntropy(logits, Labels(values)).forward()
    loss = SoftmaxCrossEntropy(logits, Labels(torch.tensor([2, 0], dtype=torch.int16)))
    loss.forward()  # any integer dtype: taken as int64
    expect(round(loss.output.item(), 6), round((0.407606 + 1.098612) / 2, 6))
