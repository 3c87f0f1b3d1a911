"""Modules and fused functions (scratchlib.autograd.nn, .functional) against torch.nn in float64."""

import math

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
from scratchlib.autograd import Tensor, nn, ops, optim
from scratchlib.autograd import functional as F
from scratchlib.autograd.function import Context

F64 = torch.float64
seeds = st.integers(0, 2**31 - 1)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def torch_linear_like(ours: nn.Linear) -> torch.nn.Linear:
    ref = torch.nn.Linear(ours.in_features, ours.out_features, dtype=F64)
    with torch.no_grad():
        ref.weight.copy_(ours.weight.data)
        ref.bias.copy_(ours.bias.data)
    return ref


# ------------------------------------------------------------------------ Linear
@given(batch=st.integers(1, 6), n_in=st.integers(1, 7), n_out=st.integers(1, 5), seed=seeds)
def test_linear_function_matches_torch(batch, n_in, n_out, seed):
    g = gen(seed)
    x, w, b = (torch.randn(s, dtype=F64, generator=g) for s in ((batch, n_in), (n_out, n_in), (n_out,)))
    parity(F.linear, torch.nn.functional.linear, x, w, b, grad_output_seed=seed)
    parity(F.linear, torch.nn.functional.linear, x, w, grad_output_seed=seed)  # no bias


def test_linear_by_hand():
    # X (2, 3), W (2, 3), b (2,), output gradient G (2, 2):
    # Y = X W^T + b = [[1*1 + 2*0 + -1*2 + 0.5, 1*-1 + 2*3 + -1*1 - 1], [...]] = [[-0.5, 3], [1.5, 4]]
    # dX = G W, dW = G^T X, db = column sums of G
    x = Tensor(torch.tensor([[1.0, 2.0, -1.0], [0.0, -1.0, 3.0]], dtype=F64), requires_grad=True)
    layer = nn.Linear(3, 2, dtype=F64)
    layer.weight.data.copy_(torch.tensor([[1.0, 0.0, 2.0], [-1.0, 3.0, 1.0]]))
    layer.bias.data.copy_(torch.tensor([0.5, -1.0]))
    y = layer(x)
    # row 2: [0 + 0 + 6 + 0.5, 0 - 3 + 3 - 1] = [6.5, -1]
    assert_close(y, torch.tensor([[-0.5, 3.0], [6.5, -1.0]], dtype=F64))
    g = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=F64)
    y.backward(g)
    # dX row 1 = 1*[1, 0, 2] - 2*[-1, 3, 1] = [3, -6, 0]; row 2 = 0.5*[1, 0, 2] + 3*[-1, 3, 1] = [-2.5, 9, 4]
    assert_close(x.grad, torch.tensor([[3.0, -6.0, 0.0], [-2.5, 9.0, 4.0]], dtype=F64))
    # dW row 1 = 1*[1, 2, -1] + 0.5*[0, -1, 3] = [1, 1.5, 0.5]; row 2 = -2*[1, 2, -1] + 3*[0, -1, 3] = [-2, -7, 11]
    assert_close(layer.weight.grad, torch.tensor([[1.0, 1.5, 0.5], [-2.0, -7.0, 11.0]], dtype=F64))
    assert_close(layer.bias.grad, torch.tensor([1.5, 1.0], dtype=F64))


def test_linear_backward_alone_by_hand():
    """Runs only exercise 6.18 (LinearFunction.backward), called directly on a given G."""
    x, w, b = [[1.0, 2.0, -1.0], [0.0, -1.0, 3.0]], [[1.0, 0.0, 2.0], [-1.0, 3.0, 1.0]], [0.5, -1.0]
    leaves = [Tensor(torch.tensor(v, dtype=F64), requires_grad=True) for v in (x, w, b)]
    g = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=F64)
    dx, dw, db = local_backward(node(F.LinearFunction, *leaves), g)
    # dX = G W: row 0 = 1 [1, 0, 2] - 2 [-1, 3, 1]; dW = G^T X: row 1 = -2 [1, 2, -1] + 3 [0, -1, 3]
    expect(dx, torch.tensor([[3.0, -6.0, 0.0], [-2.5, 9.0, 4.0]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(dw, torch.tensor([[1.0, 1.5, 0.5], [-2.0, -7.0, 11.0]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(db, torch.tensor([1.5, 1.0], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)  # column sums of G
    assert_like_torch((dx, dw, db), torch.nn.functional.linear, *(t.data for t in leaves), grad=g)


def test_linear_initialises_as_torch():
    torch.manual_seed(7)
    ours = nn.Linear(5, 3)
    torch.manual_seed(7)
    ref = torch.nn.Linear(5, 3)
    assert torch.equal(ours.weight.data, ref.weight.data) and torch.equal(ours.bias.data, ref.bias.data)
    wide = nn.Linear(400, 300, generator=gen(0))
    bound = 1 / math.sqrt(400)
    for p in (wide.weight.data, wide.bias.data):
        assert p.abs().max() <= bound and p.abs().max() > 0.99 * bound
    assert torch.equal(nn.Linear(4, 2, generator=gen(1)).weight.data, nn.Linear(4, 2, generator=gen(1)).weight.data)
    assert ours.weight.is_parameter and ours.weight.requires_grad and ours.weight.is_leaf
    assert nn.Linear(3, 2, bias=False).parameters().__len__() == 1


def test_linear_rejects_bad_shapes_and_sizes():
    layer = nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"Linear\(4, 2\) expects input of shape \(batch, 4\), got \(3, 5\)"):
        layer(Tensor(torch.randn(3, 5)))
    with pytest.raises(ValueError, match="out_features must be a positive integer, got 0"):
        nn.Linear(3, 0)
    with pytest.raises(ValueError, match=r"linear: input of shape \(3, 5\)"):
        F.linear(Tensor(torch.randn(3, 5)), layer.weight, layer.bias)


# -------------------------------------------------------------------- BatchNorm1d
def batchnorm_pair(features, seed):
    ours = nn.BatchNorm1d(features, dtype=F64)
    ref = torch.nn.BatchNorm1d(features, dtype=F64)
    g = gen(seed)
    with torch.no_grad():  # non-trivial scale and shift
        for p, q in ((ours.weight, ref.weight), (ours.bias, ref.bias)):
            q.copy_(torch.randn(features, dtype=F64, generator=g))
            p.data.copy_(q)
    return ours, ref


@given(batch=st.integers(2, 8), features=st.integers(1, 5), seed=seeds, steps=st.integers(1, 4))
def test_batchnorm_training_matches_torch_including_running_statistics(batch, features, seed, steps):
    ours, ref = batchnorm_pair(features, seed)
    g = gen(seed + 1)
    for step in range(steps):
        x = 3.0 * torch.randn(batch, features, dtype=F64, generator=g) + 1.5
        xo, xr = Tensor(x, requires_grad=True), x.clone().requires_grad_(True)
        yo, yr = ours(xo), ref(xr)
        assert_close(yo, yr, "forward")
        grad = torch.randn(batch, features, dtype=F64, generator=g)
        yo.backward(grad)
        yr.backward(grad)
        assert_close(xo.grad, xr.grad, f"dx at step {step}")
    assert_close(ours.weight.grad, ref.weight.grad, "dgamma (accumulated)")
    assert_close(ours.bias.grad, ref.bias.grad, "dbeta (accumulated)")
    assert_close(ours.running_mean, ref.running_mean, "running mean")
    assert_close(ours.running_var, ref.running_var, "running var")


@given(batch=st.integers(1, 6), features=st.integers(1, 5), seed=seeds)
def test_batchnorm_eval_uses_running_statistics_like_torch(batch, features, seed):
    ours, ref = batchnorm_pair(features, seed)
    g = gen(seed + 2)
    for _ in range(3):  # move the running statistics away from 0 and 1 first
        x = 2.0 * torch.randn(4, features, dtype=F64, generator=g) - 1.0
        ours(Tensor(x))
        ref(x)
    assert ours.eval() is ours and not ours.training
    ref.eval()
    x = torch.randn(batch, features, dtype=F64, generator=g)
    running = ours.running_mean.clone(), ours.running_var.clone()
    parity(ours, ref, x, grad_output_seed=seed)
    assert_close(ours.weight.grad, ref.weight.grad, "dgamma")
    assert_close(ours.bias.grad, ref.bias.grad, "dbeta")
    assert torch.equal(ours.running_mean, running[0]) and torch.equal(ours.running_var, running[1])


def test_batchnorm_by_hand():
    # one feature, batch [0, 3, 6], eps 0: mean 3, biased var 6, x_hat = [-a, 0, a] with a = sqrt(1.5);
    # gamma 2, beta 0.5 -> y = [0.5 - 2a, 0.5, 0.5 + 2a].
    # running mean 0.9*0 + 0.1*3 = 0.3; unbiased var 9 -> running var 0.9*1 + 0.1*9 = 1.8.
    # output gradient G = [1, 0, 0]: dgamma = sum G x_hat = -a, dbeta = 1, dx_hat = G gamma = [2, 0, 0];
    # dx = (3 dx_hat - sum dx_hat - x_hat sum(dx_hat x_hat)) / (3 sqrt 6)
    #    = ([6, 0, 0] - 2 - [-a, 0, a](-2a)) / (3 sqrt 6) = [1, -2, 1] / (3 sqrt 6)
    a = math.sqrt(1.5)
    bn = nn.BatchNorm1d(1, eps=1e-300, dtype=F64)  # eps ~ 0 (0 itself is refused): the hand numbers stay exact
    bn.weight.data.fill_(2.0)
    bn.bias.data.fill_(0.5)
    x = Tensor(torch.tensor([[0.0], [3.0], [6.0]], dtype=F64), requires_grad=True)
    y = bn(x)
    y.backward(torch.tensor([[1.0], [0.0], [0.0]], dtype=F64))
    assert_close(y, torch.tensor([[0.5 - 2 * a], [0.5], [0.5 + 2 * a]], dtype=F64))
    assert_close(bn.running_mean, torch.tensor([0.3], dtype=F64))
    assert_close(bn.running_var, torch.tensor([1.8], dtype=F64))
    assert_close(bn.weight.grad, torch.tensor([-a], dtype=F64))
    assert_close(bn.bias.grad, torch.tensor([1.0], dtype=F64))
    assert_close(x.grad, torch.tensor([[1.0], [-2.0], [1.0]], dtype=F64) / (3 * math.sqrt(6)))


def test_batchnorm_backward_alone_by_hand():
    """Runs only exercise 6.19 (BatchNormFunction.backward), called directly on a given G."""
    # column 0 as in test_batchnorm_by_hand: x [0, 3, 6], gamma 2, G [1, 0, 0] -> dx = [1, -2, 1] / (3 sqrt 6),
    # dgamma = -sqrt 1.5, dbeta = 1. Column 1: x [1, 1, 4], mean 2, var 2, x_hat = [-1, -1, 2] / sqrt 2;
    # gamma -1, G [0, 1, 1]: dgamma = sum G x_hat = 1 / sqrt 2, dbeta = 2, dx_hat = G gamma = [0, -1, -1];
    # dx = (3 dx_hat - (-2) - x_hat (-1 / sqrt 2)) / (3 sqrt 2) = ([0, -3, -3] + 2 - [1/2, 1/2, -1]) / (3 sqrt 2)
    x = torch.tensor([[0.0, 1.0], [3.0, 1.0], [6.0, 4.0]], dtype=F64)
    gamma, beta = torch.tensor([2.0, -1.0], dtype=F64), torch.tensor([0.5, 0.25], dtype=F64)
    leaves = [Tensor(v, requires_grad=True) for v in (x, gamma, beta)]
    a = math.sqrt(1.5)
    saved = (  # what forward (6.41) saves: x_hat, gamma, 1 / sqrt(var + eps)
        torch.tensor([[-a, -1 / math.sqrt(2)], [0.0, -1 / math.sqrt(2)], [a, math.sqrt(2)]], dtype=F64),
        gamma,
        torch.tensor([1 / math.sqrt(6), 1 / math.sqrt(2)], dtype=F64),
    )
    out = node(F.BatchNormFunction, *leaves, None, None, 0.1, 1e-300, tensors=saved)  # eps ~ 0: exact numbers
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=F64)
    dx, dgamma, dbeta, *constants = local_backward(out, g)
    by_column = torch.tensor([3 * math.sqrt(6), 3 * math.sqrt(2)], dtype=F64)
    expect(
        dx,
        torch.tensor([[1.0, 1.5], [-2.0, -1.5], [1.0, 0.0]], dtype=F64) / by_column,
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    expect(dgamma, torch.tensor([-math.sqrt(1.5), 1 / math.sqrt(2)], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(dbeta, torch.tensor([1.0, 2.0], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(constants, [None] * 4)  # running statistics, momentum, eps

    def theirs(x, gamma, beta):
        return torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-300)

    assert_like_torch((dx, dgamma, dbeta), theirs, x, gamma, beta, grad=g)


def test_batchnorm_forward_alone_by_hand(monkeypatch):
    """Runs only exercise 6.41 (BatchNormFunction.forward in training), on a ctx made by the test; the update of
    the running statistics (6.42) is recorded, not run."""
    # eps 1/4. Column 0: x [0, 3, 6], mean 3, biased var 6, sqrt(6 + 1/4) = 5/2: x_hat [-6/5, 0, 6/5];
    # gamma 2, beta 1/2: y = [-19/10, 1/2, 29/10]. Column 1: x [1, 1, 4], mean 2, biased var 2, sqrt(9/4) = 3/2:
    # x_hat [-2/3, -2/3, 4/3]; gamma -1, beta 1: y = [5/3, 5/3, -1/3].
    calls = []
    monkeypatch.setattr(F, "update_running_statistics", lambda *args: calls.append(args))
    x = torch.tensor([[0.0, 1.0], [3.0, 1.0], [6.0, 4.0]], dtype=F64)
    gamma, beta = torch.tensor([2.0, -1.0], dtype=F64), torch.tensor([0.5, 1.0], dtype=F64)
    ctx = Context(F.BatchNormFunction, (None,) * 7, (False,) * 7)
    out = F.BatchNormFunction.forward(ctx, x, gamma, beta, None, None, 0.1, 0.25)
    y = torch.tensor([[-1.9, 5 / 3], [0.5, 5 / 3], [2.9, -1 / 3]], dtype=F64)
    expect(out, y, atol=ATOL, rtol=RTOL, dtype=True)
    saved_x_hat, saved_gamma, saved_inv_std = ctx.saved_tensors  # what backward (6.19) reads
    expect(saved_x_hat, torch.tensor([[-1.2, -2 / 3], [0.0, -2 / 3], [1.2, 4 / 3]], dtype=F64), atol=ATOL, rtol=RTOL)
    expect(saved_gamma is gamma, True)
    expect(saved_inv_std, torch.tensor([0.4, 2 / 3], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(calls, [])  # no running statistics given: none to update
    running = torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)
    out = F.BatchNormFunction.forward(
        Context(F.BatchNormFunction, (None,) * 7, (False,) * 7), x, gamma, beta, *running, 0.1, 0.25
    )
    expect(out, y, atol=ATOL, rtol=RTOL, dtype=True)
    ((running_mean, running_var, mean, var, batch, momentum),) = calls
    expect([running_mean is running[0], running_var is running[1], batch, momentum], [True, True, 3, 0.1])
    expect(mean, torch.tensor([3.0, 2.0], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(var, torch.tensor([6.0, 2.0], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)  # the batch's biased variance


def test_batchnorm_running_statistics_update_alone_by_hand():
    """Runs only exercise 6.42 (update_running_statistics), on statistics made by the test."""
    # momentum 0.1, a batch of B = 3 with mean [3, 2] and biased variance [6, 2] (unbiased: 3/2 of it, [9, 3]):
    # running mean 0.9 [0, 1] + 0.1 [3, 2] = [0.3, 1.1]; running var 0.9 [1, 2] + 0.1 [9, 3] = [1.8, 2.1]
    running_mean, running_var = torch.tensor([0.0, 1.0], dtype=F64), torch.tensor([1.0, 2.0], dtype=F64)
    mean, var = torch.tensor([3.0, 2.0], dtype=F64), torch.tensor([6.0, 2.0], dtype=F64)
    F.update_running_statistics(running_mean, running_var, mean, var, 3, 0.1)  # in place: the module's tensors
    expect(running_mean, torch.tensor([0.3, 1.1], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(running_var, torch.tensor([1.8, 2.1], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(mean, torch.tensor([3.0, 2.0], dtype=F64))  # the batch's statistics are left as they were
    expect(var, torch.tensor([6.0, 2.0], dtype=F64))
    # B = 2, momentum 0.5: unbiased var 2 * [1, 0.5] = [2, 1]; mean [0.5 (0.3 + 0.7), 0.5 (1.1 - 0.1)]
    F.update_running_statistics(
        running_mean, running_var, torch.tensor([0.7, -0.1], dtype=F64), torch.tensor([1.0, 0.5], dtype=F64), 2, 0.5
    )
    expect(running_mean, torch.tensor([0.5, 0.5], dtype=F64), atol=ATOL, rtol=RTOL)
    expect(running_var, torch.tensor([1.9, 1.55], dtype=F64), atol=ATOL, rtol=RTOL)


def test_batchnorm_eval_forward_alone_by_hand():
    """Runs only exercise 6.43 (BatchNorm1d.forward in eval mode); the input, gamma and beta are plain torch
    tensors here (test doubles), so no Tensor operator (6.28-6.33) runs."""
    # eps 1/4, running mean [1, -1], running var [15/4, 0]: sqrt(var + eps) = [2, 1/2].
    # x [[3, 0], [1, -2]]: x_hat = [[1, 2], [0, -2]]; gamma [2, 3], beta [1/2, -1/2]: y = [[5/2, 11/2], [1/2, -13/2]].
    # The batch's own statistics (mean [2, -1], variance [1, 1]) would give other numbers.
    bn = nn.BatchNorm1d(2, eps=0.25, dtype=F64)
    bn.eval()
    bn.running_mean = torch.tensor([1.0, -1.0], dtype=F64)
    bn.running_var = torch.tensor([3.75, 0.0], dtype=F64)
    bn.weight, bn.bias = torch.tensor([2.0, 3.0], dtype=F64), torch.tensor([0.5, -0.5], dtype=F64)
    out = bn(torch.tensor([[3.0, 0.0], [1.0, -2.0]], dtype=F64))
    expect(out, torch.tensor([[2.5, 5.5], [0.5, -6.5]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    expect(bn.running_mean, torch.tensor([1.0, -1.0], dtype=F64))  # eval leaves the running statistics alone
    expect(bn.running_var, torch.tensor([3.75, 0.0], dtype=F64))
    expect(int(bn.num_batches_tracked), 0)
    expect(
        bn(torch.tensor([[5.0, -1.5]], dtype=F64)), torch.tensor([[4.5, -3.5]], dtype=F64), atol=ATOL, rtol=RTOL
    )  # one row


def test_batchnorm_rejects_bad_input_before_touching_its_statistics():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\) expects input of shape \(batch, 3\), got \(4, 2\)"):
        bn(Tensor(torch.randn(4, 2)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        bn(Tensor(torch.randn(1, 3)))
    assert torch.equal(bn.running_mean, torch.zeros(3)) and torch.equal(bn.running_var, torch.ones(3))
    bn.eval()
    assert bn(Tensor(torch.randn(1, 3))).shape == (1, 3)  # a single row is fine in eval


# ---------------------------------------------------------------- CrossEntropyLoss
@given(batch=st.integers(1, 6), classes=st.integers(2, 6), seed=seeds, scale=st.sampled_from([1.0, 500.0]))
def test_cross_entropy_matches_torch_even_for_huge_logits(batch, classes, seed, scale):
    g = gen(seed)
    logits = scale * torch.randn(batch, classes, dtype=F64, generator=g)
    target = torch.randint(0, classes, (batch,), generator=g)
    loss = parity(
        lambda z: nn.CrossEntropyLoss()(z, target),
        lambda z: torch.nn.functional.cross_entropy(z, target),
        logits,
        grad_output_seed=seed,
    )
    assert math.isfinite(loss.item())
    # the same loss composed from elementary ops (log-sum-exp) agrees too
    onehot = torch.nn.functional.one_hot(target, classes).to(F64)
    parity(
        lambda z: (z.logsumexp(1) - (z * onehot).sum(1)).mean(),
        lambda z: torch.nn.functional.cross_entropy(z, target),
        logits,
        grad_output_seed=seed,
    )


def test_cross_entropy_by_hand():
    # logits [[0, ln 3], [ln 2, 0]] -> softmax rows [1/4, 3/4] and [2/3, 1/3]; targets [1, 1]
    # L = -(ln 3/4 + ln 1/3) / 2
    # BEGIN TEACHER ONLY: the backward worked out (notebook 06 asks the student to derive it)
    # dZ = (softmax - onehot) / 2 = [[1/8, -1/8], [1/3, -1/3]]
    # END TEACHER ONLY
    z = Tensor(torch.tensor([[0.0, math.log(3)], [math.log(2), 0.0]], dtype=F64), requires_grad=True)
    loss = nn.CrossEntropyLoss()(z, Tensor(torch.tensor([1, 1])))
    loss.backward()
    assert loss.item() == pytest.approx(-(math.log(0.75) + math.log(1 / 3)) / 2, abs=1e-15)
    assert_close(z.grad, torch.tensor([[1 / 8, -1 / 8], [1 / 3, -1 / 3]], dtype=F64))


def test_cross_entropy_backward_alone_by_hand():
    """Runs only exercise 6.20 (CrossEntropyFunction.backward), called directly on a given G."""
    # row 0: e^z = [1, 2, 5], softmax [1/8, 2/8, 5/8], target 2; row 1: e^z = [3, 1, 1], softmax [3/5, 1/5, 1/5],
    # target 0. With G = 3 (not 1) and B = 2
    # BEGIN TEACHER ONLY: the backward worked out (notebook 06 asks the student to derive it)
    # dZ = (3 / 2) (softmax - onehot)
    # END TEACHER ONLY
    z = torch.tensor([[0.0, math.log(2), math.log(5)], [math.log(3), 0.0, 0.0]], dtype=F64)
    target = torch.tensor([2, 0])
    log_p = torch.tensor([[1 / 8, 2 / 8, 5 / 8], [3 / 5, 1 / 5, 1 / 5]], dtype=F64).log()  # what forward (6.40) saves
    dz, dtarget = local_backward(
        node(F.CrossEntropyFunction, Tensor(z, requires_grad=True), target, tensors=(log_p, target)), 3.0
    )
    expect(
        dz,
        torch.tensor([[3 / 16, 3 / 8, -9 / 16], [-3 / 5, 3 / 10, 3 / 10]], dtype=F64),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )
    expect(dtarget, None)
    assert_like_torch(
        (dz,), lambda z: torch.nn.functional.cross_entropy(z, target), z, grad=torch.tensor(3.0, dtype=F64)
    )


def test_cross_entropy_forward_alone_by_hand_even_for_huge_logits():
    """Runs only exercise 6.40 (CrossEntropyFunction.forward), on a ctx made by the test."""
    # row 0: 1000 + ln [1, 2, 5] -> softmax [1/8, 2/8, 5/8], target 2: -log p = ln 8/5; row 1: -1000 + ln [3, 1, 1]
    # -> softmax [3/5, 1/5, 1/5], target 0: ln 5/3. e^1000 overflows and e^-1000 is 0 in float64: only the
    # rows shifted by their maximum give these. L = (ln 8/5 + ln 5/3) / 2 = ln(8/3) / 2, a mean over the batch.
    z = torch.tensor(
        [[1000.0, 1000 + math.log(2), 1000 + math.log(5)], [-1000 + math.log(3), -1000.0, -1000.0]], dtype=F64
    )
    target = torch.tensor([2, 0])
    ctx = Context(F.CrossEntropyFunction, (None, None), (False, False))
    loss = F.CrossEntropyFunction.forward(ctx, z, target)
    expect(loss, torch.tensor(math.log(8 / 3) / 2, dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)  # a scalar
    log_p, saved_target = ctx.saved_tensors  # what backward (6.20) reads
    softmax = torch.tensor([[1 / 8, 2 / 8, 5 / 8], [3 / 5, 1 / 5, 1 / 5]], dtype=F64)
    expect(log_p, softmax.log(), atol=ATOL, rtol=RTOL, dtype=True)
    expect(saved_target is target, True)
    # three rows of two classes: a mean (or log-sum-exp) over the wrong axis gives another number or shape
    z = torch.tensor([[0.0, math.log(3)], [math.log(2), 0.0], [0.0, 0.0]], dtype=F64)
    loss = F.CrossEntropyFunction.forward(
        Context(F.CrossEntropyFunction, (None, None), (False, False)), z, torch.tensor([1, 1, 0])
    )
    expect(
        loss,
        torch.tensor(-(math.log(3 / 4) + math.log(1 / 3) + math.log(1 / 2)) / 3, dtype=F64),
        atol=ATOL,
        rtol=RTOL,
        dtype=True,
    )


def test_cross_entropy_rejects_bad_labels_and_shapes():
    loss = nn.CrossEntropyLoss()
    z = Tensor(torch.randn(3, 4), requires_grad=True)
    with pytest.raises(ValueError, match=r"label 4 is outside \[0, 4\)"):
        loss(z, torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"label -1 is outside \[0, 4\)"):
        loss(z, torch.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match=r"targets of shape \(3,\).*got \(2,\)"):
        loss(z, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer class labels"):
        loss(z, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"logits of shape \(batch, classes\), got \(4,\)"):
        loss(Tensor(torch.randn(4)), torch.tensor([0]))


# ------------------------------------------------------------ Module and Sequential
def test_sequential_finds_parameters_in_order_and_switches_modes():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]
    assert [tuple(p.shape) for p in model.parameters()] == [(3, 4), (3,), (3,), (3,), (2, 3), (2,)]
    assert model.eval() is model and all(m.training is False for m in model.modules())
    assert all(m.training for m in model.train().modules())
    assert len(model) == 4 and isinstance(model[2], nn.ReLU)
    assert "BatchNorm1d(3, eps=1e-05, momentum=0.1)" in repr(model)
    with pytest.raises(TypeError, match="Sequential takes Modules"):
        nn.Sequential(nn.ReLU(), torch.nn.ReLU())


def test_modules_print_as_torch_prints_them():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(), nn.Softmax(1))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.5)\n"
        "  (3): Softmax(dim=1)\n"
        ")"
    )


def test_a_module_without_forward_says_so_and_zero_grad_forgets_gradients():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

    net = Net()
    with pytest.raises(NotImplementedError, match=r"^Net must define forward$"):
        net(Tensor(torch.ones(1, 2)))
    net.linear(Tensor(torch.ones(1, 2))).sum().backward()
    assert net.linear.weight.grad is not None
    net.zero_grad()
    assert net.linear.weight.grad is None and net.linear.bias.grad is None


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.BatchNorm1d(0), ValueError, "BatchNorm1d: num_features must be a positive integer, got 0"),
        (lambda: nn.BatchNorm1d(3, eps=0), ValueError, "BatchNorm1d: eps must be a positive finite number, got 0"),
        (lambda: nn.BatchNorm1d(3, momentum=2), ValueError, "BatchNorm1d: momentum must be in [0, 1], got 2"),
        (lambda: nn.Dropout(generator="7"), TypeError, "Dropout: generator must be a torch.Generator, got str"),
        (lambda: nn.Softmax(1.0), TypeError, "Softmax: dim must be an integer, got float 1.0"),
        (
            lambda: nn.BatchNorm1d(3)(Tensor(torch.ones(1, 3))),
            ValueError,
            "BatchNorm1d(3) in training needs a batch of at least 2 rows to estimate a variance, got 1",
        ),
    ],
)
def test_bad_module_arguments_are_named_in_full(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


def test_batchnorm_statistics_take_the_dtype_and_device_asked_for():
    bn = nn.BatchNorm1d(3, dtype=torch.float64, device="meta")
    for t in (bn.weight.data, bn.bias.data, bn.running_mean, bn.running_var):
        assert (t.dtype, t.device.type, tuple(t.shape)) == (torch.float64, "meta", (3,))
    assert (bn.num_batches_tracked.dtype, bn.num_batches_tracked.device.type) == (torch.long, "meta")
    assert nn.BatchNorm1d(3).num_batches_tracked.dtype == torch.long


def test_a_shared_parameter_is_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(3, 3)
            self.second = nn.Linear(3, 3)
            self.second.weight = self.first.weight

        def forward(self, x):
            return self.second(self.first(x))

    model = Tied()
    assert len(model.parameters()) == 3
    model(Tensor(torch.randn(2, 3))).sum().backward()
    assert model.first.weight.grad is not None


# ------------------------------------------------ a whole MLP trained against torch.nn
def test_mlp_with_batchnorm_trains_like_torch_for_20_steps():
    torch.manual_seed(0)
    ours = nn.Sequential(
        nn.Linear(6, 8, dtype=F64), nn.BatchNorm1d(8, dtype=F64), nn.ReLU(), nn.Linear(8, 3, dtype=F64)
    )
    ref = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).to(F64)
    with torch.no_grad():
        for p, q in zip(ours.parameters(), ref.parameters()):
            q.copy_(p.data)
    opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    loss_fn, ref_loss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    g = gen(0)
    for step in range(20):
        x = torch.randn(16, 6, dtype=F64, generator=g)
        y = torch.randint(0, 3, (16,), generator=g)
        opt.zero_grad()
        loss = loss_fn(ours(Tensor(x)), y)
        loss.backward()
        opt.step()
        ref_opt.zero_grad()
        ref_loss = ref_loss_fn(ref(x), y)
        ref_loss.backward()
        ref_opt.step()
        assert abs(loss.item() - ref_loss.item()) < 1e-8, f"loss at step {step}"
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.data, q.detach(), atol=1e-8, rtol=0, msg=lambda m, name=name: f"{name}: {m}")
    torch.testing.assert_close(ours[1].running_mean, ref[1].running_mean, atol=1e-8, rtol=0)
    torch.testing.assert_close(ours[1].running_var, ref[1].running_var, atol=1e-8, rtol=0)
    ours.eval(), ref.eval()
    x = torch.randn(5, 6, dtype=F64, generator=g)
    torch.testing.assert_close(ours(Tensor(x)).data, ref(x).detach(), atol=1e-8, rtol=0)


def test_everything_stays_on_the_device_of_the_data():
    # the "meta" device has shapes but no numbers: any tensor made on the CPU by mistake would clash
    model = nn.Sequential(
        nn.Linear(5, 4, device="meta"), nn.BatchNorm1d(4, device="meta"), nn.ReLU(), nn.Linear(4, 3, device="meta")
    )
    x = Tensor(torch.empty(6, 5, device="meta"))
    out = (model(x).exp() * 2.0 + 1.0).logsumexp(1).sum()
    out.backward()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.step()
    opt.step()
    assert all(p.grad.device.type == "meta" and p.data.device.type == "meta" for p in model.parameters())
    assert model[1].running_mean.device.type == "meta"


@pytest.mark.parametrize("layer", ["linear", "batchnorm", "cross_entropy", "mlp"])
def test_layers_agree_with_finite_differences(layer):
    g = gen(5)
    x = torch.randn(5, 4, dtype=F64, generator=g)
    target = torch.tensor([0, 2, 1, 2, 1])
    bn = nn.BatchNorm1d(4, dtype=F64)
    bn.weight.data.uniform_(0.5, 1.5, generator=g)
    bn.bias.data.uniform_(-0.5, 0.5, generator=g)
    lin = nn.Linear(4, 3, dtype=F64, generator=g)
    G = torch.randn(5, 4, dtype=F64, generator=g)
    objective = {  # a scalar function of the input x, through the layer
        "linear": lambda t: (lin(t) * G[:, :3]).sum(),
        "batchnorm": lambda t: (bn(t) * G).sum(),  # training mode: batch statistics
        "cross_entropy": lambda t: nn.CrossEntropyLoss()(t, target),
        "mlp": lambda t: nn.CrossEntropyLoss()(lin(bn(t).relu()), target),
    }[layer]
    leaf = Tensor(x.clone(), requires_grad=True)
    objective(leaf).backward()
    numeric = numerical_gradient(lambda v: objective(Tensor(v)).item(), x.clone())
    torch.testing.assert_close(leaf.grad, numeric, atol=1e-7, rtol=1e-7)


# ------------------------------------- each module's forward alone (CMU HW1P1 2.1, 2.2), with test doubles


def recorder(monkeypatch, function):
    """Replace ``function.apply`` by one that records its arguments and returns "the result"."""
    calls = []

    def apply(cls, *args):
        calls.append((cls.__name__, *args))
        return "the result"

    monkeypatch.setattr(function, "apply", classmethod(apply))
    return calls


def test_relu_module_forward_alone_calls_the_relu_function(monkeypatch):
    """Runs only exercise 6.37 (nn.ReLU.forward): its input goes through the ReLU Function (recorded here)."""
    calls = recorder(monkeypatch, ops.ReLU)
    x = Tensor(torch.tensor([[1.0, -2.0]], dtype=F64), requires_grad=True)
    result = nn.ReLU()(x)
    expect([[call[0], call[1] is x, len(call)] for call in calls], [["ReLU", True, 2]])
    expect(result, "the result")


def test_linear_module_forward_alone_calls_the_linear_function(monkeypatch):
    """Runs only exercise 6.39 (nn.Linear.forward): X, W and b go to LinearFunction (recorded here)."""
    calls = recorder(monkeypatch, F.LinearFunction)
    layer = nn.Linear(3, 2, dtype=F64)
    x = Tensor(torch.ones(4, 3, dtype=F64))
    result = layer(x)
    expect(
        [[c[0], c[1] is x, c[2] is layer.weight, c[3] is layer.bias, len(c)] for c in calls],
        [["LinearFunction", True, True, True, 4]],
    )
    expect(result, "the result")
    no_bias = nn.Linear(3, 2, bias=False, dtype=F64)
    no_bias(x)
    expect([calls[-1][2] is no_bias.weight, calls[-1][3]], [True, None])


class Step(nn.Module):
    """A module written by the test: notes its name in a log and computes 10 x + k on a plain number."""

    def __init__(self, name, k, log):
        super().__init__()
        self.name, self.k, self.log = name, k, log

    def forward(self, x):
        self.log.append(self.name)
        return 10 * x + self.k


def test_sequential_forward_alone_runs_each_module_on_the_last_output():
    """Runs only exercise 6.38 (Sequential.forward), on modules written by the test."""
    log = []
    model = nn.Sequential(Step("first", 1, log), Step("second", 2, log), Step("third", 3, log))
    expect(model(0), 123)  # ((0 * 10 + 1) * 10 + 2) * 10 + 3
    expect(log, ["first", "second", "third"])
    expect(nn.Sequential(Step("only", 5, log))(4), 45)


def test_linear_and_sequential_name_bad_arguments_and_a_seed_repeats_the_bias():
    for make, message in [
        (lambda: nn.Linear(0, 2), "Linear: in_features must be a positive integer, got 0"),
        (lambda: nn.Linear(2, 0), "Linear: out_features must be a positive integer, got 0"),
        (lambda: nn.Sequential(nn.ReLU(), 3), "Sequential takes Modules, got int at position 1"),
    ]:
        with pytest.raises((ValueError, TypeError)) as error:
            make()
        assert str(error.value) == message
    assert nn.Linear(2, 3, bias=False).bias is None
    first, second = (nn.Linear(2, 3, generator=torch.Generator().manual_seed(4)) for _ in range(2))
    assert torch.equal(first.bias.data, second.bias.data) and first.bias.data.abs().max() <= 1 / math.sqrt(2)


def test_a_parameter_assigned_twice_on_one_module_is_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = Tensor(torch.ones(2), requires_grad=True, is_parameter=True)
            self.same = self.weight

    assert [name for name, _ in Tied().named_parameters()] == ["weight"]


def test_linear_backward_alone_gives_only_the_gradients_asked_for():
    """F.linear's node: with only x requiring grad (a frozen layer) dx alone; with only the weight, dW alone."""
    x, w, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]]), torch.tensor([0.5])
    grad = torch.tensor([[2.0]])
    dx, dw, db = local_backward(F.linear(Tensor(x, requires_grad=True), Tensor(w), Tensor(b)), grad)
    assert (dx.tolist(), dw, db) == ([[6.0, -2.0]], None, None)  # G W
    dx, dw, db = local_backward(F.linear(Tensor(x), Tensor(w, requires_grad=True), Tensor(b)), grad)
    assert (dx, dw.tolist(), db) == (None, [[2.0, 4.0]], None)  # G^T X
    dx, dw, db = local_backward(F.linear(Tensor(x), Tensor(w), Tensor(b, requires_grad=True)), grad)
    assert (dx, dw, db.tolist()) == (None, None, [2.0])


# ------------------------------------------- validation (CMU HW1P1 3.1-3.3's validate), on a hand-made model


class Fixed(nn.Module):
    """A model written by the test: notes its mode, torch's grad mode and its input, and returns fixed scores."""

    def __init__(self, scores):
        super().__init__()
        self.scores, self.log = scores, []

    def forward(self, x):
        self.log.append((self.training, torch.is_grad_enabled(), x))
        return self.scores


def test_validation_accuracy_alone_on_a_hand_made_model():
    """Runs only exercise 6.44 (nn.validation_accuracy), on a model written by the test."""
    # four rows of three class scores; the largest is at [2, 0, 1, 1], the labels are [2, 0, 0, 1]: 3 of 4 right
    scores = torch.tensor([[0.1, 0.2, 0.9], [3.0, 1.0, 2.0], [0.0, 5.0, -1.0], [-2.0, -1.0, -3.0]], dtype=F64)
    y = torch.tensor([2, 0, 0, 1])
    x = torch.zeros(4, 5)
    model = Fixed(Tensor(scores))  # our Tensor: validation reads its numbers
    result = nn.validation_accuracy(model, x, y, wrap=lambda t: ("wrapped", t))
    expect([type(result), result], [float, 0.75])
    ((training, grad_enabled, seen),) = model.log
    expect([training, grad_enabled, seen[0], seen[1] is x], [False, False, "wrapped", True])  # eval, no graph
    expect(model.training, True)  # back in training mode for the next batch
    twin = Fixed(scores[:, [2, 1, 0]])  # a torch.nn twin's plain tensor, its classes reversed: 1 of 4 right
    expect(nn.validation_accuracy(twin, x, y, wrap=lambda t: t), 0.25)
    expect([twin.log[0][0], twin.log[0][2] is x, twin.training], [False, True, True])
