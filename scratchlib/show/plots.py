"""Charts of what the networks learn. Every function returns its matplotlib Axes or Figure.

The graphs themselves (a Network's tape, the engine's graph) are drawn by
:mod:`scratchlib.show.draw`, which sits above the libraries; this module is at the bottom.

Nothing here calls ``plt.show()``: in a notebook the figure appears at the end of
the cell, and in tests (Agg backend) nothing is shown at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from scratchlib.course import validate


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


def class_colours(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours, one per class, class k's the same whatever ``n``: tab10's ten, then
    tab20's ten light shades, then hues spread evenly around the colour wheel."""
    n = validate.count("class_colours", "n", n, minimum=0)
    tab10, tab20, extra = plt.get_cmap("tab10"), plt.get_cmap("tab20"), max(0, n - 20)
    colours = [tab10(c) for c in range(10)] + [tab20(2 * c + 1) for c in range(10)]
    return (colours + [plt.get_cmap("hsv")(k / extra) for k in range(extra)])[:n]


def decision_grid(
    x: torch.Tensor, resolution: int = 200, padding: float = 0.25
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A (resolution * resolution, 2) grid of points covering ``x`` with a margin."""
    x = torch.as_tensor(x, dtype=torch.float64)
    low, high = x.min(dim=0).values, x.max(dim=0).values
    margin = padding * (high - low).clamp(min=1.0)
    u = torch.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    v = torch.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    uu, vv = torch.meshgrid(u, v, indexing="xy")
    return uu, vv, torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=1)


def _checked_scores(scores: object, points: int) -> torch.Tensor:
    """``predict``'s answer for the grid: one finite row per point (an argmax of NaN or a NaN > 0.5
    would shade the plane with a class the model never chose)."""
    scores = torch.as_tensor(scores).detach().cpu()
    if scores.dim() == 0 or len(scores) != points or (scores.dim() == 2 and scores.shape[1] == 0) or scores.dim() > 2:
        raise ValueError(
            f"plot_decision_boundary: predict must return one row per point: given ({points}, 2) points, "
            f"(m, C) scores or (m,) probabilities, got shape {tuple(scores.shape)}"
        )
    if scores.is_floating_point():
        bad = int((~torch.isfinite(scores)).reshape(points, -1).any(dim=1).sum())
        if bad:
            raise ValueError(
                f"plot_decision_boundary: predict returned NaN or inf for {bad} of the {points} grid points; "
                "its classes there are undefined, so there is nothing to shade (has training diverged?)"
            )
    return scores


def plot_decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    ax: plt.Axes | None = None,
    resolution: int = 200,
    title: str | None = None,
) -> plt.Axes:
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
    # whole-number float labels (0.0, 1.0) are labels; 0.5 is not
    y = validate.labels("plot_decision_boundary", y, classes=None, whole_floats=True)
    # a NaN or inf point would stretch the grid to NaN or inf and leave the background blank
    validate.finite_rows("plot_decision_boundary", "x", x, before="before plotting")
    uu, vv, grid = decision_grid(x, resolution)
    with torch.no_grad():
        scores = _checked_scores(predict(grid.to(x.dtype)), len(grid))
    ax = _axes(ax)  # a figure only once the scores are known to be good
    classes = class_predictions(scores).reshape(uu.shape)
    n_classes = int(max(classes.max().item(), y.max().item() if len(y) else 0)) + 1
    colours = class_colours(n_classes)
    levels = [c - 0.5 for c in range(n_classes + 1)]
    ax.contourf(uu.numpy(), vv.numpy(), classes.numpy(), levels=levels, colors=colours, alpha=0.25)
    for c in range(n_classes):
        rows = y == c
        if rows.any():
            ax.scatter(
                x[rows, 0].numpy(),
                x[rows, 1].numpy(),
                color=colours[c],
                edgecolor="black",
                linewidth=0.5,
                s=30,
                label=f"class {c}",
            )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title)
    return ax


def _finish_curves(ax: plt.Axes, n_curves: int, title: str | None) -> plt.Axes:
    """What every curve plot ends with: a legend where there are several curves, a title, a grid."""
    if n_curves > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return ax


def plot_losses(
    losses: Sequence[float] | Mapping[str, Sequence[float]],
    ax: plt.Axes | None = None,
    log: bool = True,
    xlabel: str = "step",
    title: str | None = None,
) -> plt.Axes:
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
    return _finish_curves(ax, len(curves), title)


def plot_accuracy(
    accuracies: Sequence[float] | Mapping[str, Sequence[float]],
    ax: plt.Axes | None = None,
    xlabel: str = "epoch",
    title: str | None = None,
    steps: Mapping[str, Sequence[int]] | None = None,
) -> plt.Axes:
    """Accuracy curves in percent: one sequence of fractions in [0, 1], or a mapping label -> sequence.

    ``steps`` optionally gives the x position of each value per label (held-out accuracy
    measured every few steps); by default the values sit at 0, 1, 2, ...
    """
    ax = _axes(ax)
    curves = accuracies if isinstance(accuracies, Mapping) else {"accuracy": accuracies}
    for label, values in curves.items():
        values = [100 * float(v) for v in values]
        xs = list((steps or {}).get(label, range(len(values))))
        if len(xs) != len(values):
            raise ValueError(f"plot_accuracy: {label!r} has {len(values)} values but {len(xs)} positions")
        ax.plot(xs, values, label=str(label), marker="." if len(values) < 30 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    return _finish_curves(ax, len(curves), title)


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, classes: int | None = None) -> torch.Tensor:
    """Counts ``C[i, j]``: how many samples of true class i were predicted as class j, shape (classes, classes)."""
    # whole-number floats (1.0) are labels, 0.7 is not: it is refused rather than counted as class 0
    y_true = validate.labels(
        "confusion_matrix: y_true", torch.as_tensor(y_true).detach().cpu().reshape(-1), None, whole_floats=True
    )
    y_pred = validate.labels(
        "confusion_matrix: y_pred", torch.as_tensor(y_pred).detach().cpu().reshape(-1), None, whole_floats=True
    )
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: {len(y_true)} true labels but {len(y_pred)} predictions")
    if classes is not None:
        classes = validate.count("confusion_matrix", "classes", classes, minimum=0)
    else:
        classes = int(max(y_true.max().item(), y_pred.max().item())) + 1 if len(y_true) else 0
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"confusion_matrix: {name} must lie in [0, {classes}), "
                f"got values from {labels.min().item()} to {labels.max().item()}"
            )
    return torch.bincount(y_true * classes + y_pred, minlength=classes * classes).reshape(classes, classes)


def plot_confusion_matrix(
    y_true: torch.Tensor,
    y_pred: torch.Tensor,
    classes: int | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """The confusion matrix as a picture with the count in every cell (rows: true class, columns: predicted)."""
    counts = confusion_matrix(y_true, y_pred, classes)
    k = len(counts)
    ax = _axes(ax, figsize=(4.5, 4))
    ax.imshow(counts.numpy(), cmap="Blues")
    high = counts.max().item()
    for i in range(k):
        for j in range(k):
            value = counts[i, j].item()
            if value:
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7 if k > 5 else 9,
                    color="white" if value > high / 2 else "black",
                )
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"accuracy {100 * counts.diag().sum().item() / max(counts.sum().item(), 1):.1f}%")
    return ax


def _image_grid(
    images: torch.Tensor,
    titles: Sequence[str] | None,
    ncols: int,
    cmap: str,
    symmetric: bool,
    figsize_per_image: float = 0.9,
) -> Figure:
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(figsize_per_image * ncols, (figsize_per_image + 0.15) * nrows), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        image = images[k]
        limit = image.abs().max().item() or 1.0
        ax.imshow(
            image.numpy(),
            cmap=cmap,
            interpolation="nearest",
            vmin=-limit if symmetric else None,
            vmax=limit if symmetric else None,
        )
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    return fig


def show_weights(
    weight: torch.Tensor, shape: tuple[int, int] = (28, 28), max_units: int = 32, ncols: int = 8
) -> plt.Figure:
    """First-layer weights as images: row k of ``weight`` (out_features, in_features) is unit k's template.

    Each image has its own symmetric colour scale (blue negative, red positive), so a
    unit's pattern shows whatever its size. Returns the Figure.
    """
    weight = torch.as_tensor(weight).detach().cpu().double()
    if weight.dim() != 2 or weight.shape[1] != shape[0] * shape[1]:
        raise ValueError(
            f"show_weights: expected a weight of shape (out_features, {shape[0] * shape[1]}), got {tuple(weight.shape)}"
        )
    units = weight[:max_units].reshape(-1, *shape)
    return _image_grid(units, [f"unit {k}" for k in range(len(units))], ncols, "bwr", symmetric=True)


def show_misclassified(
    x: torch.Tensor,
    y_true: torch.Tensor,
    y_pred: torch.Tensor,
    max_images: int = 16,
    ncols: int = 8,
    shape: tuple[int, int] = (28, 28),
) -> plt.Figure:
    """The first ``max_images`` samples whose prediction is wrong, titled "true -> predicted". Returns the Figure."""
    x = torch.as_tensor(x).detach().cpu()
    y_true = torch.as_tensor(y_true).detach().cpu().reshape(-1)
    y_pred = torch.as_tensor(y_pred).detach().cpu().reshape(-1)
    if not len(x) == len(y_true) == len(y_pred):
        raise ValueError(
            f"show_misclassified: x, y_true and y_pred need the same length, "
            f"got {len(x)}, {len(y_true)} and {len(y_pred)}"
        )
    wrong = torch.nonzero(y_true != y_pred).flatten()[:max_images]
    if len(wrong) == 0:
        fig, ax = plt.subplots(figsize=(3, 0.6))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no misclassified samples", ha="center", va="center")
        return fig
    images = x[wrong].double().reshape(-1, *shape)
    titles = [f"{y_true[k].item()} -> {y_pred[k].item()}" for k in wrong.tolist()]
    return _image_grid(images, titles, ncols, "gray_r", symmetric=False)
