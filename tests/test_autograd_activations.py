"""The activations, softmax, permute, comparisons, dropout and numpy operands of scratchlib.autograd
against torch in float64: forward, backward, finite differences and bad input."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograd_parity import (
    ATOL,
    RTOL,
    assert_close,
    assert_like_torch,
    local_backward,
    node,
    numerical_gradient,
    parity,
)
from expect import expect
from scratchlib.autograd import Tensor, nn, ops, shape_ops
from scratchlib.autograd import functional as F
from scratchlib.autograd.function import Context

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


GRAD = [[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]]  # an upstream gradient G = dL/d(out) of shape (2, 3)
LN2, LN3 = math.log(2.0), math.log(3.0)


def leaf(values):
    return Tensor(torch.tensor(values, dtype=F64), requires_grad=True)


def test_tanh_backward_alone_by_hand():
    """Runs only exercise 6.50 (Tanh.backward), called directly on a given G."""
    # tanh(ln 3) = (9 - 1) / (9 + 1) = 0.8, tanh(ln 2) = (4 - 1) / (4 + 1) = 0.6
    # BEGIN TEACHER ONLY: the backward worked out (notebook 06 asks the student to derive it)
    # 1 - tanh^2 = 0.36, 0.64
    # END TEACHER ONLY
    x = [[0.0, LN3, -LN2], [LN2, -LN3, 0.0]]
    (dx,) = local_backward(node(ops.Tanh, leaf(x)), GRAD)
    # BEGIN TEACHER ONLY: the backward worked out (notebook 06 asks the student to derive it)
    # G (1 - tanh^2) = [[1 * 1, -2 * 0.36, 0.5 * 0.64], [3 * 0.64, 1 * 0.36, -1 * 1]]
    # END TEACHER ONLY
    expect(dx, torch.tensor([[1.0, -0.72, 0.32], [1.92, 0.36, -1.0]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    assert_like_torch((dx,), torch.tanh, torch.tensor(x, dtype=F64), grad=torch.tensor(GRAD, dtype=F64))


def test_sigmoid_backward_alone_by_hand():
    """Runs only exercise 6.51 (Sigmoid.backward), called directly on a given G."""
    # sigmoid(ln k) = k / (k + 1): at [0, ln 3, -ln 3, ln 4, -ln 4] it is [1/2, 3/4, 1/4, 4/5, 1/5],
    # BEGIN TEACHER ONLY: the backward worked out (notebook 06 asks the student to derive it)
    # so s (1 - s) = [1/4, 3/16, 3/16, 4/25, 4/25]
    # END TEACHER ONLY
    x = [[0.0, LN3, -2 * LN2], [2 * LN2, -LN3, 0.0]]
    (dx,) = local_backward(node(ops.Sigmoid, leaf(x)), GRAD)
    expect(
        dx,
        torch.tensor([[1 / 4, -3 / 8, 2 / 25], [12 / 25, 3 / 16, -1 / 4]], dtype=F64),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    assert_like_torch((dx,), torch.sigmoid, torch.tensor(x, dtype=F64), grad=torch.tensor(GRAD, dtype=F64))


def test_gelu_backward_alone_by_hand():
    """Runs only exercise 6.55 (GELUFunction.backward), called directly on a given G."""
    # BEGIN TEACHER ONLY: the backward worked out (notebook 06 asks the student to derive it)
    # slope Phi(x) + x phi(x): 1/2 at 0; Phi(1) + phi(1) at 1 and Phi(-1) - phi(1) = 1 - Phi(1) - phi(1) at -1
    # END TEACHER ONLY
    cdf, density = 0.5 * (1 + math.erf(1 / math.sqrt(2))), math.exp(-0.5) / math.sqrt(2 * math.pi)  # 0.8413, 0.2420
    up, down = cdf + density, 1 - cdf - density  # 1.0833, -0.0833
    x = [[0.0, 1.0, -1.0], [1.0, -1.0, 0.0]]
    (dx,) = local_backward(node(F.GELUFunction, leaf(x)), GRAD)
    expect(
        dx,
        torch.tensor([[0.5, -2 * up, 0.5 * down], [3 * up, down, -0.5]], dtype=F64),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    assert_like_torch((dx,), torch.nn.functional.gelu, torch.tensor(x, dtype=F64), grad=torch.tensor(GRAD, dtype=F64))


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


def test_softmax_backward_alone_by_hand():
    """Runs only exercise 6.53 (SoftmaxFunction.backward), called directly on a given G."""
    # row 0: e^x = [1, 3, 4], s = [1/8, 3/8, 4/8], G = [0, 1, 0]: sum_j G_j s_j = 3/8, s (G - 3/8) = [-3, 15, -12] / 64
    # row 1: e^x = [3, 1, 1], s = [3/5, 1/5, 1/5], G = [0, 2, 1]: sum_j G_j s_j = 3/5, s (G - 3/5) = [-9, 7, 2] / 25
    x = [[0.0, LN3, 2 * LN2], [LN3, 0.0, 0.0]]
    g = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 1.0]], dtype=F64)
    dx, ddim = local_backward(node(F.SoftmaxFunction, leaf(x), 1), g)
    expect(
        dx,
        torch.tensor([[-3 / 64, 15 / 64, -12 / 64], [-9 / 25, 7 / 25, 2 / 25]], dtype=F64),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    expect(ddim, None)
    assert_like_torch((dx,), lambda x: torch.softmax(x, 1), torch.tensor(x, dtype=F64), grad=g)


def test_log_softmax_backward_alone_by_hand():
    """Runs only exercise 6.54 (LogSoftmaxFunction.backward), called directly on a given G."""
    # the rows of test_softmax_backward_alone_by_hand: G - s sum_j G_j =
    # [0, 1, 0] - [1, 3, 4] / 8 = [-1, 5, -4] / 8 and [0, 2, 1] - 3 [3, 1, 1] / 5 = [-9, 7, 2] / 5
    x = [[0.0, LN3, 2 * LN2], [LN3, 0.0, 0.0]]
    g = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 1.0]], dtype=F64)
    dx, ddim = local_backward(node(F.LogSoftmaxFunction, leaf(x), 1), g)
    expect(
        dx, torch.tensor([[-1 / 8, 5 / 8, -4 / 8], [-9 / 5, 7 / 5, 2 / 5]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True
    )
    expect(ddim, None)
    assert_like_torch((dx,), lambda x: torch.log_softmax(x, 1), torch.tensor(x, dtype=F64), grad=g)


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


def test_permute_backward_alone_by_hand():
    """Runs only exercise 6.52 (Permute.backward), called directly on a given G."""
    x = Tensor(torch.zeros(2, 3, 4, dtype=F64), requires_grad=True)
    grad = torch.arange(24.0, dtype=F64).reshape(4, 2, 3)  # G[k, i, j] = 6k + 3i + j
    dx, ddims = local_backward(
        node(shape_ops.Permute, x, (2, 0, 1)), grad
    )  # out[k, i, j] = x[i, j, k], so dx[i, j, k] = G[k, i, j]
    expect(tuple(dx.shape), (2, 3, 4))
    expect(dx[0, 0].tolist(), [0.0, 6.0, 12.0, 18.0])  # G[k, 0, 0] = 6k
    expect(dx[1, 2].tolist(), [5.0, 11.0, 17.0, 23.0])  # G[k, 1, 2] = 6k + 5
    expect(ddims, None)
    assert_like_torch((dx,), lambda x: x.permute(2, 0, 1), x.data, grad=grad)


def test_permute_rejects_bad_dims_before_building_anything():
    x = Tensor(torch.randn(2, 3, 4), requires_grad=True)
    with pytest.raises(ValueError, match=re.escape("needs 3 dims, got 2: (0, 1)")):
        x.permute(0, 1)
    with pytest.raises(ValueError, match="dim 3 is out of range for a tensor with 3 dimensions"):
        x.permute(0, 1, 3)
    repeated = "dims (0, 1, -2) repeat a dimension; each of 0..2 must appear once"
    with pytest.raises(ValueError, match=re.escape(repeated)):
        x.permute(0, 1, -2)
    with pytest.raises(ValueError, match="dim 1 is out of range for a tensor with 1 dimensions"):
        Tensor(torch.randn(3)).permute(1)  # a vector's only dim is 0 (or -1)
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


def test_dropout_backward_alone_by_hand():
    """Runs only exercise 6.56 (DropoutFunction.backward), called directly on a given G."""
    # a node made by hand with a known mask (no random draw): p = 3/4, kept entries scaled by 1 / (1 - p) = 4
    ctx = Context(F.DropoutFunction, (None,), (True,))
    ctx.save_for_backward(torch.tensor([[4.0, 0.0, 4.0], [0.0, 0.0, 4.0]], dtype=F64))
    dx, dp, dgenerator = F.DropoutFunction.backward(ctx, torch.tensor(GRAD, dtype=F64))
    expect(
        dx, torch.tensor([[4.0, 0.0, 2.0], [0.0, 0.0, -4.0]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True
    )  # G times the scaled mask
    expect(dp, None)
    expect(dgenerator, None)


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


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: F.softmax([1.0], 0), TypeError, "softmax takes a scratchlib Tensor, got list"),
        (lambda x: F.softmax(x, 1.0), TypeError, "softmax: dim must be an integer, got float 1.0"),
        (
            lambda x: F.softmax(x, 2),
            ValueError,
            "softmax: dim 2 is out of range for a tensor of shape (2, 3) (allowed: -2 to 1)",
        ),
        (lambda x: F.dropout([1.0]), TypeError, "dropout takes a scratchlib Tensor, got list"),
        (
            lambda x: F.linear(x, Tensor(torch.ones(4, 3, dtype=F64))),
            TypeError,
            "linear: the input has dtype torch.float32 but the weights have torch.float64: convert "
            "the input (Tensor(x.data.to(torch.float64))) or make the layer with dtype=torch.float32",
        ),
    ],
)
def test_bad_functional_arguments_are_named_in_full(call, error, message):
    with pytest.raises(error) as info:
        call(Tensor(torch.ones(2, 3)))
    assert str(info.value) == message


def test_dropout_by_default_drops_half_in_training():
    x = Tensor(torch.ones(1000, dtype=F64))
    dropped = F.dropout(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(dropped.data, F.dropout(x, 0.5, True, torch.Generator().manual_seed(0)).data)
    assert set(dropped.data.tolist()) == {0.0, 2.0} and 400 < int((dropped.data == 0).sum()) < 600
