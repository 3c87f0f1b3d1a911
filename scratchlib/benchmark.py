r"""Time one SGD training step of a 784-256-10 MNIST MLP, ours against torch.

Every compared implementation does the same work per step: forward, backward and
update of a 784 -> 256 (ReLU) -> 10 network with softmax cross-entropy, from the same
starting weights (:func:`starting_weights`), on the same data, at the same learning rate (the tests
check that their parameters stay equal to torch's step after step). Two rows are
there for orientation, not comparison:

* ``matmul floor``: only the matrix products and bias sums of one step (forward 2 addmm;
  backward $dW_2$, $dh$, $dW_1$, $db_2$, $db_1$) into preallocated outputs; no
  activation, loss, update or bookkeeping, so no implementation can go below it;
* ``scratchlib.mlp``: notebook 03's network of the same sizes, which by design has tanh
  hidden units, a sigmoid output and an MSE loss, so it does different work.

Timings are interleaved: each repetition runs every implementation once, in a fresh
random order, so a slow patch of a shared machine hurts all of them alike; the tables
report medians of wall time and of process CPU time (a cross-check that other programs
on the machine do not inflate), and ratios to torch measured in the same run.

The command line (``make bench``, ``python benchmarks/train_step.py --help``) lives in
benchmarks/train_step.py; this module keeps the measured steps, the timing and the tables
(notebook 06 runs a small version of the same benchmark from here).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol, cast

import torch

IN, HIDDEN, OUT = 784, 256, 10
DEFAULT_LR = 0.01


def fixed_batch(
    batch_size: int, device: str | torch.device = "cpu", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch: ``x`` (B, 784) uniform in [0, 1), integer labels ``y`` (B,) in [0, 10)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch_size, IN, generator=g).to(device)
    y = torch.randint(0, OUT, (batch_size,), generator=g).to(device)
    return x, y


def starting_weights(device: str | torch.device = "cpu", seed: int = 0) -> list[torch.Tensor]:
    """One set of starting weights ``[W1, b1, W2, b2]`` for every implementation (torch layout)."""
    g = torch.Generator().manual_seed(seed)
    bound1, bound2 = 1 / IN**0.5, 1 / HIDDEN**0.5
    w1 = (torch.rand(HIDDEN, IN, generator=g) * 2 - 1) * bound1
    b1 = (torch.rand(HIDDEN, generator=g) * 2 - 1) * bound1
    w2 = (torch.rand(OUT, HIDDEN, generator=g) * 2 - 1) * bound2
    b2 = (torch.rand(OUT, generator=g) * 2 - 1) * bound2
    return [t.to(device) for t in (w1, b1, w2, b2)]


# Each factory below builds one implementation's network and returns its ``step()``, a
# closure doing one full SGD step; ``step.parameters()`` returns the current
# [W1, b1, W2, b2] as torch tensors (for the tests that compare implementations).


class Step(Protocol):
    """One full SGD step when called; ``parameters()``: the current [W1, b1, W2, b2] as torch tensors."""

    parameters: Callable[[], list[torch.Tensor]]

    def __call__(self) -> None: ...


def _step(run: Callable[[], None], parameters: Callable[[], list[torch.Tensor]]) -> Step:
    """``run`` with ``parameters`` attached: a function object takes attributes."""
    run.parameters = parameters  # type: ignore[attr-defined]  # mypy does not model attributes set on a function
    return cast(Step, run)


def torch_step(batch_size: int, device: str | torch.device = "cpu", lr: float = DEFAULT_LR) -> Step:
    """torch.nn + torch autograd + torch.optim.SGD: the reference."""
    from torch import nn

    model = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT)).to(device)
    with torch.no_grad():
        for p, w in zip(model.parameters(), starting_weights(device)):
            p.copy_(w)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = fixed_batch(batch_size, device)

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return _step(step, lambda: [p.detach() for p in model.parameters()])


def matmul_floor(batch_size: int, device: str | torch.device = "cpu", lr: float = DEFAULT_LR) -> Step:
    """The matrix products and bias sums of one step alone, into preallocated outputs."""
    w1, b1, w2, b2 = starting_weights(device)
    x, _ = fixed_batch(batch_size, device)
    g = torch.rand(batch_size, OUT, device=device)  # stands for dJ/d(logits)
    z1 = torch.empty(batch_size, HIDDEN, device=device)
    z2 = torch.empty(batch_size, OUT, device=device)
    dh = torch.empty(batch_size, HIDDEN, device=device)
    dw1, db1, dw2, db2 = (torch.empty_like(t) for t in (w1, b1, w2, b2))

    def step() -> None:
        torch.addmm(b1, x, w1.T, out=z1)  # forward, layer 1: (B, 256)
        torch.addmm(b2, z1, w2.T, out=z2)  # forward, layer 2: logits (B, 10)
        torch.mm(g.T, z1, out=dw2)  # dJ/dW2 = G^T H: (10, 256)
        torch.sum(g, 0, out=db2)  # dJ/db2: (10,)
        torch.mm(g, w2, out=dh)  # dJ/dH = G W2: (B, 256)
        torch.mm(dh.T, x, out=dw1)  # dJ/dW1 = dZ1^T X: (256, 784)
        torch.sum(dh, 0, out=db1)  # dJ/db1: (256,)

    return _step(step, lambda: [w1, b1, w2, b2])


def layers_step(batch_size: int, device: str | torch.device = "cpu", lr: float = DEFAULT_LR) -> Step:
    """scratchlib.layers on a scratchlib.layers.network tape."""
    from scratchlib.layers import Input, Linear, Network, ReLU, SoftmaxCrossEntropy

    x, y = fixed_batch(batch_size, device)
    net = Network()
    x_in = net.add(Input((batch_size, IN)).set(x))
    target = net.add(Input((batch_size,), dtype=y.dtype).set(y))
    w1, b1, w2, b2 = (net.add(Input(tuple(v.shape), train=True).set(v)) for v in starting_weights(device))
    hidden = net.add(ReLU(net.add(Linear(x_in, w1, b1))))
    net.add(SoftmaxCrossEntropy(net.add(Linear(hidden, w2, b2)), target))

    def step() -> None:
        net.clear_grad()
        net.forward()
        net.backward()
        net.step(lr)

    # a Layer's output is typed Tensor | None (None before its first forward); an Input holds its tensor from set()
    return _step(step, lambda: cast("list[torch.Tensor]", [p.output for p in (w1, b1, w2, b2)]))


def autograd_step(batch_size: int, device: str | torch.device = "cpu", lr: float = DEFAULT_LR) -> Step:
    """scratchlib.autograd: our engine with its nn and optim."""
    from scratchlib.autograd import Tensor, nn, optim

    model = nn.Sequential(nn.Linear(IN, HIDDEN, device=device), nn.ReLU(), nn.Linear(HIDDEN, OUT, device=device))
    for p, w in zip(model.parameters(), starting_weights(device)):
        p.data.copy_(w)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=lr)
    x, y = (Tensor(t) for t in fixed_batch(batch_size, device))

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return _step(step, lambda: [p.data for p in model.parameters()])


def mlp_step(batch_size: int, device: str | torch.device = "cpu", lr: float = DEFAULT_LR) -> Step:
    """scratchlib.mlp: tanh hidden layer, sigmoid output, MSE against one-hot targets (by design)."""
    from scratchlib.mlp import NeuralNetwork

    net = NeuralNetwork(IN, OUT, [HIDDEN])
    w1, b1, w2, b2 = starting_weights(device)
    for layer, (w, b) in zip(net.layers, ((w1, b1), (w2, b2))):
        layer.linear.weight, layer.linear.bias = w, b
    x, y = fixed_batch(batch_size, device)
    onehot = torch.nn.functional.one_hot(y, OUT).to(x.dtype)

    def step() -> None:
        net.backward(x, onehot)
        net.step(lr)

    return _step(step, lambda: [t for layer in net.layers for t in (layer.linear.weight, layer.linear.bias)])


IMPLEMENTATIONS = {
    "torch": torch_step,
    "matmul floor": matmul_floor,
    "scratchlib.layers": layers_step,
    "scratchlib.autograd": autograd_step,
    "scratchlib.mlp": mlp_step,
}
LABELS = {  # what the table prints: a row that does other work says so
    "torch": "torch (nn+autograd+SGD)",
    "matmul floor": "matmul floor (no update)",
    "scratchlib.mlp": "scratchlib.mlp (tanh/sigm/MSE)",
}
NOTE = (
    "matmul floor: the step's 5 matrix products and 2 bias sums alone; scratchlib.mlp: "
    "notebook 03's network (tanh, sigmoid output, MSE), other work than the rest."
)


class Timing(NamedTuple):
    """Seconds per step by the wall clock and in CPU time of this process (all its threads)."""

    wall: float
    cpu: float


def sync(device: str | torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; the CPU needs nothing)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(step: Callable[[], None], device: str | torch.device = "cpu", min_seconds: float = 0.02) -> Timing:
    """Time per step: run 1, 2, 4, ... steps until ``min_seconds`` of wall time have passed."""
    steps = 0
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    while True:
        step()
        steps += 1
        if steps & (steps - 1) == 0:  # check the clock at powers of two only
            sync(device)
            elapsed = time.perf_counter() - wall
            if elapsed >= min_seconds:
                return Timing(elapsed / steps, (time.process_time() - cpu) / steps)


def measure(
    batch_sizes: list[int],
    names: list[str],
    device: str | torch.device = "cpu",
    repeats: int = 15,
    min_seconds: float = 0.02,
    seed: int = 0,
    log: Callable[[str], object] | None = None,
) -> dict[tuple[str, int], Timing]:
    """Median :class:`Timing` for each (implementation name, batch size), interleaved."""
    rng = random.Random(seed)
    results = {}
    for batch_size in batch_sizes:
        steps = {name: IMPLEMENTATIONS[name](batch_size, device) for name in names}
        for step in steps.values():  # warm up: first calls allocate and pick kernels
            for _ in range(3):
                step()
        samples: dict[str, list[Timing]] = {name: [] for name in steps}
        for _ in range(repeats):
            order = list(steps)
            rng.shuffle(order)
            for name in order:
                samples[name].append(time_steps(steps[name], device, min_seconds))
        for name, values in samples.items():
            results[name, batch_size] = Timing(
                statistics.median(v.wall for v in values), statistics.median(v.cpu for v in values)
            )
        if log:
            log(f"batch {batch_size} done")
    return results


def table(
    results: dict[tuple[str, int], Timing], batch_sizes: list[int], names: list[str], clock: str = "wall"
) -> list[dict]:
    """Rows ``{"implementation", "ms@B", "ratio@B"}`` for one clock ("wall" or "cpu")."""
    rows = []
    for name in names:
        row = {"implementation": name}
        for b in batch_sizes:
            if (name, b) in results:
                ours, theirs = getattr(results[name, b], clock), getattr(results["torch", b], clock)
                row[f"ms@{b}"] = ours * 1e3
                row[f"ratio@{b}"] = ours / theirs
        rows.append(row)
    return rows


def format_table(rows: list[dict], batch_sizes: list[int]) -> str:
    """The rows as text: milliseconds per step and, in brackets, the ratio to torch."""
    width = max(len(LABELS.get(r["implementation"], r["implementation"])) for r in rows) + 2
    head = f"{'implementation':<{width}}" + "".join(f"{'batch ' + str(b):>18}" for b in batch_sizes)
    lines = [head, f"{'':<{width}}" + "".join(f"{'ms (x torch)':>18}" for _ in batch_sizes)]
    for row in rows:
        cells = [
            f"{row[f'ms@{b}']:.3f} ({row[f'ratio@{b}']:.2f}x)".rjust(18) if f"ms@{b}" in row else "-".rjust(18)
            for b in batch_sizes
        ]
        lines.append(f"{LABELS.get(row['implementation'], row['implementation']):<{width}}" + "".join(cells))
    return "\n".join(lines)
