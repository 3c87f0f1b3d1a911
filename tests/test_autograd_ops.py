"""Every elementary op, forward and backward, against torch autograd in float64 (scratchlib.autograd.ops)."""

import math
import re

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
from scratchlib.autograd import Function, Tensor, ops, shape_ops
from scratchlib.autograd.function import Context
from scratchlib.autograd.ops import sum_to_shape

F64 = torch.float64


@st.composite
def shapes(draw, min_dims=0, max_dims=3):
    return tuple(draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=max_dims)))


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: the second drops leading dims and turns some sizes into 1."""
    a = draw(shapes(max_dims=3))
    keep = draw(st.integers(0, len(a)))
    b = [1 if draw(st.booleans()) else s for s in a[len(a) - keep :]]
    return (a, tuple(b)) if draw(st.booleans()) else (tuple(b), a)


def randn(shape, seed, positive=False, away_from_zero=False):
    x = torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(seed))
    if positive:
        return x.abs() + 0.5
    if away_from_zero:
        return torch.where(x < 0, x - 0.5, x + 0.5)
    return x


seeds = st.integers(0, 2**31 - 1)

BINARY = {  # name: (ours, torch's, keep the second input away from zero)
    "add": (lambda a, b: a + b, lambda a, b: a + b, False),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, False),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, False),
    "div": (lambda a, b: a / b, lambda a, b: a / b, True),
}


@pytest.mark.parametrize("name", BINARY)
@given(pair=broadcast_pair(), seed=seeds)
def test_binary_ops_with_broadcasting_match_torch(name, pair, seed):
    ours, theirs, nonzero = BINARY[name]
    a = randn(pair[0], seed)
    b = randn(pair[1], seed + 1, away_from_zero=nonzero)
    parity(ours, theirs, a, b, grad_output_seed=seed)


@pytest.mark.parametrize("name", BINARY)
@given(shape=shapes(), seed=seeds, constant=st.floats(0.5, 3.0))
def test_binary_ops_with_a_constant_on_either_side(name, shape, seed, constant):
    ours, theirs, _ = BINARY[name]
    x = randn(shape, seed, away_from_zero=True)
    parity(lambda t: ours(t, constant), lambda t: theirs(t, constant), x, grad_output_seed=seed)
    parity(lambda t: ours(-constant, t), lambda t: theirs(-constant, t), x, grad_output_seed=seed)
    c = randn(shape[-1:], seed + 2, away_from_zero=True)  # a plain torch tensor is a constant too
    parity(lambda t: ours(t, c), lambda t: theirs(t, c), x, grad_output_seed=seed)


UNARY = {  # name: (ours, torch's, needs positive input)
    "neg": (lambda x: -x, lambda x: -x, False),
    "exp": (lambda x: x.exp(), lambda x: x.exp(), False),
    "log": (lambda x: x.log(), lambda x: x.log(), True),
    "relu": (lambda x: x.relu(), lambda x: x.relu(), False),
    "T": (lambda x: x.T, lambda x: x.permute(tuple(reversed(range(x.dim())))), False),
    "square": (lambda x: x**2, lambda x: x**2, False),
    "cube": (lambda x: x**3, lambda x: x**3, False),
    "sqrt": (lambda x: x**0.5, lambda x: x**0.5, True),
    "pow -1.5": (lambda x: x**-1.5, lambda x: x**-1.5, True),
    "pow 0": (lambda x: x**0, lambda x: x**0, False),
    "mean": (lambda x: x.mean(), lambda x: x.mean(), False),
}


@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes(), seed=seeds)
def test_unary_ops_match_torch(name, shape, seed):
    ours, theirs, positive = UNARY[name]
    parity(ours, theirs, randn(shape, seed, positive=positive), grad_output_seed=seed)


@st.composite
def shape_and_axis(draw):
    shape = draw(shapes(min_dims=1, max_dims=4))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-len(shape), len(shape) - 1))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    return shape, tuple(axes)


@given(shape_axis=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_sum_matches_torch(shape_axis, keepdims, seed):
    shape, axis = shape_axis
    dims = tuple(range(len(shape))) if axis is None else axis
    parity(
        lambda x: x.sum(axis, keepdims),
        lambda x: x.sum(dim=dims, keepdim=keepdims),
        randn(shape, seed),
        grad_output_seed=seed,
    )


@given(shape_axis=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_mean_over_an_axis_matches_torch(shape_axis, keepdims, seed):
    shape, axis = shape_axis
    dims = tuple(range(len(shape))) if axis is None else axis
    parity(
        lambda x: x.mean(axis, keepdims),
        lambda x: x.mean(dim=dims, keepdim=keepdims),
        randn(shape, seed),
        grad_output_seed=seed,
    )


@given(shape_axis=shape_and_axis(), keepdims=st.booleans(), seed=seeds, scale=st.sampled_from([1.0, 1000.0]))
def test_logsumexp_matches_torch_even_for_huge_values(shape_axis, keepdims, seed, scale):
    shape, axis = shape_axis
    dims = tuple(range(len(shape))) if axis is None else axis
    out = parity(
        lambda x: x.logsumexp(axis, keepdims),
        lambda x: torch.logsumexp(x, dim=dims, keepdim=keepdims),
        scale * randn(shape, seed),
        grad_output_seed=seed,
    )
    assert torch.isfinite(out.data).all()


@given(shape=shapes(min_dims=1, max_dims=4), seed=seeds, flat_first=st.booleans())
def test_reshape_matches_torch(shape, seed, flat_first):
    n = torch.Size(shape).numel()
    target = (n,) if flat_first else (-1, shape[-1])
    parity(lambda x: x.reshape(*target), lambda x: x.reshape(target), randn(shape, seed), grad_output_seed=seed)
    parity(lambda x: x.reshape(target), lambda x: x.reshape(target), randn(shape, seed), grad_output_seed=seed)


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    batch = draw(shapes(max_dims=2))
    batch_b = tuple(1 if draw(st.booleans()) else s for s in batch)[draw(st.integers(0, len(batch))) :]
    return batch + (n, k), batch_b + (k, m)


@given(ab=matmul_shapes(), seed=seeds)
def test_matmul_matches_torch_for_matrices_and_broadcast_stacks(ab, seed):
    parity(lambda a, b: a @ b, lambda a, b: a @ b, randn(ab[0], seed), randn(ab[1], seed + 1), grad_output_seed=seed)


@given(shape=shapes(min_dims=2, max_dims=2), seed=seeds)
def test_matmul_with_a_constant_matrix_on_the_left(shape, seed):
    c = randn((3, shape[0]), seed + 5)
    parity(lambda x: c @ x, lambda x: c @ x, randn(shape, seed), grad_output_seed=seed)


def test_hand_worked_expression():
    # f = sum((a * b + a) / c) with a = [[1, -2, 3], [-1, 0.5, 2]], b = [2, -1, 0.5] (broadcast over
    # the 2 rows), c = 4, and output gradient 1:
    #   df/da = (b + 1) / c = [0.75, 0, 0.375] in each row
    #   df/db = sum over rows of a / c = [0, -1.5, 5] / 4 = [0, -0.375, 1.25]
    a = Tensor(torch.tensor([[1.0, -2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=F64), requires_grad=True)
    b = Tensor(torch.tensor([2.0, -1.0, 0.5], dtype=F64), requires_grad=True)
    f = ((a * b + a) / 4.0).sum()
    f.backward()
    # f = (2 + 2 + 1.5 - 2 - 0.5 + 1 + 1 - 2 + 3 - 1 + 0.5 + 2) / 4 = 7.5 / 4
    assert f.item() == pytest.approx(7.5 / 4, abs=1e-15)
    assert_close(a.grad, torch.tensor([[0.75, 0.0, 0.375]] * 2, dtype=F64))
    assert_close(b.grad, torch.tensor([0.0, -0.375, 1.25], dtype=F64))


def test_sum_to_shape_undoes_broadcasting():
    grad = torch.arange(24.0).reshape(4, 2, 3)
    # (2, 1) broadcast to (4, 2, 3): sum over dimension 0 and over the last one
    expect(
        sum_to_shape(grad, torch.Size([2, 1])).double(),
        grad.sum(0).sum(1, keepdim=True).double(),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    assert sum_to_shape(grad, grad.shape) is grad
    expect(sum_to_shape(grad, torch.Size([])).item(), grad.sum().item())


@pytest.mark.parametrize(
    "expr, shapes_, op",
    [
        (lambda a, b: a + b, [(2, 3), (4,)], "Add"),
        (lambda a, b: a * b, [(2, 3), (3, 2)], "Mul"),
        (lambda a, b: a - b, [(5,), (2,)], "Sub"),
        (lambda a, b: a / b, [(2, 3), (2,)], "Div"),
        (lambda a, b: a @ b, [(2, 3), (4, 5)], "MatMul"),
    ],
)
def test_incompatible_shapes_are_a_clear_error(expr, shapes_, op):
    a, b = (Tensor(torch.randn(s), requires_grad=True) for s in shapes_)
    with pytest.raises(ValueError, match=re.escape(f"{op} got incompatible inputs ({shapes_[0]}, {shapes_[1]})")):
        expr(a, b)


def test_matmul_of_a_vector_and_a_bad_reshape_are_clear_errors():
    with pytest.raises(ValueError, match=r"MatMul needs two tensors of at least 2 dimensions.*\(3,\)"):
        Tensor(torch.randn(2, 3)) @ Tensor(torch.randn(3))
    with pytest.raises(ValueError, match=r"got shapes \(3,\) and \(3, 2\)$"):
        Tensor(torch.randn(3)) @ Tensor(torch.randn(3, 2))
    with pytest.raises(ValueError, match=r"Reshape .*\(2, 3\).*\(4, 2\)"):
        Tensor(torch.randn(2, 3)).reshape(4, 2)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        Tensor(torch.randn(2, 3)).sum(2)
    with pytest.raises(TypeError, match="constant"):
        Tensor(torch.randn(2)) ** Tensor(torch.randn(2))


def test_a_deliberately_wrong_backward_fails_the_parity_check():
    class WrongMul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return grad * b, grad * b  # the second should be grad * a

    with pytest.raises(AssertionError, match="grad of input 1"):
        parity(WrongMul.apply, lambda a, b: a * b, randn((2, 3), 0), randn((2, 3), 1))


@pytest.mark.parametrize("name", [*BINARY, *UNARY])
def test_every_op_agrees_with_finite_differences(name):
    # J = sum(op(inputs) * G) for a fixed random G; central differences err by O(eps^2) ~ 1e-10,
    # plus rounding of about 1e-16 / eps: 1e-7 is well above both and far below any real mistake
    binary = name in BINARY
    ours = (BINARY if binary else UNARY)[name][0]
    positive = not binary and UNARY[name][2]
    inputs = [randn((3, 4), 10, positive=positive)]
    if binary:
        inputs.append(randn((4,), 11, away_from_zero=True))
    G = randn(tuple(ours(*[Tensor(t) for t in inputs]).shape), 12)
    leaves = [Tensor(t.clone(), requires_grad=True) for t in inputs]
    (ours(*leaves) * G).sum().backward()
    for i, t in enumerate(inputs):

        def J(v, i=i):
            args = [Tensor(v if j == i else u) for j, u in enumerate(inputs)]
            return (ours(*args) * G).sum().item()

        numeric = numerical_gradient(J, t.clone())
        torch.testing.assert_close(leaves[i].grad, numeric, atol=1e-7, rtol=1e-7)


# ---------------------------------------------------- each backward alone, by hand
# These call one node's backward directly on a given G (local_backward): no traversal (6.2),
# no AccumulateGrad (6.1), no Sum (6.13), and with inputs of one shape no sum_to_shape (6.3)
# either. Each runs only its own exercise, so `make check EX=6.6` passes once 6.6 is done.

A = [[1.0, -2.0, 3.0], [-1.0, 0.5, 2.0]]  # (2, 3)
B = [[2.0, -1.0, 0.5], [4.0, -3.0, 1.0]]  # (2, 3)
GRAD = [[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]]  # an upstream gradient G = dL/d(out) of shape (2, 3)


def tensor(values):
    return torch.tensor(values, dtype=F64)


def leaf(values):
    return Tensor(tensor(values), requires_grad=True)


def test_add_backward_alone_by_hand():
    """Runs only exercise 6.4 (Add.backward), called directly on a given G."""
    da, db = local_backward(node(ops.Add, leaf(A), leaf(B)), GRAD)
    expect(da, tensor(GRAD), atol=ATOL, rtol=RTOL, dtype=True)  # d(a + b)/da = 1: G passes through to both
    expect(db, tensor(GRAD), atol=ATOL, rtol=RTOL, dtype=True)
    da, db = local_backward(node(ops.Add, leaf(A), 2.5), GRAD)
    expect(da, tensor(GRAD), atol=ATOL, rtol=RTOL, dtype=True)
    expect(db, None)  # a constant needs no gradient


def test_sub_backward_alone_by_hand():
    """Runs only exercise 6.5 (Sub.backward), called directly on a given G."""
    da, db = local_backward(node(ops.Sub, leaf(A), leaf(B), shapes=((2, 3), (2, 3))), GRAD)  # not Sub.forward (6.28)
    expect(da, tensor(GRAD), atol=ATOL, rtol=RTOL, dtype=True)  # d(a - b)/da = 1, d(a - b)/db = -1
    expect(db, tensor([[-1.0, 2.0, -0.5], [-3.0, -1.0, 1.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    da, db = local_backward(node(ops.Sub, 2.5, leaf(B), shapes=((), (2, 3))), GRAD)
    expect(da, None)
    expect(db, -tensor(GRAD), atol=ATOL, rtol=RTOL, dtype=True)


def test_mul_backward_alone_by_hand():
    """Runs only exercise 6.6 (Mul.backward), called directly on a given G."""
    da, db = local_backward(node(ops.Mul, leaf(A), leaf(B), tensors=(tensor(A), tensor(B))), GRAD)  # not 6.29
    # da = G * b = [[1*2, -2*-1, 0.5*0.5], [3*4, 1*-3, -1*1]]
    expect(da, tensor([[2.0, 2.0, 0.25], [12.0, -3.0, -1.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    # db = G * a = [[1*1, -2*-2, 0.5*3], [3*-1, 1*0.5, -1*2]]
    expect(db, tensor([[1.0, 4.0, 1.5], [-3.0, 0.5, -2.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    assert_like_torch((da, db), lambda a, b: a * b, tensor(A), tensor(B), grad=tensor(GRAD))


ROW = [2.0, -1.0, 0.5]  # (3,): broadcast over the rows of A


def given_sum_to_shape(grad, shape):
    """A stand-in for exercise 6.3 (written with torch's own sum_to_size), so a test of an
    operation's backward can broadcast without running the student's sum_to_shape."""
    return grad.sum_to_size(shape) if len(shape) else grad.sum()


SHAPES = {"shapes": ((2, 3), (3,))}  # what Add's and Sub's forward save for A and ROW
OPERANDS = {"tensors": (torch.tensor(A, dtype=F64), torch.tensor(ROW, dtype=F64))}  # what Mul's and Div's save


@pytest.mark.parametrize(
    "op, function, saved, exercise, da, db",
    [
        # db: the column sums of what reaches the broadcast row, [1 + 3, -2 + 1, 0.5 - 1] for G
        (lambda a, b: a + b, ops.Add, SHAPES, "6.4", GRAD, [4.0, -1.0, -0.5]),
        (lambda a, b: a - b, ops.Sub, SHAPES, "6.5", GRAD, [-4.0, 1.0, 0.5]),
        # da = G * b per row; db = column sums of G * a = [[1, 4, 1.5], [-3, 0.5, -2]]
        (lambda a, b: a * b, ops.Mul, OPERANDS, "6.6", [[2.0, 2.0, 0.25], [6.0, -1.0, -0.5]], [-2.0, 4.5, -0.5]),
        # da = G / b per row; db = column sums of -G a / b^2 = [[-0.25, -4, -6], [0.75, -0.5, 8]]
        (lambda a, b: a / b, ops.Div, OPERANDS, "6.7", [[0.5, 2.0, 1.0], [1.5, -1.0, -2.0]], [0.5, -4.5, 2.0]),
    ],
    ids=["Add", "Sub", "Mul", "Div"],
)
def test_a_broadcast_backward_alone_sums_over_the_rows_by_hand(monkeypatch, op, function, saved, exercise, da, db):
    """Runs only the operation's exercise (6.4 to 6.7) on a (2, 3) and a (3,) input: its backward must
    hand back a gradient of each input's shape, through sum_to_shape (here a given one, not 6.3), on a
    node made by the test with what the forward saves (not the forward, 6.28 to 6.30)."""
    monkeypatch.setattr(ops, "sum_to_shape", given_sum_to_shape)
    grad_a, grad_b = local_backward(node(function, leaf(A), leaf(ROW), **saved), GRAD)
    expect(grad_a, tensor(da), atol=ATOL, rtol=RTOL, dtype=True)
    expect(grad_b, tensor(db), atol=ATOL, rtol=RTOL, dtype=True)
    assert_like_torch((grad_a, grad_b), op, tensor(A), tensor(ROW), grad=tensor(GRAD))


def test_div_backward_alone_by_hand():
    """Runs only exercise 6.7 (Div.backward), called directly on a given G."""
    da, db = local_backward(node(ops.Div, leaf(A), leaf(B), tensors=(tensor(A), tensor(B))), GRAD)  # not 6.30
    # da = G / b = [[1/2, -2/-1, 0.5/0.5], [3/4, 1/-3, -1/1]]
    expect(da, tensor([[0.5, 2.0, 1.0], [0.75, -1 / 3, -1.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    # db = -G a / b^2 = [[-1/4, -4/1, -1.5/0.25], [3/16, -0.5/9, 2/1]]
    expect(db, tensor([[-0.25, -4.0, -6.0], [0.1875, -1 / 18, 2.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    assert_like_torch((da, db), lambda a, b: a / b, tensor(A), tensor(B), grad=tensor(GRAD))


def test_neg_backward_alone_by_hand():
    """Runs only exercise 6.8 (Neg.backward), called directly on a given G."""
    (dx,) = local_backward(node(ops.Neg, leaf(A)), GRAD)
    expect(dx, tensor([[-1.0, 2.0, -0.5], [-3.0, -1.0, 1.0]]), atol=ATOL, rtol=RTOL, dtype=True)  # -G


def test_pow_backward_alone_by_hand():
    """Runs only exercise 6.9 (Pow.backward), called directly on a given G."""
    dx, dp = local_backward(node(ops.Pow, leaf(A), 3), GRAD)
    # dx = G * 3 x^2 = G * [[3, 12, 27], [3, 0.75, 12]]
    expect(dx, tensor([[3.0, -24.0, 13.5], [9.0, 0.75, -12.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    expect(dp, None)  # the exponent is a constant
    assert_like_torch((dx,), lambda x: x**3, tensor(A), grad=tensor(GRAD))


def test_matmul_backward_alone_by_hand():
    """Runs only exercise 6.10 (MatMul.backward), called directly on a given G."""
    b = [[1.0, 0.0, 2.0, -1.0], [0.0, 1.0, -1.0, 2.0], [3.0, -2.0, 0.0, 1.0]]  # (3, 4)
    grad = [[1.0, 0.0, -1.0, 2.0], [0.0, 2.0, 1.0, -1.0]]  # (2, 4)
    da, db = local_backward(node(ops.MatMul, leaf(A), leaf(b)), grad)
    # dA = G B^T: entry (i, j) = row i of G . row j of B; e.g. (0, 0) = 1 - 2 - 2 = -3
    expect(da, tensor([[-3.0, 5.0, 5.0], [3.0, -1.0, -5.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    # dB = A^T G: row i = A[0, i] G[0] + A[1, i] G[1]; e.g. row 1 = -2 [1, 0, -1, 2] + 0.5 [0, 2, 1, -1]
    expect(
        db,
        tensor([[1.0, -2.0, -2.0, 3.0], [-2.0, 1.0, 2.5, -4.5], [3.0, 4.0, -1.0, 4.0]]),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    assert_like_torch((da, db), lambda a, b: a @ b, tensor(A), tensor(b), grad=tensor(grad))


def test_matmul_backward_alone_skips_the_input_that_needs_no_gradient():
    """Runs only exercise 6.10 (MatMul.backward): A @ B with only one of them requiring grad."""
    a_data = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=F64)
    b_data = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], dtype=F64)
    grad = torch.tensor([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]], dtype=F64)
    da, db = local_backward(Tensor(a_data, requires_grad=True) @ Tensor(b_data), grad)
    expect(da.tolist(), (grad @ b_data.T).tolist())  # G B^T = [[-1.5, 2], [0, 3]]
    expect(db, None)
    da, db = local_backward(Tensor(a_data) @ Tensor(b_data, requires_grad=True), grad)
    expect(da, None)
    expect(db.tolist(), (a_data.T @ grad).tolist())


@pytest.mark.parametrize(
    "op, da, db",
    [
        (lambda a, b: a - b, [[1.0, -2.0]], [[-1.0, 2.0]]),  # dA = G, dB = -G
        (lambda a, b: a / b, [[0.5, -0.5]], [[-0.75, 0.5]]),  # dA = G / B, dB = -G A / B^2
    ],
)
def test_a_backward_alone_skips_the_input_that_needs_no_gradient(op, da, db):
    """Sub and Div: only the input that requires grad gets one (torch's needs_input_grad)."""
    a_data, b_data, grad = (torch.tensor([[x, y]], dtype=F64) for x, y in ((3.0, 4.0), (2.0, 4.0), (1.0, -2.0)))
    expect(local_backward(op(Tensor(a_data, requires_grad=True), Tensor(b_data)), grad)[0].tolist(), da)
    expect(local_backward(op(Tensor(a_data, requires_grad=True), Tensor(b_data)), grad)[1], None)
    expect(local_backward(op(Tensor(a_data), Tensor(b_data, requires_grad=True)), grad)[0], None)
    expect(local_backward(op(Tensor(a_data), Tensor(b_data, requires_grad=True)), grad)[1].tolist(), db)


def test_pow_backward_alone_for_the_exponents_zero_and_one():
    x = Tensor(torch.tensor([0.0, 2.0, -3.0], dtype=F64), requires_grad=True)
    grad = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    expect(local_backward(x**1, grad)[0].tolist(), [1.0, -2.0, 0.5])  # d(x^1) = G, also at x = 0
    expect(local_backward(x**0, grad)[0].tolist(), [0.0, 0.0, 0.0])


def test_logsumexp_drops_its_axis_unless_told_to_keep_it():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64)
    expect(tuple(ops.LogSumExp.apply(Tensor(x), 1).shape), (2,))  # as torch.logsumexp's keepdim=False
    expect(tuple(ops.LogSumExp.apply(Tensor(x), 1, True).shape), (2, 1))
    expect(tuple(Tensor(x).logsumexp(1).shape), (2,))  # the method's default too


def test_transpose_backward_alone_by_hand():
    """Runs only exercise 6.11 (Transpose.backward), called directly on a given G."""
    (dx,) = local_backward(node(shape_ops.Transpose, leaf(A)), [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    expect(dx, tensor([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]), atol=ATOL, rtol=RTOL, dtype=True)  # G^T, of x's shape (2, 3)
    cube = Tensor(torch.zeros(2, 3, 4, dtype=F64), requires_grad=True)
    grad = torch.arange(24.0, dtype=F64).reshape(4, 3, 2)
    (dx,) = local_backward(
        node(shape_ops.Transpose, cube), grad
    )  # all dimensions reversed back: dx[i, j, k] = G[k, j, i] = 6k + 2j + i
    expect((tuple(dx.shape), dx[1, 2, 3].item(), dx[0, 1, 2].item()), ((2, 3, 4), 23.0, 14.0))
    expect(dx, grad.permute(2, 1, 0), atol=ATOL, rtol=RTOL, dtype=True)


def test_reshape_backward_alone_by_hand():
    """Runs only exercise 6.12 (Reshape.backward), called directly on a given G."""
    dx, dshape = local_backward(node(shape_ops.Reshape, leaf(A), (3, 2)), [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    expect(
        dx, tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), atol=ATOL, rtol=RTOL, dtype=True
    )  # the same entries in order, shape (2, 3)
    expect(dshape, None)


def test_sum_backward_alone_by_hand():
    """Runs only exercise 6.13 (Sum.backward), called directly on a given G."""
    dx, _, _ = local_backward(node(ops.Sum, leaf(A), 1, False), [2.0, -1.0])  # each row's G copied along the row
    expect(dx, tensor([[2.0, 2.0, 2.0], [-1.0, -1.0, -1.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    dx, _, _ = local_backward(node(ops.Sum, leaf(A), 0, True), [[1.0, -2.0, 3.0]])  # each column's G down it
    expect(dx, tensor([[1.0, -2.0, 3.0], [1.0, -2.0, 3.0]]), atol=ATOL, rtol=RTOL, dtype=True)
    dx, _, _ = local_backward(node(ops.Sum, leaf(A), None, False), 1.5)  # G everywhere
    expect(dx, torch.full((2, 3), 1.5, dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    assert_like_torch((dx,), lambda x: x.sum(), tensor(A), grad=tensor(1.5))


def test_log_backward_alone_by_hand():
    """Runs only exercise 6.14 (Log.backward), called directly on a given G."""
    (dx,) = local_backward(node(ops.Log, leaf([[1.0, 2.0, 4.0], [0.5, 0.25, 8.0]])), GRAD)
    # dx = G / x = [[1/1, -2/2, 0.5/4], [3/0.5, 1/0.25, -1/8]]
    expect(dx, tensor([[1.0, -1.0, 0.125], [6.0, 4.0, -0.125]]), atol=ATOL, rtol=RTOL, dtype=True)
    assert_like_torch((dx,), torch.log, tensor([[1.0, 2.0, 4.0], [0.5, 0.25, 8.0]]), grad=tensor(GRAD))


def test_exp_backward_alone_by_hand():
    """Runs only exercise 6.15 (Exp.backward), called directly on a given G."""
    x = [[0.0, math.log(2), math.log(3)], [math.log(4), -math.log(2), 0.0]]  # e^x = [[1, 2, 3], [4, 0.5, 1]]
    (dx,) = local_backward(node(ops.Exp, leaf(x)), GRAD)
    expect(dx, tensor([[1.0, -4.0, 1.5], [12.0, 0.5, -1.0]]), atol=ATOL, rtol=RTOL, dtype=True)  # G e^x
    assert_like_torch((dx,), torch.exp, tensor(x), grad=tensor(GRAD))


def test_relu_backward_alone_by_hand():
    """Runs only exercise 6.16 (ReLU.backward), called directly on a given G."""
    (dx,) = local_backward(
        node(
            ops.ReLU, leaf([[1.0, -2.0, 3.0], [-1.0, 0.5, 0.0]]), tensors=(tensor([[1.0, 0.0, 3.0], [0.0, 0.5, 0.0]]),)
        ),
        GRAD,
    )  # what ReLU.forward (6.36) saves: max(x, 0)
    expect(
        dx, tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]), atol=ATOL, rtol=RTOL, dtype=True
    )  # G where x > 0, else 0 (x = 0 too)
    assert_like_torch((dx,), torch.relu, tensor([[1.0, -2.0, 3.0], [-1.0, 0.5, 0.0]]), grad=tensor(GRAD))


def test_logsumexp_backward_alone_by_hand():
    """Runs only exercise 6.17 (LogSumExp.backward), called directly on a given G."""
    # row 0: e^x = [1, 2, 5], softmax [1/8, 2/8, 5/8]; row 1: e^x = [3, 1, 1], softmax [3/5, 1/5, 1/5]
    x = [[0.0, math.log(2), math.log(5)], [math.log(3), 0.0, 0.0]]
    dx, _, _ = local_backward(node(ops.LogSumExp, leaf(x), 1, False), [2.0, -1.0])  # dx = G_row softmax(row)
    expect(dx, tensor([[0.25, 0.5, 1.25], [-0.6, -0.2, -0.2]]), atol=ATOL, rtol=RTOL, dtype=True)
    dx, _, _ = local_backward(node(ops.LogSumExp, leaf(x), 1, True), [[2.0], [-1.0]])
    expect(dx, tensor([[0.25, 0.5, 1.25], [-0.6, -0.2, -0.2]]), atol=ATOL, rtol=RTOL, dtype=True)
    assert_like_torch((dx,), lambda x: x.logsumexp(1, keepdim=True), tensor(x), grad=tensor([[2.0], [-1.0]]))


# ------------------------------------------ each forward and operator alone, by hand (CMU HW1P1 1.1)
# A forward is called on a ctx made here, not through Function.apply; an operator is checked by the
# call it makes, with its Function's apply replaced by a recorder: no forward, no graph.


def made_ctx(function):
    """A ctx for calling ``function.forward`` directly: two constant inputs, no graph."""
    return Context(function, (None, None), (False, False))


def test_sub_forward_alone_by_hand():
    """Runs only exercise 6.28 (Sub.forward), on a ctx made by the test."""
    # A - B = [[1 - 2, -2 + 1, 3 - 0.5], [-1 - 4, 0.5 + 3, 2 - 1]]
    expect(
        ops.Sub.forward(made_ctx(ops.Sub), tensor(A), tensor(B)),
        tensor([[-1.0, -1.0, 2.5], [-5.0, 3.5, 1.0]]),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    # broadcasting: ROW taken from every row of A
    expect(
        ops.Sub.forward(made_ctx(ops.Sub), tensor(A), tensor(ROW)),
        tensor([[-1.0, -1.0, 2.5], [-3.0, 1.5, 1.5]]),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    # a constant first (2.5 - x, as __rsub__ calls it): the order of the operands is the forward's
    expect(ops.Sub.forward(made_ctx(ops.Sub), 2.5, tensor(ROW)), tensor([0.5, 3.5, 2.0]), atol=ATOL, rtol=RTOL)


def test_mul_forward_alone_by_hand():
    """Runs only exercise 6.29 (Mul.forward), on a ctx made by the test."""
    ctx = made_ctx(ops.Mul)
    # A * B entry by entry = [[1 * 2, -2 * -1, 3 * 0.5], [-1 * 4, 0.5 * -3, 2 * 1]]
    expect(
        ops.Mul.forward(ctx, tensor(A), tensor(B)),
        tensor([[2.0, 2.0, 1.5], [-4.0, -1.5, 2.0]]),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    expect(
        ops.Mul.forward(made_ctx(ops.Mul), tensor(A), tensor(ROW)),
        tensor([[2.0, 2.0, 1.5], [-2.0, -0.5, 1.0]]),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    expect(ops.Mul.forward(made_ctx(ops.Mul), 2.5, tensor(ROW)), tensor([5.0, -2.5, 1.25]), atol=ATOL, rtol=RTOL)


def test_div_forward_alone_by_hand():
    """Runs only exercise 6.30 (Div.forward), on a ctx made by the test."""
    # A / B = [[1 / 2, -2 / -1, 3 / 0.5], [-1 / 4, 0.5 / -3, 2 / 1]]
    expect(
        ops.Div.forward(made_ctx(ops.Div), tensor(A), tensor(B)),
        tensor([[0.5, 2.0, 6.0], [-0.25, -1 / 6, 2.0]]),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    expect(
        ops.Div.forward(made_ctx(ops.Div), tensor(A), tensor(ROW)),
        tensor([[0.5, 2.0, 6.0], [-0.5, -0.5, 4.0]]),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    # a constant numerator (2.5 / x, as __rtruediv__ calls it)
    expect(ops.Div.forward(made_ctx(ops.Div), 2.5, tensor(ROW)), tensor([1.25, -2.5, 5.0]), atol=ATOL, rtol=RTOL)


def recorder(monkeypatch, function):
    """Replace ``function.apply`` by one that records its arguments and returns "the result": the test
    sees which Function an operator calls, and with what, without running it."""
    calls = []

    def apply(cls, *args):
        calls.append((cls.__name__, *args))
        return "the result"

    monkeypatch.setattr(function, "apply", classmethod(apply))
    return calls


@pytest.mark.parametrize(
    "exercise, operator, function",
    [
        ("6.31", lambda x, y: x - y, ops.Sub),
        ("6.32", lambda x, y: x * y, ops.Mul),
        ("6.33", lambda x, y: x / y, ops.Div),
    ],
    ids=["__sub__", "__mul__", "__truediv__"],
)
def test_an_operator_alone_calls_its_function_on_both_operands_in_order(monkeypatch, exercise, operator, function):
    """Runs only the operator's exercise (6.31 to 6.33): ``x - y`` is ``Sub.apply(x, y)``, the Tensor
    itself first (apply reads its ``.data`` and links it into the graph), the other operand as given."""
    calls = recorder(monkeypatch, function)
    x, y = leaf(A), leaf(B)
    results = [operator(x, y), operator(x, 2.5)]
    names = {id(x): "x", id(y): "y"}
    recorded = [[call[0]] + [names.get(id(a), a) for a in call[1:]] for call in calls]
    expect(recorded, [[function.__name__, "x", "y"], [function.__name__, "x", 2.5]])
    expect(results, ["the result", "the result"])  # what apply returns is the operator's result


def test_relu_forward_alone_by_hand():
    """Runs only exercise 6.36 (ReLU.forward), on a ctx made by the test."""
    ctx = Context(ops.ReLU, (None,), (False,))
    out = ops.ReLU.forward(ctx, tensor([[1.0, -2.0, 3.0], [-1.0, 0.5, 0.0]]))
    expect(out, tensor([[1.0, 0.0, 3.0], [0.0, 0.5, 0.0]]), dtype=True)  # max(x, 0), entry by entry
    expect(ctx.saved_tensors[0] is out, True)  # the output is what backward reads


def test_a_vectors_only_axis_is_zero():
    with pytest.raises(ValueError, match=r"^axis 1 is out of range for a tensor with 1 dimensions$"):
        Tensor(torch.randn(3)).sum(1)
