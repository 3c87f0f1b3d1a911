"""SGD with momentum, Adam and AdamW (scratchlib.autograd.optim) against torch.optim."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograd_parity import ATOL, RTOL
from expect import expect
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
    expect(p, torch.tensor([0.0, -4.0], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    p.grad = torch.tensor([-1.0, 1.0], dtype=F64)
    opt.step()
    expect(p, torch.tensor([-0.4, -6.3], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
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
            expect(p, q, atol=ATOL, rtol=RTOL, dtype=True)


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
    with pytest.raises(TypeError, match="SGD: lr must be a number, got str"):
        optim.SGD([p], lr="0.1")
    with pytest.raises(ValueError, match=re.escape("SGD: momentum must be a finite number >= 0, got -0.5")):
        optim.SGD([p], lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="scratchlib Tensors, got Tensor at position 0"):
        optim.SGD([torch.ones(2)], lr=0.1)


def test_sgd_accepts_numpy_and_tensor_numbers():
    p = Tensor(torch.ones(2), requires_grad=True)
    assert optim.SGD([p], lr=np.float32(0.5), momentum=np.float64(0.9)).lr == 0.5
    assert optim.SGD([p], lr=torch.tensor(0.25)).lr == 0.25


def test_adam_by_hand():
    # p0 = [1, -2], lr 0.1, betas (0.5, 0.75), eps ~ 0, g1 = [2, -4]:
    # m1 = 0.5 g1 = [1, -2], v1 = 0.25 g1^2 = [1, 4]; m^ = m1 / 0.5 = g1, v^ = v1 / 0.25 = g1^2,
    # so the first step is lr * sign(g1): p1 = [0.9, -1.9] (the bias correction at work).
    # g2 = [1, 1]: m2 = [0.5 + 0.5, -1 + 0.5] = [1, -0.5], v2 = [0.75 + 0.25, 3 + 0.25] = [1, 3.25];
    # m^ = m2 / 0.75 = [4/3, -2/3], v^ = v2 / 0.4375 = [16/7, 52/7]; p2 = p1 - 0.1 m^ / sqrt(v^)
    p = Tensor(torch.tensor([1.0, -2.0], dtype=F64), requires_grad=True, is_parameter=True)
    opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=1e-300)  # eps ~ 0: the hand numbers stay exact
    p.grad = torch.tensor([2.0, -4.0], dtype=F64)
    opt.step()
    expect(p, torch.tensor([0.9, -1.9], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)
    p.grad = torch.tensor([1.0, 1.0], dtype=F64)
    opt.step()
    step = torch.tensor([(4 / 3) / (16 / 7) ** 0.5, (-2 / 3) / (52 / 7) ** 0.5], dtype=F64)
    expect(p, torch.tensor([0.9, -1.9], dtype=F64) - 0.1 * step, atol=ATOL, rtol=RTOL, dtype=True)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@given(
    lr=st.sampled_from([1e-3, 0.05]),
    betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)]),
    weight_decay=st.sampled_from([0.0, 0.01, 0.5]),
    seed=st.integers(0, 2**31 - 1),
)
def test_adam_and_adamw_match_torch_after_20_steps(name, lr, betas, weight_decay, seed):
    g = torch.Generator().manual_seed(seed)
    start = [torch.randn(3, 2, dtype=F64, generator=g), torch.randn(4, dtype=F64, generator=g)]
    ours = [Tensor(s.clone(), requires_grad=True, is_parameter=True) for s in start]
    refs = [s.clone().requires_grad_(True) for s in start]
    settings = dict(lr=lr, betas=betas, weight_decay=weight_decay)
    opt, ref_opt = getattr(optim, name)(ours, **settings), getattr(torch.optim, name)(refs, **settings)
    for step in range(20):
        for i, (p, q) in enumerate(zip(ours, refs)):
            # the second parameter misses every third step: its step count must wait, as torch's does
            q.grad = None if i == 1 and step % 3 == 2 else torch.randn(q.shape, dtype=F64, generator=g)
            p.grad = None if q.grad is None else q.grad.clone()
        opt.step()
        ref_opt.step()
    for p, q in zip(ours, refs):
        expect(p.data, q.detach(), atol=1e-8, dtype=True)


def test_adamw_decays_the_weights_directly():
    # with a zero gradient Adam's moments stay 0 and only the decay acts: p <- p (1 - lr wd)
    p = Tensor(torch.tensor([2.0, -4.0], dtype=F64), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros(2, dtype=F64)
    opt.step()
    expect(p, torch.tensor([1.9, -3.8], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_rejects_bad_settings_before_keeping_anything(name):
    p = Tensor(torch.ones(2), requires_grad=True)
    Adam = getattr(optim, name)
    for kwargs, error, message in [
        (dict(lr=0.0), ValueError, "lr must be a positive finite number, got 0.0"),
        (dict(lr=-1e-3), ValueError, "lr must be a positive finite number"),
        (dict(betas=(1.0, 0.999)), ValueError, "betas[0] must be in [0, 1), got 1.0"),
        (dict(betas=(0.9, -0.1)), ValueError, "betas[1] must be in [0, 1), got -0.1"),
        (dict(betas=0.9), TypeError, "betas must be a pair (beta1, beta2), got 0.9"),
        (dict(eps=0.0), ValueError, "eps must be a positive finite number"),
        (dict(weight_decay=-0.1), ValueError, "weight_decay must be a finite number >= 0"),
        (dict(lr="0.1"), TypeError, "lr must be a number, got str"),
    ]:
        with pytest.raises(error, match=re.escape(f"{name}: {message}")):
            Adam([p], **kwargs)
    with pytest.raises(ValueError, match=f"{name} got an empty parameter list"):
        Adam([])
    assert Adam([p], lr=np.float32(0.5), betas=(np.float64(0.5), 0.9)).betas == (0.5, 0.9)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_defaults_are_torchs_and_a_parameter_without_gradient_waits(name):
    """torch's defaults (lr 1e-3, AdamW's decay 1e-2); a parameter without a gradient is skipped, the
    ones after it still move."""
    idle, moving = Tensor(torch.ones(2), requires_grad=True), Tensor(torch.ones(2), requires_grad=True)
    opt = getattr(optim, name)([idle, moving])
    assert (opt.lr, opt.weight_decay) == (1e-3, 1e-2 if name == "AdamW" else 0.0)
    moving.grad = torch.tensor([1.0, -1.0])
    opt.step()
    ref = torch.ones(2, requires_grad=True)
    ref.grad = torch.tensor([1.0, -1.0])
    getattr(torch.optim, name)([ref]).step()
    assert idle.data.tolist() == [1.0, 1.0] and opt.steps == [0, 1]
    assert torch.allclose(moving.data, ref.detach(), rtol=0, atol=1e-7)


def test_sgd_is_plain_by_default_and_a_parameter_without_gradient_waits():
    idle, moving = Tensor(torch.ones(2), requires_grad=True), Tensor(torch.ones(2), requires_grad=True)
    opt = optim.SGD([idle, moving], lr=0.5)
    for _ in range(2):
        moving.grad = torch.tensor([1.0, -1.0])
        opt.step()  # no momentum: the same step twice
    assert idle.data.tolist() == [1.0, 1.0] and moving.data.tolist() == [0.0, 2.0]
