"""SGD with momentum (scratchlib.autograd.optim) against torch.optim.SGD."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograd_parity import assert_close
from scratchlib.autograd import Tensor, optim

F64 = torch.float64


def test_sgd_with_momentum_by_hand():
    # p0 = [1, -2], lr 0.5, momentum 0.9, gradients g1 = [2, 4], g2 = [-1, 1]:
    # v1 = g1 = [2, 4], p1 = p0 - 0.5 v1 = [0, -4]
    # v2 = 0.9 v1 + g2 = [0.8, 4.6], p2 = p1 - 0.5 v2 = [-0.4, -6.3]
    p = Tensor(torch.tensor([1.0, -2.0], dtype=F64), requires_grad=True, is_parameter=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = torch.tensor([2.0, 4.0], dtype=F64)
    opt.step()
    assert_close(p, torch.tensor([0.0, -4.0], dtype=F64))
    p.grad = torch.tensor([-1.0, 1.0], dtype=F64)
    opt.step()
    assert_close(p, torch.tensor([-0.4, -6.3], dtype=F64))
    assert p.is_leaf and p.grad_fn is None  # the update never entered the graph


@given(momentum=st.sampled_from([0.0, 0.5, 0.9]), lr=st.sampled_from([0.01, 0.3]), seed=st.integers(0, 2**31 - 1))
def test_sgd_matches_torch_over_several_steps(momentum, lr, seed):
    g = torch.Generator().manual_seed(seed)
    start = [torch.randn(3, 2, dtype=F64, generator=g), torch.randn(4, dtype=F64, generator=g)]
    ours = [Tensor(s.clone(), requires_grad=True, is_parameter=True) for s in start]
    refs = [s.clone().requires_grad_(True) for s in start]
    opt, ref_opt = optim.SGD(ours, lr=lr, momentum=momentum), torch.optim.SGD(refs, lr=lr, momentum=momentum)
    for _ in range(4):
        for p, q in zip(ours, refs):
            q.grad = torch.randn(q.shape, dtype=F64, generator=g)
            p.grad = q.grad.clone()
        opt.step()
        ref_opt.step()
        for p, q in zip(ours, refs):
            assert_close(p, q)


def test_zero_grad_and_parameters_without_gradients():
    a = Tensor(torch.ones(2), requires_grad=True)
    b = Tensor(torch.ones(2), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    (a * 3.0).sum().backward()
    opt.step()  # b has no gradient: left alone
    assert torch.allclose(a.data, torch.full((2,), 0.7)) and torch.equal(b.data, torch.ones(2))
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_sgd_rejects_bad_settings():
    p = Tensor(torch.ones(2), requires_grad=True)
    for lr in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lr must be a positive finite number"):
            optim.SGD([p], lr=lr)
    with pytest.raises(ValueError, match="momentum must be a non-negative number"):
        optim.SGD([p], lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="scratchlib Tensors, got Tensor at position 0"):
        optim.SGD([torch.ones(2)], lr=0.1)
