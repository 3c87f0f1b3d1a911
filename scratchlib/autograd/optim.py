r"""Optimizers: they change ``p.data`` in place, outside the graph, from ``p.grad``."""
from __future__ import annotations

import math

import torch

from scratchlib.autograd.tensor import Tensor


class SGD:
    r"""Stochastic gradient descent with momentum, as ``torch.optim.SGD``.

    With velocity $v$ (zero-initialised as $v_1 = g_1$): $v \leftarrow \mu v + g$,
    $p \leftarrow p - \eta v$. For a constant learning rate this is the same sequence
    of parameters as the textbook form $v \leftarrow \mu v - \eta g$, $p \leftarrow p + v$.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0):
        params = list(params)
        if not params:
            raise ValueError("SGD got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"SGD optimizes scratchlib Tensors, got {type(p).__name__} at position {i}")
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"SGD: lr must be a positive finite number, got {lr!r}")
        if not (isinstance(momentum, (int, float)) and 0 <= momentum < math.inf):
            raise ValueError(f"SGD: momentum must be a non-negative number, got {momentum!r}")
        self.params, self.lr, self.momentum = params, float(lr), float(momentum)
        self.velocity: list[torch.Tensor | None] = [None] * len(params)

    def zero_grad(self) -> None:
        """Forget the gradients (set to None, as torch does by default)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            ### BEGIN SOLUTION 6.21: SGD.step: v = mu v + g, p -= lr v (on .data, outside the graph)
            grad = p.grad
            if self.momentum:
                v = self.velocity[i]
                if v is None:
                    v = self.velocity[i] = grad.clone()
                else:
                    v.mul_(self.momentum).add_(grad)
                grad = v
            p.data.add_(grad, alpha=-self.lr)
            ### END SOLUTION
