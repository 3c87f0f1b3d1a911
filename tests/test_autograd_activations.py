"""The activations, softmax, permute, comparisons, dropout and numpy operands of scratchlib.autograd
against torch in float64: forward, backward, finite differences and bad input."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograd_parity import assert_close, numerical_gradient, parity
from scratchlib.autograd import Tensor, nn
from scratchlib.autograd import functional as F

F64 = torch.float64
seeds = st.integers(0, 2**31 - 1)


@st.composite
def shapes(draw, min_dims=0, max_dims=3):
    return tuple(draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=max_dims)))


@st.composite
def shape_and_dim(draw):
    shape = draw(shapes(min_dims=1, max_dims=4))
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


def randn(shape, seed, scale=1.0):
    return scale * torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


ELEMENTWISE = {  # name: (ours, torch's)
    "tanh": (lambda x: x.tanh(), torch.tanh),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid),
    "gelu": (F.gelu, torch.nn.functional.gelu),
    "nn.Tanh": (nn.Tanh(), torch.nn.Tanh()),
    "nn.Sigmoid": (nn.Sigmoid(), torch.nn.Sigmoid()),
    "nn.GELU": (nn.GELU(), torch.nn.GELU()),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(shape=shapes(), seed=seeds, scale=st.sampled_from([1.0, 4.0]))
def test_elementwise_activations_match_torch(name, shape, seed, scale):
    ours, theirs = ELEMENTWISE[name]
    parity(ours, theirs, randn(shape, seed, scale), grad_output_seed=seed)


def test_activations_by_hand():
    # tanh(0) = 0, slope 1; sigmoid(0) = 1/2, slope 1/4; GELU(0) = 0, slope Phi(0) = 1/2;
    # at x = ln 3: tanh = (9 - 1)/(9 + 1) = 0.8, slope 1 - 0.64 = 0.36; sigmoid = 3/4, slope 3/16;
    # GELU(x) = x Phi(x); for large x it is x, for large negative x it is 0
    x = Tensor(torch.tensor([0.0, math.log(3.0)], dtype=F64), requires_grad=True)
    x.tanh().sum().backward()
    assert_close(x.grad, torch.tensor([1.0, 0.36], dtype=F64))
    x.grad = None
    x.sigmoid().sum().backward()
    assert_close(x.grad, torch.tensor([0.25, 3 / 16], dtype=F64))
    assert_close(x.sigmoid(), torch.tensor([0.5, 0.75], dtype=F64))
    z = Tensor(torch.tensor([0.0, 10.0, -10.0], dtype=F64), requires_grad=True)
    F.gelu(z).sum().backward()
    assert_close(F.gelu(z), torch.tensor([0.0, 10.0, 0.0], dtype=F64))
    assert_close(z.grad, torch.tensor([0.5, 1.0, 0.0], dtype=F64))


@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
@given(shape_dim=shape_and_dim(), seed=seeds, scale=st.sampled_from([1.0, 1000.0]))
def test_softmax_and_log_softmax_match_torch_even_for_huge_values(which, shape_dim, seed, scale):
    shape, dim = shape_dim
    ours, theirs = getattr(F, which), getattr(torch, which)
    out = parity(lambda x: ours(x, dim), lambda x: theirs(x, dim), randn(shape, seed, scale), grad_output_seed=seed)
    assert torch.isfinite(out.data).all()


def test_softmax_module_and_softmax_by_hand():
    # x = [0, ln 2, ln 5]: e^x = [1, 2, 5], s = [1/8, 2/8, 5/8]; with G = [1, 0, 0]:
    # sum_j G_j s_j = 1/8, ds = s (G - 1/8) = [1/8 * 7/8, -2/8 * 1/8, -5/8 * 1/8] = [7, -2, -5] / 64
    x = Tensor(torch.tensor([[0.0, math.log(2.0), math.log(5.0)]], dtype=F64), requires_grad=True)
    s = nn.Softmax(dim=1)(x)
    assert_close(s, torch.tensor([[1 / 8, 2 / 8, 5 / 8]], dtype=F64))
    s.backward(torch.tensor([[1.0, 0.0, 0.0]], dtype=F64))
    assert_close(x.grad, torch.tensor([[7.0, -2.0, -5.0]], dtype=F64) / 64)
    # log_softmax: log s = x - log 8; its gradient for G = [1, 0, 0] is G - s * 1 = [7, -2, -5] / 8
    x.grad = None
    log_s = F.log_softmax(x, -1)
    assert_close(log_s, x.data - math.log(8.0))
    log_s.backward(torch.tensor([[1.0, 0.0, 0.0]], dtype=F64))
    assert_close(x.grad, torch.tensor([[7.0, -2.0, -5.0]], dtype=F64) / 8)


@st.composite
def shape_and_permutation(draw):
    shape = draw(shapes(min_dims=1, max_dims=4))
    dims = draw(st.permutations(range(len(shape))))
    return shape, tuple(d - len(shape) if draw(st.booleans()) else d for d in dims)


@given(shape_dims=shape_and_permutation(), seed=seeds, packed=st.booleans())
def test_permute_matches_torch(shape_dims, seed, packed):
    shape, dims = shape_dims
    ours = (lambda x: x.permute(dims)) if packed else (lambda x: x.permute(*dims))
    parity(ours, lambda x: x.permute(dims), randn(shape, seed), grad_output_seed=seed)


def test_permute_rejects_bad_dims_before_building_anything():
    x = Tensor(torch.randn(2, 3, 4), requires_grad=True)
    with pytest.raises(ValueError, match=re.escape("needs 3 dims, got 2: (0, 1)")):
        x.permute(0, 1)
    with pytest.raises(ValueError, match="dim 3 is out of range for a tensor with 3 dimensions"):
        x.permute(0, 1, 3)
    with pytest.raises(ValueError, match=re.escape("dims (0, 1, -2) repeat a dimension")):
        x.permute(0, 1, -2)
    with pytest.raises(TypeError, match=re.escape("dims must be integers, got float 1.0")):
        x.permute(0, 1.0, 2)


ELEMENTWISE_AND_SOFTMAX = {
    **{name: ELEMENTWISE[name][0] for name in ("tanh", "sigmoid", "gelu")},
    "softmax": lambda x: F.softmax(x, 1),
    "log_softmax": lambda x: F.log_softmax(x, 0),
    "permute": lambda x: x.permute(1, 0),
}


@pytest.mark.parametrize("name", ELEMENTWISE_AND_SOFTMAX)
def test_new_ops_agree_with_finite_differences(name):
    # J = sum(op(x) * G) for a fixed random G; central differences err by O(eps^2) ~ 1e-10
    op = ELEMENTWISE_AND_SOFTMAX[name]
    x = randn((3, 4), 20, scale=2.0)
    G = randn(tuple(op(Tensor(x)).shape), 21)
    leaf = Tensor(x.clone(), requires_grad=True)
    (op(leaf) * G).sum().backward()
    numeric = numerical_gradient(lambda v: (op(Tensor(v)) * G).sum().item(), x.clone())
    torch.testing.assert_close(leaf.grad, numeric, atol=1e-7, rtol=1e-7)


def test_softmax_rejects_a_bad_dim():
    x = Tensor(torch.randn(2, 3))
    with pytest.raises(ValueError, match=re.escape("softmax: dim 2 is out of range for a tensor of shape (2, 3)")):
        F.softmax(x, 2)
    with pytest.raises(ValueError, match="log_softmax: dim -3 is out of range"):
        F.log_softmax(x, -3)
    with pytest.raises(TypeError, match="dim must be an integer, got NoneType"):
        F.softmax(x, None)
    with pytest.raises(TypeError, match="Softmax: dim must be an integer"):
        nn.Softmax(dim=1.0)


@given(shape=shapes(), seed=seeds, other_kind=st.sampled_from(["number", "tensor", "Tensor"]))
def test_comparisons_give_bool_tensors_without_gradient_like_torch(shape, seed, other_kind):
    a = randn(shape, seed)
    b = {"number": 0.25, "tensor": randn(shape[-1:], seed + 1), "Tensor": randn(shape[-1:], seed + 1)}[other_kind]
    t = Tensor(a.clone(), requires_grad=True)
    other = Tensor(b) if other_kind == "Tensor" else b
    for ours, theirs in [
        (t > other, a > b),
        (t < other, a < b),
        (t == other, a == b),
        (t >= other, a >= b),
        (t <= other, a <= b),
        (t != other, a != b),
    ]:
        assert isinstance(ours, Tensor) and ours.dtype == torch.bool
        assert not ours.requires_grad and ours.grad_fn is None
        assert torch.equal(ours.data, theirs)


def test_comparisons_by_hand_and_tensors_stay_hashable():
    t = Tensor(torch.tensor([1.0, 2.0, 3.0]))
    assert (t > 2).data.tolist() == [False, False, True]
    assert (t < 2).data.tolist() == [True, False, False]
    assert (t == Tensor(torch.tensor([1.0, 0.0, 3.0]))).data.tolist() == [True, False, True]
    assert bool(Tensor(torch.tensor(2.0)) > 1)
    with pytest.raises(RuntimeError, match="truth value of a Tensor with 3 elements is ambiguous"):
        bool(t > 2)
    assert len({t, t}) == 1  # hashed by identity, as torch's tensors


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "@", ">", "<", "=="])
@pytest.mark.parametrize("kind", ["array", "scalar"])
def test_numpy_operands_on_either_side_give_tensors(op, kind):
    x = torch.tensor([[0.5, -2.0], [1.5, 3.0]], dtype=F64)
    if op == "@" and kind == "scalar":
        pytest.skip("no matrix product with a scalar")
    other = np.array([[2.0, -1.0], [0.5, 4.0]]) if kind == "array" else np.float32(2.0)
    expr = eval(f"lambda a, b: a {op} b")
    for numpy_first in (True, False):
        t = Tensor(x.clone(), requires_grad=op not in (">", "<", "=="))
        a, b = (other, t) if numpy_first else (t, other)
        ours = expr(a, b)
        ref_a, ref_b = (torch.as_tensor(other), x) if numpy_first else (x, torch.as_tensor(other))
        assert isinstance(ours, Tensor), f"{type(a).__name__} {op} {type(b).__name__} gave {type(ours).__name__}"
        assert torch.equal(ours.data, expr(ref_a, ref_b))
        if t.requires_grad:
            ours.sum().backward()
            assert t.grad is not None and t.grad.shape == x.shape


@given(shape=shapes(min_dims=1), seed=seeds, p=st.sampled_from([0.1, 0.5, 0.9]))
def test_dropout_matches_torch_for_the_same_seed(shape, seed, p):
    # torch.nn.functional.dropout draws its mask from the global generator with bernoulli_;
    # ours draws it the same way from the given generator, so the same seed gives the same mask
    def torch_dropout(v):
        torch.manual_seed(seed)
        return torch.nn.functional.dropout(v, p)

    module = nn.Dropout(p, generator=torch.Generator().manual_seed(seed))
    parity(module, torch_dropout, randn(shape, seed), grad_output_seed=seed)


def test_dropout_inverted_eval_identity_and_reproducible():
    x = Tensor(torch.ones(2000, dtype=F64), requires_grad=True)
    drop = nn.Dropout(0.25, generator=torch.Generator().manual_seed(0))
    y = drop(x)
    kept = y.data != 0
    assert torch.equal(y.data[kept], torch.full((int(kept.sum()),), 4 / 3, dtype=F64))  # 1 / (1 - p)
    assert abs(kept.double().mean().item() - 0.75) < 0.05  # 0.75 +- 5 standard deviations (0.0097 each)
    y.sum().backward()
    assert torch.equal(x.grad, y.data)  # dy/dx is the same scaled mask
    again = nn.Dropout(0.25, generator=torch.Generator().manual_seed(0))(x)
    assert torch.equal(again.data, y.data)
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x


def test_dropout_rejects_p_outside_0_1():
    for p in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=re.escape(f"Dropout: p must be in [0, 1), got {p!r}")):
            nn.Dropout(p)
    with pytest.raises(TypeError, match="Dropout: p must be a number, got str"):
        nn.Dropout("0.5")
    with pytest.raises(ValueError, match=re.escape("dropout: p must be in [0, 1)")):
        F.dropout(Tensor(torch.ones(2)), 1.0)
    with pytest.raises(TypeError, match=re.escape("generator must be a torch.Generator")):
        nn.Dropout(0.5, generator=0)
    assert nn.Dropout(np.float32(0.5)).p == 0.5
