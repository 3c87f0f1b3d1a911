r"""Optimizers: they change ``p.data`` in place, outside the graph, from ``p.grad``.

SGD (with momentum), Adam and AdamW, each giving the same parameters as torch.optim's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from scratchlib.autograd.tensor import Tensor
from scratchlib.course import validate


def _parameter_list(where: str, params: Iterable[Tensor]) -> list[Tensor]:
    """The parameters as a list, after checking that there are some, each a leaf Tensor, each once."""
    if isinstance(params, (Tensor, torch.Tensor)):  # torch refuses one tensor too
        raise TypeError(
            f"{where}: params must be an iterable of Tensors (model.parameters(), or a list such as [w, b]), "
            f"got one {type(params).__name__}: write [w]"
        )
    params = list(params)
    if not params:
        raise ValueError(f"{where} got an empty parameter list")
    first: dict[int, int] = {}  # id -> position: tensors are compared by identity
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where} optimizes scratchlib Tensors, got {type(p).__name__} at position {i}")
        if not p.is_leaf:  # torch's words: a result's .data is recomputed by every forward
            raise ValueError(
                f"{where}: can't optimize a non-leaf Tensor (position {i}, made by {p.grad_fn.name()}): "
                "pass the leaves it was computed from"
            )
        if id(p) in first:  # torch warns; here it is refused: step() would move it twice
            raise ValueError(
                f"{where}: the parameter at position {i} is the one at position {first[id(p)]} again: "
                "list each parameter once, or step() would move it twice"
            )
        first[id(p)] = i
    return params


class Optimizer:
    """What every optimizer shares: its parameters and ``zero_grad``."""

    def __init__(self, where: str, params: Iterable[Tensor]):
        self.params = _parameter_list(where, params)

    def zero_grad(self) -> None:
        """Forget the gradients (set to None, as torch does by default)."""
        for p in self.params:
            p.grad = None

    def _check_gradients(self) -> None:
        """Refuse a step when no parameter has a gradient: it would change nothing.

        torch.optim skips such a step without a word, so a loop that calls ``step()`` between
        ``zero_grad()`` and ``backward()`` never learns; here it stops at the first step.
        """
        if all(p.grad is None for p in self.params):
            raise RuntimeError(
                f"{type(self).__name__}.step(): none of the {len(self.params)} parameters has a gradient "
                "(.grad is None), so this step would change nothing: the order is zero_grad(), "
                "forward, loss.backward(), then step()"
            )


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum, as ``torch.optim.SGD``.

    With velocity $v$ (zero-initialised as $v_1 = g_1$): $v \leftarrow \mu v + g$,
    $p \leftarrow p - \eta v$. For a constant learning rate this is the same sequence
    of parameters as the textbook form $v \leftarrow \mu v - \eta g$, $p \leftarrow p + v$.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0):
        lr = validate.positive("SGD", "lr", lr)  # checked first: nothing is kept on bad input
        momentum = validate.non_negative("SGD", "momentum", momentum)
        super().__init__("SGD", params)
        self.lr, self.momentum = lr, momentum
        self.velocity: list[torch.Tensor | None] = [None] * len(self.params)

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        self._check_gradients()
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


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam``: momentum on the gradient and a per-entry step size.

    At step $t$ with gradient $g$ (plus $\lambda p$ when ``weight_decay`` $\lambda > 0$):
    $m \leftarrow \beta_1 m + (1-\beta_1) g$, $v \leftarrow \beta_2 v + (1-\beta_2) g^2$ (both
    starting at 0), bias-corrected $\hat m = m/(1-\beta_1^t)$, $\hat v = v/(1-\beta_2^t)$,
    and $p \leftarrow p - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$.

    Without the correction the first steps would be too small: $m$ and $v$ start at 0
    and are averages with weight $1-\beta^t$ on the gradients seen so far.
    """

    decoupled = False  # AdamW: weight decay shrinks p directly instead of entering g

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        where = type(self).__name__
        self.lr = validate.positive(where, "lr", lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(
            validate.number(where, f"betas[{i}]", b, low=0, high=1, high_open=True) for i, b in enumerate(betas)
        )
        self.eps = validate.positive(where, "eps", eps)
        self.weight_decay = validate.non_negative(where, "weight_decay", weight_decay)
        super().__init__(where, params)
        self.steps = [0] * len(self.params)  # per parameter, as torch: one without a grad waits
        # m and v: None until the parameter's first gradient, then a tensor. Typed Any, not
        # Tensor | None: step (displayed as it is in notebook 06) uses them without narrowing.
        self.exp_avg: list[Any] = [None] * len(self.params)  # m
        self.exp_avg_sq: list[Any] = [None] * len(self.params)  # v

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        self._check_gradients()
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if self.exp_avg[i] is None:
                self.exp_avg[i] = torch.zeros_like(p.data)
                self.exp_avg_sq[i] = torch.zeros_like(p.data)
            self.steps[i] += 1
            t, m, v = self.steps[i], self.exp_avg[i], self.exp_avg_sq[i]
            ### BEGIN SOLUTION 6.57: Adam.step: moments, bias correction, update (weight decay both ways)
            grad = p.grad
            if self.weight_decay and self.decoupled:
                p.data.mul_(1 - self.lr * self.weight_decay)  # AdamW: shrink p itself
            elif self.weight_decay:
                grad = grad + self.weight_decay * p.data  # Adam: L2 term in the gradient
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            p.data.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))
            ### END SOLUTION


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW`` (default $\lambda = 0.01$).

    Before the Adam update, $p \leftarrow p\,(1 - \eta\lambda)$: the decay no longer passes
    through $\hat m/\sqrt{\hat v}$, which would rescale it per entry.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(params, lr, betas, eps, weight_decay)
