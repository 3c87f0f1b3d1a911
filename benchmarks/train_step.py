"""Time one SGD training step of a 784-256-10 MNIST MLP, ours against torch.

Every implementation does the same work per step: forward, backward, update of a
784 -> 256 (ReLU) -> 10 network with softmax cross-entropy (scratchlib.mlp, which
has tanh hidden units, a sigmoid output and MSE by design, is timed on its own
network of the same sizes). Timings are interleaved: each repetition runs every
implementation once, in a fresh random order, so a slow patch of the machine hurts
all of them alike; the table reports medians and ratios to torch measured in this
run.

    python benchmarks/train_step.py [--batch-sizes 1 10 100 1000] [--device cpu]
                                    [--repeats 15] [--csv build/bench.csv]
"""
from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

IN, HIDDEN, OUT = 784, 256, 10


def _data(batch_size: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch_size, IN, generator=g).to(device)
    y = torch.randint(0, OUT, (batch_size,), generator=g).to(device)
    return x, y


def _init(device: str, seed: int = 0):
    """One set of starting weights shared by every implementation (torch layout)."""
    g = torch.Generator().manual_seed(seed)
    bound1, bound2 = 1 / IN ** 0.5, 1 / HIDDEN ** 0.5
    w1 = (torch.rand(HIDDEN, IN, generator=g) * 2 - 1) * bound1
    b1 = (torch.rand(HIDDEN, generator=g) * 2 - 1) * bound1
    w2 = (torch.rand(OUT, HIDDEN, generator=g) * 2 - 1) * bound2
    b2 = (torch.rand(OUT, generator=g) * 2 - 1) * bound2
    return [t.to(device) for t in (w1, b1, w2, b2)]


def torch_step(batch_size: int, device: str, lr: float = 0.01) -> Callable[[], None]:
    """torch.nn + autograd + torch.optim.SGD: the reference."""
    from torch import nn

    model = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT)).to(device)
    with torch.no_grad():
        for p, w in zip(model.parameters(), _init(device)):
            p.copy_(w)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = _data(batch_size, device)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def matmul_floor(batch_size: int, device: str, lr: float = 0.01) -> Callable[[], None]:
    """The matrix products of one step alone: no loss, no activation, no bookkeeping."""
    w1, b1, w2, b2 = _init(device)
    x, _ = _data(batch_size, device)
    g2 = torch.rand(batch_size, OUT, device=device)

    def step():
        h = torch.addmm(b1, x, w1.T)          # forward, layer 1
        torch.addmm(b2, h, w2.T)              # forward, layer 2
        dh = g2 @ w2                          # backward into the hidden layer
        w2.sub_(g2.T @ h, alpha=lr)           # dW2, update
        w1.sub_(dh.T @ x, alpha=lr)           # dW1, update
    return step


def layers_step(batch_size: int, device: str, lr: float = 0.01) -> Callable[[], None]:
    """scratchlib.layers on a scratchlib.network tape."""
    from scratchlib.layers import Input, Linear, ReLU, SoftmaxCrossEntropy
    from scratchlib.network import Network

    w1, b1, w2, b2 = _init(device)
    x, y = _data(batch_size, device)
    net = Network()
    x_in = net.add(Input((batch_size, IN)))
    target = net.add(Input((batch_size,)))
    params = []
    for value in (w1, b1, w2, b2):
        p = net.add(Input(tuple(value.shape), train=True))
        p.set(value)
        params.append(p)
    x_in.set(x)
    target.set(y)
    hidden = net.add(ReLU(net.add(Linear(x_in, params[0], params[1]))))
    net.add(SoftmaxCrossEntropy(net.add(Linear(hidden, params[2], params[3])), target))

    def step():
        net.clear_grad()
        net.forward()
        net.backward()
        net.step(lr)
    return step


def mlp_step(batch_size: int, device: str, lr: float = 0.01) -> Callable[[], None]:
    """scratchlib.mlp: whole-network backprop (tanh hidden, sigmoid output, MSE)."""
    from scratchlib.mlp import NeuralNetwork, train

    net = NeuralNetwork(IN, OUT, [HIDDEN])
    for layer in net.layers:
        layer.linear.weight = layer.linear.weight.to(device)
        layer.linear.bias = layer.linear.bias.to(device)
    x, y = _data(batch_size, device)
    onehot = torch.nn.functional.one_hot(y, OUT).to(x.dtype)

    def step():
        train(x, onehot, net, epochs=1, lr=lr)
    return step


def autograd_step(batch_size: int, device: str, lr: float = 0.01) -> Callable[[], None]:
    """scratchlib.autograd: our engine with its nn and optim."""
    from scratchlib.autograd import Tensor, nn, optim

    model = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT))
    for p, w in zip(model.parameters(), _init(device)):
        p.data = w
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=lr)
    x, y = _data(batch_size, device)
    x, y = Tensor(x), Tensor(y)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


IMPLEMENTATIONS = {
    "torch": torch_step,
    "matmul floor": matmul_floor,
    "scratchlib.layers": layers_step,
    "scratchlib.mlp": mlp_step,
    "scratchlib.autograd": autograd_step,
}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(step: Callable[[], None], device: str, min_seconds: float) -> float:
    """Seconds per step: run batches of steps until ``min_seconds`` have passed."""
    steps, start = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        if steps & (steps - 1) == 0:  # check the clock at powers of two only
            _sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return elapsed / steps


def measure(batch_sizes, names, device="cpu", repeats=15, min_seconds=0.02, seed=0):
    """Median seconds per step for each (implementation, batch size), interleaved."""
    rng = random.Random(seed)
    results = {}
    for batch_size in batch_sizes:
        steps = {}
        for name in names:
            try:
                steps[name] = IMPLEMENTATIONS[name](batch_size, device)
            except ImportError as error:  # a part of the course not written yet
                print(f"skipping {name}: {error}", file=sys.stderr)
        for step in steps.values():  # warm up: first calls allocate and pick kernels
            for _ in range(3):
                step()
        samples = {name: [] for name in steps}
        for _ in range(repeats):
            order = list(steps)
            rng.shuffle(order)
            for name in order:
                samples[name].append(time_steps(steps[name], device, min_seconds))
        for name, values in samples.items():
            results[name, batch_size] = statistics.median(values)
    return results


def table(results, batch_sizes, names) -> list[dict]:
    rows = []
    for name in names:
        row = {"implementation": name}
        for b in batch_sizes:
            if (name, b) in results:
                ms = results[name, b] * 1e3
                row[f"ms@{b}"] = ms
                row[f"ratio@{b}"] = results[name, b] / results["torch", b]
        rows.append(row)
    return rows


def format_table(rows, batch_sizes) -> str:
    head = f"{'implementation':<22}" + "".join(f"{'batch ' + str(b):>20}" for b in batch_sizes)
    lines = [head, f"{'':<22}" + "".join(f"{'ms (x torch)':>20}" for _ in batch_sizes)]
    for row in rows:
        cells = []
        for b in batch_sizes:
            if f"ms@{b}" in row:
                cells.append(f"{row[f'ms@{b}']:.3f} ({row[f'ratio@{b}']:.2f}x)".rjust(20))
            else:
                cells.append("-".rjust(20))
        lines.append(f"{row['implementation']:<22}" + "".join(cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--min-seconds", type=float, default=0.02)
    parser.add_argument("--only", nargs="+", choices=list(IMPLEMENTATIONS), default=list(IMPLEMENTATIONS))
    parser.add_argument("--csv", type=Path, default=Path("build/bench.csv"))
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here")
    names = ["torch"] + [n for n in args.only if n != "torch"]
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"{args.repeats} interleaved repetitions, medians")
    results = measure(args.batch_sizes, names, args.device, args.repeats, args.min_seconds)
    rows = table(results, args.batch_sizes, [n for n in names if any((n, b) in results for b in args.batch_sizes)])
    print(format_table(rows, args.batch_sizes))
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["implementation"] + [f"{k}@{b}" for b in args.batch_sizes
                                                                    for k in ("ms", "ratio")])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
