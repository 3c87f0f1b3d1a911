import pytest
import torch

from scratchlib.check import compare, gradcheck


def test_compare_passes_and_prints_a_stable_table():
    table = compare([0.5, [[1.0, -2.0]]], [0.5 + 1e-13, torch.tensor([[1.0, -2.0]])],
                    labels=["loss", "dW"])
    assert table.ok
    assert repr(table) == (
        "quantity  hand     computed  max |error|  pass\n"
        "--------  -------  --------  -----------  ----\n"
        "loss      0.5      0.5       < 1e-12      yes\n"
        "dW        [1, -2]  [1, -2]   < 1e-12      yes\n"
        "2/2 match (atol=1e-06, rtol=1e-05)")
    html = table._repr_html_()
    assert "<table>" in html and html.count("<tr") == 3


def test_compare_raises_on_a_mismatch_and_names_the_row():
    with pytest.raises(AssertionError, match=r"mismatch in b:") as info:
        compare([1.0, 2.0], [1.0, 2.1], labels=["a", "b"])
    assert "2.1" in str(info.value) and "NO" in str(info.value)


def test_compare_tolerances_are_honoured():
    compare(1.0, 1.009, atol=0.01)
    with pytest.raises(AssertionError):
        compare(1.0, 1.011, atol=0.01, rtol=0)
    compare(1000.0, 1000.5, atol=0, rtol=1e-3)


def test_compare_catches_shape_and_nan_differences():
    with pytest.raises(AssertionError, match=r"shape \(2,\) vs \(1, 2\)"):
        compare([1.0, 2.0], [[1.0, 2.0]])
    with pytest.raises(AssertionError):
        compare([1.0, 2.0], [1.0, float("nan")])


def test_compare_large_tensor_shows_shape():
    table = compare(torch.ones(3, 4), torch.ones(3, 4))
    assert "tensor of shape (3, 4)" in repr(table)


def test_compare_needs_one_value_per_label():
    with pytest.raises(ValueError, match="one expected and one actual value per label"):
        compare([1.0], [1.0, 2.0], labels=["a"])


def test_gradcheck_accepts_the_right_gradient_and_rejects_a_wrong_one():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    w = torch.randn(2, 3, generator=g, dtype=torch.float64)
    grad_out = torch.randn(4, 2, generator=g, dtype=torch.float64)
    dx, dw = grad_out @ w, grad_out.T @ x
    table = gradcheck(lambda a, b: a @ b.T, [x, w], [dx, dw], grad_output=grad_out, labels=["dx", "dW"])
    assert table.ok
    with pytest.raises(AssertionError, match="mismatch in dW"):
        gradcheck(lambda a, b: a @ b.T, [x, w], [dx, dw.T.T * 1.0000001], grad_output=grad_out,
                  labels=["dx", "dW"])
    with pytest.raises(AssertionError, match="mismatch in dx"):
        gradcheck(lambda a, b: a @ b.T, [x, w], [grad_out @ w.abs(), dw], grad_output=grad_out,
                  labels=["dx", "dW"])


def test_gradcheck_scalar_output_and_bad_grad_output():
    x = torch.tensor([1.0, -2.0, 3.0])
    gradcheck(lambda a: (a ** 2).sum(), [x], [2 * x])
    with pytest.raises(ValueError, match="pass grad_output"):
        gradcheck(lambda a: a * 2, [x], [x])
    with pytest.raises(ValueError, match="grad_output has shape"):
        gradcheck(lambda a: a * 2, [x], [x], grad_output=torch.ones(2))
