r"""Training loops: mini-batch SGD on a library network, and the same loop on torch.nn as the reference.

One epoch shuffles the rows with a seeded generator (:func:`scratchlib.training.data.batches`)
and, for every mini-batch $(X_b, y_b)$, takes one step of stochastic gradient descent
on the objective $J = J_{\text{loss}} + \lambda \sum_l \lVert W_l \rVert_F^2$:

.. math::  W \leftarrow W - \eta\, \partial J / \partial W \quad \text{for every parameter } W.

:func:`train` records the data loss $J_{\text{loss}}$ and the accuracy of every step
and every epoch, on the training batches and on a held-out set, in a :class:`History`,
shows a progress bar (tqdm.auto: a widget in JupyterLab, text elsewhere), and stops
with :class:`TrainingDiverged` the moment the objective turns NaN or infinite, before
that step touches the weights. :func:`train_torch` runs the identical loop on a
``torch.nn`` module with autograd, so the two can be compared step for step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from scratchlib.course import validate
from scratchlib.training import data

if TYPE_CHECKING:  # for annotations only: notebook 05 trains notebook 04's network
    from tqdm.auto import tqdm

    from scratchlib.layers.network import MLP


class TrainingDiverged(FloatingPointError):
    """The loss turned NaN or infinite; ``history`` holds everything recorded before that step."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """What a training run measured. Losses are the data loss (without the regularization term).

    Per step (one entry per mini-batch): ``step_loss``, ``step_accuracy``.
    Per epoch: ``epoch_loss``, ``epoch_accuracy`` (means over the epoch's training rows)
    and, with a held-out set, ``val_loss``, ``val_accuracy`` (after the epoch's last step).
    With ``eval_every=k``, the held-out set is also measured every k steps:
    ``eval_step`` (steps done), ``eval_loss``, ``eval_accuracy``.
    Accuracies are fractions in [0, 1]; empty for a regression loss (MSE).
    """

    lr: float = 0.0
    batch_size: int = 0
    regularization: float = 0.0
    steps_per_epoch: int = 0
    step_loss: list = field(default_factory=list)
    step_accuracy: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    epoch_accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    eval_step: list = field(default_factory=list)
    eval_loss: list = field(default_factory=list)
    eval_accuracy: list = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Epochs completed."""
        return len(self.epoch_loss)

    def summary(self) -> str:
        """One line about the last epoch, with rounded numbers (stable text for nbval)."""
        if not self.epoch_loss:
            return "no epoch completed"
        text = f"epoch {self.epochs}: train loss {self.epoch_loss[-1]:.4f}"
        if self.epoch_accuracy:
            text += f", accuracy {100 * self.epoch_accuracy[-1]:.2f}%"
        if self.val_loss:
            text += f"; held-out loss {self.val_loss[-1]:.4f}"
        if self.val_accuracy:
            text += f", accuracy {100 * self.val_accuracy[-1]:.2f}%"
        return text

    def plot(self, label: str = "", axes: Any = None) -> Any:
        """Loss and accuracy against the step: every step (faint), epoch means, held-out. Returns the axes."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2 if self.step_accuracy else 1, figsize=(9, 3.4), squeeze=False)
            axes = axes[0]
        ends = [(e + 1) * self.steps_per_epoch for e in range(self.epochs)]
        name = f"{label} " if label else ""
        pairs = [(axes[0], self.step_loss, self.epoch_loss, self.val_loss, self.eval_loss, "loss")]
        if self.step_accuracy and len(axes) > 1:
            pairs.append(
                (axes[1], self.step_accuracy, self.epoch_accuracy, self.val_accuracy, self.eval_accuracy, "accuracy")
            )
        for ax, per_step, per_epoch, held_out, every, what in pairs:
            scale = 100 if what == "accuracy" else 1
            (line,) = ax.plot(range(1, len(per_step) + 1), [scale * v for v in per_step], alpha=0.25, lw=0.8)
            ax.plot(ends, [scale * v for v in per_epoch], "o-", color=line.get_color(), ms=3, label=f"{name}train")
            if every:
                ax.plot(self.eval_step, [scale * v for v in every], "--", label=f"{name}held-out")
            elif held_out:
                ax.plot(ends, [scale * v for v in held_out], "s--", ms=3, label=f"{name}held-out")
            ax.set_xlabel("step")
            ax.set_ylabel("accuracy (%)" if what == "accuracy" else "loss")
            if what == "loss":
                ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        return axes


def _check_data(
    name: str,
    x: object,
    y: object,
    in_features: int | None,
    classes: int | None,
    out_shape: tuple | None,
    where: str = "train",
) -> torch.Tensor:
    """Rows, targets and values checked before training starts, so that nothing is half-trained.

    Returns the targets, class labels as int64 (labels may come in any integer dtype)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.is_floating_point():
        what = f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        features = "features" if in_features is None else in_features
        raise ValueError(f"{where}: {name} must be a float tensor of shape (n, {features}), got {what}")
    if in_features is not None and x.shape[1] != in_features:
        raise ValueError(f"{where}: {name} has {x.shape[1]} features per row, the network takes {in_features}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(
            f"{where}: the targets of {name} must be a tensor (torch.tensor(y) makes one), got {type(y).__name__}"
        )
    if len(y) != len(x):
        raise ValueError(f"{where}: {name} has {len(x)} rows but its targets have {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{where}: {name} is empty")
    # one inf in the data would turn every weight into NaN a few steps later and look like a
    # too-large learning rate: refuse it here, naming the rows
    validate.finite_rows(where, name, x)
    if classes is not None:
        if y.dim() != 1:
            raise ValueError(f"{where}: labels for {name} must have shape (n,), got {tuple(y.shape)}")
        return validate.labels(f"{where}: labels for {name}", y, classes)
    else:
        assert out_shape is not None  # a network without classes has an output shape
        if tuple(y.shape[1:]) != out_shape:
            shape = ", ".join(map(str, out_shape))
            raise ValueError(f"{where}: targets for {name} must have shape (n, {shape}), got {tuple(y.shape)}")
        if y.dtype == torch.bool or y.is_complex():
            raise ValueError(f"{where}: targets for {name} must be numbers, got dtype {y.dtype}")
        validate.finite_rows(where, f"targets for {name}", y)
        return y


def _check_net(net: object) -> None:
    """A library network built by mlp(...): the loop reads its Inputs, loss and weight-decay layers."""
    needed = ("x", "target", "loss", "regularizers", "clear_grad", "backward", "step")
    if not all(hasattr(net, name) for name in needed):
        torch_hint = " (for a torch.nn model use train_torch)" if isinstance(net, torch.nn.Module) else ""
        raise TypeError(
            f"train: net must be a library network built by mlp(...), with {', '.join(needed)}; "
            f"got {type(net).__name__}{torch_hint}"
        )


def _checked_torch_run(
    model: object,
    x: object,
    y: object,
    x_val: object,
    y_val: object,
    numbers: Mapping[str, object],
) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """train's checks for :func:`train_torch`, before any step: a torch.nn model, its sizes and
    numbers, data as tensors. Returns the labels as int64 (torch's rule for class labels) and the
    seed as a Python int (``manual_seed`` refuses a NumPy integer)."""
    if not isinstance(model, torch.nn.Module):
        hint = " (for a library network use train)" if hasattr(model, "target") else ""
        raise TypeError(f"train_torch: model must be a torch.nn.Module, got {type(model).__name__}{hint}")
    for name in ("epochs", "batch_size"):
        validate.count("train_torch", name, numbers[name])
    validate.positive("train_torch", "lr", numbers["lr"])
    validate.non_negative("train_torch", "regularization", numbers["regularization"])
    seed = validate.seed("train_torch", numbers["seed"])
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    in_features = linears[0].in_features if linears else None
    classes = linears[-1].out_features if linears else None
    y = _check_data("x", x, y, in_features, classes, None, where="train_torch")
    if (x_val is None) != (y_val is None):
        raise ValueError("train_torch: give both x_val and y_val for a held-out set, or neither")
    if x_val is not None:
        y_val = _check_data("x_val", x_val, y_val, in_features, classes, None, where="train_torch")
    return y, y_val, seed  # type: ignore[return-value]


def _is_classifier(net: MLP) -> bool:
    return hasattr(net.loss, "classifications")


def _hits(scores: torch.Tensor, y: torch.Tensor) -> int:
    """How many rows of ``scores`` (n, classes) put their largest value on the true class ``y``."""
    return int((scores.argmax(dim=1) == y).sum().item())


def evaluate(net: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float | None]:
    """The data loss and the accuracy (None for a regression loss) of ``net`` on ``(x, y)``, in one batch."""
    net.x.set(x)
    net.target.set(y)
    loss = float(net.forward(upto=net.loss))
    if not _is_classifier(net):
        return loss, None
    return loss, _hits(net.classifications, y) / len(y)


def predict(net: Any, x: torch.Tensor) -> torch.Tensor:
    """Class labels (argmax of the logits) for the rows of ``x``, shape (n,)."""
    return net.predict(x).argmax(dim=1)


def forward_pass(net: MLP, x_batch: torch.Tensor, y_batch: torch.Tensor) -> float:
    r"""Load a mini-batch into the network's data Inputs and return its objective $J_\mathcal{B}$, a float."""
    ### BEGIN SOLUTION 5.1: the forward pass: load the batch into the Inputs, compute J
    net.x.set(x_batch)
    net.target.set(y_batch)
    return float(net.forward())
    ### END SOLUTION


def sgd_update(net: MLP, lr: float) -> None:
    r"""One SGD step on the batch just loaded: fresh gradients, backward, then
    $W \leftarrow W - \eta\,\partial J/\partial W$ for every parameter."""
    ### BEGIN SOLUTION 5.2: the training step: fresh gradients, backward, W <- W - lr dJ/dW
    net.clear_grad()
    net.backward()
    net.step(lr)
    ### END SOLUTION


def train_step(net: MLP, x_batch: torch.Tensor, y_batch: torch.Tensor, lr: float, step: int = 0) -> float:
    r"""One SGD step on one mini-batch; returns the objective $J$ measured before the step.

    Raises :class:`TrainingDiverged` (with an empty history) when $J$ is NaN or infinite,
    before any gradient is computed or any weight moves.
    """
    objective = forward_pass(net, x_batch, y_batch)
    if not math.isfinite(objective):
        raise TrainingDiverged(
            f"training stopped at step {step}: the loss is {objective} "
            f"(learning rate {lr}); the steps diverge: try a smaller learning rate",
            History(),
        )
    try:
        sgd_update(net, lr)
    except validate.NonFiniteStep as refused:  # Network.step moved nothing
        raise TrainingDiverged(
            f"training stopped at step {step}: {refused}, so the weights are those "
            f"before this step; the steps diverge (learning rate {lr}): "
            "try a smaller learning rate",
            History(),
        ) from None
    return objective


def _progress(total: int, enabled: bool, desc: str) -> tqdm:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="step", leave=True)


def _set_regularization(net: MLP, strength: float) -> None:
    regularizers = net.regularizers
    if strength > 0 and not regularizers:
        raise ValueError(
            f"train: regularization={strength} needs a network with a weight-decay branch; "
            "build it with mlp(..., regularization=<any value > 0>)"
        )
    for layer in regularizers:
        layer.strength = strength


def train(
    net: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    regularization: float | None = None,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    seed: int = 0,
    eval_every: int | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    r"""Mini-batch SGD on a library network (an :func:`scratchlib.layers.mlp`); returns a :class:`History`.

    Args:
        net: an MLP (a Network with ``x``, ``target``, ``loss``, ``objective``, ``predict``).
        x, y: training rows (n, in_features) and labels (n,) (or targets (n, out) for MSE).
        epochs, lr, batch_size: passes over the data, step size $\eta$, rows per step.
        regularization: if given, the strength $\lambda$ of every weight-decay layer of ``net``.
        x_val, y_val: a held-out set, measured after every epoch (and every ``eval_every`` steps).
        seed: the shuffling generator's seed: the same seed gives the same batches.
        progress: show a tqdm.auto progress bar.

    Raises:
        TrainingDiverged: the objective turned NaN or inf; says at which step and what it was.
    """
    epochs = validate.count("train", "epochs", epochs)
    batch_size = validate.count("train", "batch_size", batch_size)
    if eval_every is not None:
        eval_every = validate.count("train", "eval_every", eval_every)
    lr = validate.positive("train", "lr", lr)
    seed = validate.seed("train", seed)
    _check_net(net)
    classes = net.loss.classes if _is_classifier(net) else None
    in_features = net.x.shape[1]
    out_shape = None if classes is not None else tuple(net.target.shape[1:])
    y = _check_data("x", x, y, in_features, classes, out_shape)
    if (x_val is None) != (y_val is None):
        raise ValueError("train: give both x_val and y_val for a held-out set, or neither")
    if x_val is not None:
        y_val = _check_data("x_val", x_val, y_val, in_features, classes, out_shape)
    if classes is None:  # whole-number regression targets are taken as their floats
        y = y.to(net.target.dtype)
        y_val = y_val.to(net.target.dtype) if y_val is not None else None
    if regularization is not None:
        regularization = validate.non_negative("train", "regularization", regularization)
        _set_regularization(net, regularization)
    strength = net.regularizers[0].strength if net.regularizers else 0.0

    generator = torch.Generator().manual_seed(seed)
    per_epoch = -(-len(x) // batch_size)
    history = History(lr=lr, batch_size=batch_size, regularization=strength, steps_per_epoch=per_epoch)
    step = 0
    with _progress(epochs * per_epoch, progress, desc) as bar:
        for epoch in range(epochs):
            loss_sum, correct, seen = 0.0, 0, 0
            for x_batch, y_batch in data.batches(x, y, batch_size, generator=generator):
                step += 1
                try:
                    train_step(net, x_batch, y_batch, lr, step)
                except TrainingDiverged as stop:
                    raise TrainingDiverged(f"{stop} (epoch {epoch + 1})", history) from None
                # the data loss and the predictions of the forward pass train_step just ran
                loss = float(net.loss.output)
                history.step_loss.append(loss)
                loss_sum += loss * len(y_batch)
                seen += len(y_batch)
                if classes is not None:
                    hits = _hits(net.classifications, y_batch)
                    history.step_accuracy.append(hits / len(y_batch))
                    correct += hits
                if eval_every and x_val is not None and y_val is not None and step % eval_every == 0:
                    val_loss, val_accuracy = evaluate(net, x_val, y_val)
                    history.eval_step.append(step)
                    history.eval_loss.append(val_loss)
                    if val_accuracy is not None:
                        history.eval_accuracy.append(val_accuracy)
                bar.update()
            history.epoch_loss.append(loss_sum / seen)
            if classes is not None:
                history.epoch_accuracy.append(correct / seen)
            if x_val is not None and y_val is not None:
                val_loss, val_accuracy = evaluate(net, x_val, y_val)
                history.val_loss.append(val_loss)
                if val_accuracy is not None:
                    history.val_accuracy.append(val_accuracy)
            bar.set_postfix_str(history.summary().split(": ", 1)[1], refresh=False)
    return history


def to_torch(net: Any) -> torch.nn.Sequential:
    """A torch.nn.Sequential twin of an :func:`mlp` with copies of its weights (same init)."""
    if not all(hasattr(net, name) for name in ("weights", "biases", "activations", "prediction", "logits")):
        raise TypeError(f"to_torch: net must be a library network built by mlp(...), got {type(net).__name__}")
    modules = []
    for i, (W, b) in enumerate(zip(net.weights, net.biases)):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=W.output.dtype)
        with torch.no_grad():
            linear.weight.copy_(W.output)
            linear.bias.copy_(b.output)
        modules.append(linear)
        if i < len(net.activations):
            modules.append(_TORCH_ACTIVATIONS[net.activations[i].name]())
    if net.prediction is not net.logits:  # mse with an output activation after the last Linear
        modules.append(_TORCH_ACTIVATIONS[net.prediction.name]())
    return torch.nn.Sequential(*modules)


_TORCH_ACTIVATIONS = {"ReLU": torch.nn.ReLU, "Tanh": torch.nn.Tanh, "Sigmoid": torch.nn.Sigmoid}


def train_torch(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    regularization: float = 0.0,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    seed: int = 0,
) -> History:
    r"""The reference: :func:`train`'s loop on a torch.nn classifier with autograd and torch.optim.SGD.

    Same batches (same seed), same objective $J = \mathrm{CE} + \lambda \sum_l \lVert W_l \rVert_F^2$
    (weights only, as the library's weight-decay branch), same History.
    """
    numbers = dict(epochs=epochs, lr=lr, batch_size=batch_size, regularization=regularization, seed=seed)
    y, y_val, seed = _checked_torch_run(model, x, y, x_val, y_val, numbers)  # as train, before any step
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = History(
        lr=lr, batch_size=batch_size, regularization=regularization, steps_per_epoch=-(-len(x) // batch_size)
    )

    def measure(xs, ys):
        with torch.no_grad():
            logits = model(xs)
            return (torch.nn.functional.cross_entropy(logits, ys).item(), _hits(logits, ys) / len(ys))

    for _ in range(epochs):
        loss_sum, correct = 0.0, 0
        for x_batch, y_batch in data.batches(x, y, batch_size, generator=generator):
            logits = model(x_batch)
            loss = torch.nn.functional.cross_entropy(logits, y_batch)
            objective = loss + regularization * sum((W * W).sum() for W in weights) if regularization else loss
            optimizer.zero_grad()
            objective.backward()
            optimizer.step()
            hits = _hits(logits, y_batch)
            history.step_loss.append(loss.item())
            history.step_accuracy.append(hits / len(y_batch))
            loss_sum += loss.item() * len(y_batch)
            correct += hits
        history.epoch_loss.append(loss_sum / len(x))
        history.epoch_accuracy.append(correct / len(x))
        if x_val is not None:
            val_loss, val_accuracy = measure(x_val, y_val)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_accuracy)
    return history
