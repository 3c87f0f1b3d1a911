r"""Notebook 06's MNIST run on the engine, as CMU HW1P1's ``hw1/mnist.py``: ``train`` (the training loop,
exercise 6.45) and ``mnist`` (the model, its loss and its optimizer, exercise 6.46). The validation they
call is ``nn.validation_accuracy`` (CMU's ``validate``, exercise 6.44).

``train`` runs a torch.nn model just as well (``wrap=lambda t: t`` and torch's loss and optimizer): the
notebook trains a torch.nn twin with it, on the same shuffles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from scratchlib.autograd import nn, optim
from scratchlib.autograd.tensor import Tensor

#: what ``train`` returns: the steps validated at, the validation accuracies there, the loss of every batch
Curve = tuple[list[int], list[float], list[float]]


def train(
    model: Any,
    optimizer: Any,
    criterion: Any,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    epochs: int = 3,
    batch_size: int = 100,
    validate_every: int = 100,
    seed: int = 0,
    wrap: Callable[[torch.Tensor], Any] = Tensor,
) -> Curve:
    """Train ``model`` on mini-batches of the training rows, validating as it goes (CMU HW1P1's ``train``).

    The shuffles: one ``torch.Generator`` seeded with ``seed`` when ``train`` starts; each epoch draws a new
    order of the training rows from it, ``torch.randperm(n, generator=...)`` (so two models trained with
    the same seed see the same batches), and cuts it into batches of ``batch_size`` rows (the last one
    may be smaller). Each epoch starts with the model in training mode.

    Each batch is one step, in this order: ``optimizer.zero_grad()``, the forward pass on the batch's
    inputs ``wrap(x)`` (not gradient-enabled: ``wrap`` is our ``Tensor`` by default, ``lambda t: t`` for a
    torch.nn model), the loss ``criterion(output, labels)`` (the labels a plain tensor), ``backward()``
    and ``optimizer.step()``.

    Validation is ``nn.validation_accuracy(model, x_val, y_val, wrap)``: once before the first step and
    then after every ``validate_every`` steps, the steps counted across epochs (steps 0, 100, 200, ...).

    Returns ``(steps, accuracies, losses)``: the steps validated at, the accuracy at each, and every
    batch's loss as a Python float (``loss.item()``), in order.
    """
    ### BEGIN SOLUTION 6.45: train: a new shuffle each epoch, one step per batch, validation every validate_every steps
    generator = torch.Generator().manual_seed(seed)
    steps, accuracies, losses = [0], [nn.validation_accuracy(model, x_val, y_val, wrap)], []
    for _epoch in range(epochs):
        model.train()
        for rows in torch.randperm(len(x_train), generator=generator).split(batch_size):
            optimizer.zero_grad()
            loss = criterion(model(wrap(x_train[rows])), y_train[rows])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) % validate_every == 0:
                steps.append(len(losses))
                accuracies.append(nn.validation_accuracy(model, x_val, y_val, wrap))
    return steps, accuracies, losses
    ### END SOLUTION


def mnist(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    epochs: int = 3,
    seed: int = 0,
) -> tuple[nn.Sequential, Curve]:
    """Build the criterion, the optimizer and the model, and train it (CMU HW1P1's ``mnist``).

    The model: ``nn.Sequential`` of Linear(784, 20) -> BatchNorm1d(20) -> ReLU -> Linear(20, 10), its
    parameters drawn from torch's global generator as torch.nn draws them (seed it first for a
    repeatable run). The criterion: ``nn.CrossEntropyLoss``. The optimizer: ``optim.SGD`` over the
    model's parameters, learning rate 0.1, momentum 0.9. Then ``train`` with the four data tensors,
    ``epochs`` and ``seed``, batches of 100 and validation every 100 steps (its defaults).

    Returns the trained model and what ``train`` returned.
    """
    ### BEGIN SOLUTION 6.46: mnist: the criterion, SGD with momentum, the 784-20-BatchNorm-ReLU-10 model, then train
    criterion = nn.CrossEntropyLoss()
    model = nn.Sequential(nn.Linear(784, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, train(model, optimizer, criterion, x_train, y_train, x_val, y_val, epochs=epochs, seed=seed)
    ### END SOLUTION
