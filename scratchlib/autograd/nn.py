r"""Layers on the engine, with torch.nn's names: Module, Sequential, Linear, ReLU, Tanh, Sigmoid, GELU,
Softmax, Dropout, BatchNorm1d, CrossEntropyLoss; and ``validation_accuracy``, the validation of a trained
classifier (CMU HW1P1's ``validate``).

A ``Module`` owns parameters (``Tensor``s with ``is_parameter=True`` and
``requires_grad=True``) and sub-modules as plain attributes; ``parameters()`` finds
them in the order they were assigned, as torch does. Calling a module runs its
``forward``; the graph for ``backward`` is recorded by the Functions it uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from scratchlib.autograd import functional as F
from scratchlib.autograd.tensor import Tensor
from scratchlib.course import validate


class Module:
    """Base class: parameters and sub-modules are found among the attributes."""

    def __init__(self) -> None:
        self.training = True

    def forward(self, *inputs: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def __call__(self, *inputs: Any) -> Tensor:
        return self.forward(*inputs)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(name, parameter)`` pairs, each parameter once, in the order assigned."""
        seen = set()
        for name, value in vars(self).items():
            if isinstance(value, Tensor) and value.is_parameter:
                if id(value) not in seen:
                    seen.add(id(value))
                    yield prefix + name, value
            elif isinstance(value, Module):
                for sub_name, p in value.named_parameters(prefix + name + "."):
                    if id(p) not in seen:
                        seen.add(id(p))
                        yield sub_name, p

    def parameters(self) -> list[Tensor]:
        """The learnable tensors of this module and its sub-modules."""
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        yield self
        for value in vars(self).values():
            if isinstance(value, Module):
                yield from value.modules()

    def train(self, mode: bool = True) -> Module:
        """Training mode (BatchNorm uses batch statistics); returns the module."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (BatchNorm uses its running statistics); returns the module."""
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""


def _parameter(data: torch.Tensor) -> Tensor:
    return Tensor(data, requires_grad=True, is_parameter=True)


class Sequential(Module):
    """Modules applied one after another: ``Sequential(a, b)(x) = b(a(x))``."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, got {type(module).__name__} at position {i}")
            setattr(self, str(i), module)
        self.layers = tuple(modules)  # a tuple: not searched for parameters a second time

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION 6.38: Sequential.forward: each module on the output of the one before
        for module in self.layers:
            x = module(x)
        return x
        ### END SOLUTION

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {m!r}" for i, m in enumerate(self.layers))
        return f"Sequential({inner}\n)"


class Linear(Module):
    r"""$Y = X W^\top + b$: X (B, in_features) -> Y (B, out_features).

    torch's default initialisation: $W_{ij}, b_i \sim U(-1/\sqrt{\mathrm{in}}, 1/\sqrt{\mathrm{in}})$
    (Kaiming uniform with $a=\sqrt5$), drawn weight first, so that the same seed
    gives the same numbers as ``torch.nn.Linear``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ):
        super().__init__()
        # one rule for sizes: numpy integers are sizes, True and 2.0 are mistakes
        in_features = validate.count("Linear", "in_features", in_features)
        out_features = validate.count("Linear", "out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        weight = torch.empty(out_features, in_features, dtype=dtype, device=device)
        self.weight = _parameter(weight.uniform_(-bound, bound, generator=generator))
        self.bias = None
        if bias:
            b = torch.empty(out_features, dtype=dtype, device=device)
            self.bias = _parameter(b.uniform_(-bound, bound, generator=generator))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects input of shape "
                f"(batch, {self.in_features}), got {tuple(x.shape)}"
            )
        F.same_dtype(f"Linear({self.in_features}, {self.out_features})", x, self.weight)
        ### BEGIN SOLUTION 6.39: Linear.forward: X W^T + b through the functional op
        return F.LinearFunction.apply(x, self.weight, self.bias)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    r"""$\max(x, 0)$ elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION 6.37: nn.ReLU.forward: through the ReLU Function
        return x.relu()
        ### END SOLUTION


class Tanh(Module):
    r"""$\tanh x$ elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    r"""$\sigma(x) = 1/(1 + e^{-x})$ elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class GELU(Module):
    r"""$x\,\Phi(x)$ elementwise, $\Phi$ the standard normal distribution function (exact erf form)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x)


class Softmax(Module):
    r"""Softmax along ``dim``: $s_j = e^{x_j} / \sum_k e^{x_k}$, computed without overflow."""

    def __init__(self, dim: int):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"Softmax: dim must be an integer, got {type(dim).__name__} {dim!r}")
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Dropout(Module):
    r"""Inverted dropout in training (zero with probability $p$, scale the rest by $1/(1-p)$); identity in eval.

    ``generator`` (a ``torch.Generator``) draws the masks, so a seeded run repeats exactly;
    without one, torch's global generator is used, as ``torch.nn.Dropout`` does.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        self.p = validate.number("Dropout", "p", p, low=0, high=1, high_open=True)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"Dropout: generator must be a torch.Generator, got {type(generator).__name__}")
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    r"""Normalize each feature over the batch, then scale and shift: X (B, C) -> (B, C).

    Training: batch mean and biased variance normalize, $y = \gamma\hat x + \beta$, and
    the running statistics move by ``momentum`` (unbiased variance). Evaluation:
    $y = \gamma (x - \mathrm{E}_\text{run})/\sqrt{\mathrm{Var}_\text{run} + \epsilon} + \beta$ with the running
    mean and variance $\mathrm{E}_\text{run}$, $\mathrm{Var}_\text{run}$.

    ``momentum=None`` gives torch's cumulative average instead: after $n$ training batches
    the running statistics are the plain mean of the $n$ batches' (the step is $1/n$, with
    $n$ counted in ``num_batches_tracked``).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ):
        super().__init__()
        num_features = validate.count("BatchNorm1d", "num_features", num_features)
        eps = validate.positive("BatchNorm1d", "eps", eps)  # eps = 0 divides by a zero variance
        if momentum is not None:
            momentum = validate.number("BatchNorm1d", "momentum", momentum, low=0, high=1)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = _parameter(torch.ones(num_features, dtype=dtype, device=device))
        self.bias = _parameter(torch.zeros(num_features, dtype=dtype, device=device))
        self.running_mean = torch.zeros(num_features, dtype=dtype, device=device)
        self.running_var = torch.ones(num_features, dtype=dtype, device=device)
        self.num_batches_tracked = torch.tensor(0, dtype=torch.long, device=device)  # training batches seen

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d({self.num_features}) expects input of shape "
                f"(batch, {self.num_features}), got {tuple(x.shape)}"
            )
        F.same_dtype(f"BatchNorm1d({self.num_features})", x, self.weight)  # torch refuses the mix too
        if self.training:
            if x.shape[0] < 2:
                raise ValueError(
                    f"BatchNorm1d({self.num_features}) in training needs a batch of at least "
                    f"2 rows to estimate a variance, got {x.shape[0]}"
                )
            self.num_batches_tracked.add_(1)
            # None: the cumulative average, each batch weighted 1/n (as torch)
            momentum = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
            return F.BatchNormFunction.apply(
                x, self.weight, self.bias, self.running_mean, self.running_var, momentum, self.eps
            )
        ### BEGIN SOLUTION 6.43: BatchNorm1d.forward in eval mode: the running statistics
        inv_std = (self.running_var + self.eps).rsqrt()  # constants: no gradient flows to them
        return (x - self.running_mean) * inv_std * self.weight + self.bias
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class CrossEntropyLoss(Module):
    r"""Mean cross-entropy of logits (B, C) against integer labels (B,), via a stable log-sum-exp."""

    def forward(self, logits: Tensor, target: Tensor | torch.Tensor) -> Tensor:
        return F.cross_entropy(logits, target)


def validation_accuracy(model: Any, x: torch.Tensor, y: torch.Tensor, wrap: Any = Tensor) -> float:
    """The share of the rows of ``x`` that ``model`` classifies as ``y`` says (CMU HW1P1's ``validate``).

    ``x`` (n, features) and ``y`` (n,) are plain torch tensors; ``wrap`` turns ``x`` into the model's input
    (``Tensor`` for ours, ``lambda t: t`` for a torch.nn twin). The model runs in eval mode (BatchNorm1d on its
    running statistics) and is left in training mode, where the training loop wants it.
    """
    ### BEGIN SOLUTION 6.44: validation_accuracy: eval mode, the scores, the accuracy, back to training
    model.eval()
    with torch.no_grad():  # a torch.nn twin builds no graph (our engine has no such switch)
        scores = model(wrap(x))
    model.train()
    scores = getattr(scores, "data", scores)  # our Tensor's numbers, or torch's tensor itself
    return (scores.argmax(dim=1) == y).double().mean().item()
    ### END SOLUTION
