"""Small data sets for the course, and a mini-batch iterator.

Every generator takes a ``seed`` and draws from its own ``torch.Generator``, so a
data set is the same on every run and never disturbs the global random state.
Inputs are rows (batch first): ``x`` has shape (n, features).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from scratchlib.course import validate

#: The target of the linear data set: a rotation by 90 degrees, y = R x.
ROTATION = torch.tensor([[0.0, -1.0], [1.0, 0.0]])


def _generator(where: str, seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(validate.seed(where, seed))


def create_linear_training_data(n: int = 1000, noise: float = 0.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Points rotated by 90 degrees: $y = x R^\top$ with $R = [[0, -1], [1, 0]]$.

    Returns ``x`` of shape (n, 2), standard normal, and ``y`` of shape (n, 2), with
    Gaussian noise of standard deviation ``noise`` added to ``y``.
    """
    n = validate.count("create_linear_training_data", "n", n)
    noise = validate.non_negative("create_linear_training_data", "noise", noise)
    g = _generator("create_linear_training_data", seed)
    x = torch.randn(n, 2, generator=g)
    y = x @ ROTATION.T
    if noise:
        y = y + noise * torch.randn(n, 2, generator=g)
    return x, y


def five_points() -> tuple[torch.Tensor, torch.Tensor]:
    """The five-points set: the origin (class 1) surrounded by four points (class 0).

    Returns ``x`` float of shape (5, 2) and integer labels ``y`` of shape (5,).
    No straight line separates it, so it needs a hidden layer.
    """
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([1, 0, 0, 0, 0])
    return x, y


def xor(n: int = 200, noise: float = 0.15, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Four clusters at (+-1, +-1); the label is 1 where the two signs differ."""
    n = validate.count("xor", "n", n)
    noise = validate.non_negative("xor", "noise", noise)
    g = _generator("xor", seed)
    corners = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    which = torch.arange(n) % 4
    x = corners[which] + noise * torch.randn(n, 2, generator=g)
    y = (which >= 2).long()
    return x, y


def circles(n: int = 200, noise: float = 0.08, factor: float = 0.5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two concentric circles: the outer (radius 1) is class 0, the inner (radius ``factor``) class 1."""
    n = validate.count("circles", "n", n)
    factor = validate.number("circles", "factor", factor, low=0, high=1, low_open=True, high_open=True)
    noise = validate.non_negative("circles", "noise", noise)
    g = _generator("circles", seed)
    y = (torch.arange(n) % 2).long()
    angle = 2 * math.pi * torch.rand(n, generator=g)
    radius = torch.where(y == 1, factor, 1.0)
    x = radius[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)
    x = x + noise * torch.randn(n, 2, generator=g)
    return x, y


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``classes`` interleaved spiral arms with ``n`` points in all (as evenly split as possible).

    Arm k turns from the centre outwards; ``noise`` jitters the angle (in radians).
    """
    n = validate.count("spirals", "n", n)
    classes = validate.count("spirals", "classes", classes)
    noise = validate.non_negative("spirals", "noise", noise)
    g = _generator("spirals", seed)
    y = (torch.arange(n) % classes).long()
    # position along the arm, 0 at the centre and 1 at the tip
    t = torch.rand(n, generator=g)
    angle = 4.0 * t + y * (2 * math.pi / classes) + noise * torch.randn(n, generator=g)
    x = t[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)
    return x, y


def batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x_batch, y_batch)`` pairs covering every row once; the last batch may be smaller.

    With ``shuffle`` the order is a fresh permutation drawn from ``generator`` on each call.
    """
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"batches: {name} must be a tensor (torch.tensor({name}) makes one), got {type(value).__name__}"
            )
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same number of rows, got {len(x)} and {len(y)}")
    batch_size = validate.count("batches", "batch_size", batch_size)
    generator = validate.generator("batches", generator)
    n = len(x)
    if shuffle:
        order = torch.randperm(n, generator=generator, device=x.device if generator is None else "cpu")
        order = order.to(x.device)
    else:
        order = torch.arange(n, device=x.device)
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        yield x[rows], y[rows]
