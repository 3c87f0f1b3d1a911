"""Pictures of what the networks learn. Every function returns its matplotlib Axes.

Nothing here calls ``plt.show()``: in a notebook the figure appears at the end of
the cell, and in tests (Agg backend) nothing is shown at all.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch


def _axes(ax, figsize=(5, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def class_predictions(scores: torch.Tensor) -> torch.Tensor:
    """Class labels from a model's output.

    ``(n, C)`` with C > 1 are class scores (logits or probabilities): the argmax wins.
    ``(n,)`` or ``(n, 1)`` are the probability of class 1: class 1 where it exceeds 0.5.
    """
    scores = torch.as_tensor(scores).detach()
    if scores.dim() == 2 and scores.shape[1] > 1:
        return scores.argmax(dim=1)
    return (scores.reshape(-1) > 0.5).long()


def decision_grid(x: torch.Tensor, resolution: int = 200, padding: float = 0.25):
    """A (resolution * resolution, 2) grid of points covering ``x`` with a margin."""
    x = torch.as_tensor(x, dtype=torch.float64)
    low, high = x.min(dim=0).values, x.max(dim=0).values
    margin = padding * (high - low).clamp(min=1.0)
    u = torch.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    v = torch.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    uu, vv = torch.meshgrid(u, v, indexing="xy")
    return uu, vv, torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=1)


def plot_decision_boundary(predict: Callable[[torch.Tensor], torch.Tensor], x, y, ax=None,
                           resolution: int = 200, title: str | None = None):
    """Shade the plane by the class ``predict`` gives each point; draw the data on top.

    ``predict`` maps a float tensor of shape (m, 2) to class scores (m, C) or to the
    probability of class 1, (m,) or (m, 1) (see :func:`class_predictions`).
    """
    x = torch.as_tensor(x).detach().cpu()
    y = torch.as_tensor(y).detach().cpu().reshape(-1)
    if x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points of shape (n, 2), got {tuple(x.shape)}")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)} labels")
    ax = _axes(ax)
    uu, vv, grid = decision_grid(x, resolution)
    with torch.no_grad():
        scores = predict(grid.to(x.dtype))
    classes = class_predictions(torch.as_tensor(scores).cpu()).reshape(uu.shape)
    n_classes = int(max(classes.max().item(), y.max().item())) + 1
    cmap = plt.get_cmap("tab10")
    levels = [c - 0.5 for c in range(n_classes + 1)]
    ax.contourf(uu.numpy(), vv.numpy(), classes.numpy(), levels=levels,
                colors=[cmap(c) for c in range(n_classes)], alpha=0.25)
    for c in range(n_classes):
        rows = y == c
        if rows.any():
            ax.scatter(x[rows, 0].numpy(), x[rows, 1].numpy(), color=cmap(c), edgecolor="black",
                       linewidth=0.5, s=30, label=f"class {c}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title)
    return ax


def plot_losses(losses: Sequence[float] | Mapping[str, Sequence[float]], ax=None,
                log: bool = True, xlabel: str = "step", title: str | None = None):
    """Loss curves: one sequence, or a mapping from label to sequence (one line each)."""
    ax = _axes(ax)
    curves = losses if isinstance(losses, Mapping) else {"loss": losses}
    for label, values in curves.items():
        values = [float(v) for v in values]
        ax.plot(range(len(values)), values, label=str(label))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    if len(curves) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return ax
