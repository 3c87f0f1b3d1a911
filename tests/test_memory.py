"""Training does not grow memory: no graph kept alive between steps, no history of tensors."""

import collections
import gc
import os

import pytest
import torch

from scratchlib.autograd import Tensor, nn, optim
from scratchlib.autograd.function import AccumulateGrad, Context
from scratchlib.layers import mlp

WATCHED = (torch.Tensor, Tensor, Context, AccumulateGrad)
PAGE = os.sysconf("SC_PAGE_SIZE")
# small, but wide enough that one kept hidden activation per step (BATCH x HIDDEN float32,
# 64 KiB) would add 62.5 MiB over 1000 steps
IN, HIDDEN, OUT, BATCH = 32, 256, 10, 64


def _live() -> collections.Counter:
    """Live objects of the watched types, WITHOUT a garbage collection first: what reference
    counting alone frees (a graph kept alive by a cycle would pile up between collections)."""
    return collections.Counter(
        f"{type(o).__module__}.{type(o).__name__}" for o in gc.get_objects() if type(o) in WATCHED
    )


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _layers_step():
    g = torch.Generator().manual_seed(0)
    net = mlp([IN, HIDDEN, OUT], batch_size=BATCH, generator=g)
    net.x.set(torch.randn(BATCH, IN, generator=g))
    net.target.set(torch.randint(0, OUT, (BATCH,), generator=g))

    def step():
        net.clear_grad()
        net.forward()
        net.backward()
        net.step(0.1)

    step.net = net
    return step


def _engine_step():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Linear(IN, HIDDEN, generator=g), nn.ReLU(), nn.Linear(HIDDEN, OUT, generator=g))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = Tensor(torch.randn(BATCH, IN, generator=g)), Tensor(torch.randint(0, OUT, (BATCH,), generator=g))

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


@pytest.fixture
def one_thread():
    """Tiny matrices: one thread avoids waiting for a second one on a busy machine (speed only)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("make_step", [_layers_step, _engine_step], ids=["layers", "autograd"])
def test_a_thousand_steps_do_not_grow_memory(make_step, one_thread):
    step = make_step()
    for _ in range(50):  # warm-up: buffers, optimizer state, allocator caches
        step()
    gc.collect()
    gc.disable()  # count what reference counting frees on its own
    try:
        before = _live()  # first: the pages of gc's object list count in both RSS readings
        rss_before = _rss()
        for _ in range(1000):
            step()
        after = _live()
        rss_after = _rss()
    finally:
        gc.enable()
    assert after == before, (before, after)  # exactly the same objects alive: nothing accumulates
    # measured: RSS grows by 0 to 0.25 MiB per 1000 steps here, and not at all after the
    # first 2000 (allocator warm-up); one kept activation per step would add 62.5 MiB
    assert rss_after - rss_before < 8 * 2**20, (rss_before, rss_after)


def test_the_counter_sees_kept_graphs_and_tensors():
    """The check above would fail if steps kept their graphs or their tensors (e.g. a list of losses)."""
    model = nn.Linear(IN, OUT)
    x = Tensor(torch.randn(BATCH, IN))
    before = _live()
    kept = [model(x).relu().sum() for _ in range(10)]  # each loss keeps its graph alive
    after = _live()
    assert after["scratchlib.autograd.function.Context"] - before["scratchlib.autograd.function.Context"] == 30
    step, net_losses = _layers_step(), []
    step()
    before = _live()
    for _ in range(10):
        step()
        net_losses.append(step.net.loss.output)  # a history of the library's loss tensors
    after = _live()
    # ten kept losses, one of which is the loss layer's current output (alive before, too)
    assert after["torch.Tensor"] - before["torch.Tensor"] == 9
    assert len(kept) == len(net_losses) == 10


def test_clear_grad_lets_go_of_every_gradient():
    # as torch's zero_grad: grad becomes None, so a gradient never lives twice (the last step's and
    # the one being computed); reference counting alone frees it
    import weakref

    step = _layers_step()
    step()
    net = step.net
    W1 = net.weights[0]
    last_steps = weakref.ref(W1.grad)
    net.clear_grad()
    gc.disable()
    try:
        assert last_steps() is None and all(layer.grad is None for layer in net.layers)
    finally:
        gc.enable()
    net.forward()
    net.backward()
    # ... and the next backward's gradient is the real one: torch autograd on the same numbers
    W, b, W2, b2 = (p.output.clone().requires_grad_() for p in net.parameters())
    logits = torch.relu(net.x.output @ W.T + b) @ W2.T + b2
    torch.nn.functional.cross_entropy(logits, net.target.output).backward()
    torch.testing.assert_close(W1.grad, W.grad, rtol=0, atol=1e-7)  # float32; seen: 3.7e-9
