r"""Notebook 04: the scalar terms of the objective, losses and weight decay; the student writes both passes.

Each ends in a scalar $J$-term; ``backward`` multiplies its local derivative by
$g = \partial J/\partial(\text{output})$ (1 when it is the last layer).
``rule`` beside each ``backward`` is the same rule in plain text, for the backward stepper.
"""

from __future__ import annotations

import torch

from scratchlib.layers import wiring
from scratchlib.layers.base import Input, Layer


class Regularization(Layer):
    r"""$R = \lambda \lVert W \rVert_F^2 = \lambda \sum_{jk} W_{jk}^2$ (weight decay), a scalar.

    Backward: from $g = \partial J/\partial R$, ``backward`` hands $\partial J/\partial W$ to W, as
    notebook 04's exercise 4.27 derives it.
    BEGIN TEACHER ONLY
    $\partial J/\partial W = 2 \lambda\, g\, W$.
    END TEACHER ONLY
    """

    def __init__(self, W: Layer, strength: float):
        strength = wiring.strength("Regularization", strength)
        super().__init__(W, shape=())
        self.W, self.strength = W, strength

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.14: Regularization.forward: strength times the sum of squares
        self.output = self.strength * (self.W.output**2).sum()
        ### END SOLUTION

    rule = {"W": ("2 lambda g W,  lambda = {strength:g}", ["W"])}  # exercise 4.27's result, for the stepper

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.15: Regularization.backward: hand dJ/dW (your exercise 4.27) to W
        self.W.accumulate_grad(2 * self.strength * self.grad * self.W.output)
        ### END SOLUTION


class MSELoss(Layer):
    r"""$\mathcal{L} = \frac{1}{N} \sum_{ij} (\hat Y_{ij} - Y_{ij})^2$ over all $N$ entries (as torch.nn.MSELoss).

    $\hat Y$ is the prediction (``pred``), $Y$ the target (``target``), both (B, n); forward keeps
    ``diff`` $= \hat Y - Y$. Backward: from $g = \partial J/\partial \mathcal{L}$, ``backward`` hands
    $\partial J/\partial \hat Y$ and $\partial J/\partial Y$ to the inputs, as notebook 04's exercise
    4.28 derives them.
    BEGIN TEACHER ONLY
    $\partial J/\partial \hat Y = \frac{2 g}{N}(\hat Y - Y)$ and $\partial J/\partial Y = -\partial J/\partial \hat Y$.
    END TEACHER ONLY
    """

    def __init__(self, pred: Layer, target: Layer):
        wiring.same_shape("MSELoss", ("pred", "target"), pred, target)
        super().__init__(pred, target, shape=())
        self.pred, self.target = pred, target

    def forward(self) -> None:
        pred, target = self.pred.output, self.target.output
        wiring.same_values_shape("MSELoss", ("pred", "target"), pred, target)
        ### BEGIN SOLUTION 4.16: MSELoss.forward: mean of squared differences (keep the difference)
        self.diff = pred - target
        self.output = (self.diff**2).mean()
        ### END SOLUTION

    rule = {  # exercise 4.28's result, for the stepper
        "pred": ("(2 g / N) (Yhat - Y)", ["pred:Yhat", "target:Y"]),
        "target": ("-(2 g / N) (Yhat - Y)", ["pred:Yhat", "target:Y"]),
    }

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.17: MSELoss.backward: hand dJ/dpred and dJ/dtarget (your exercise 4.28) to the inputs
        d_pred = 2 * self.grad * self.diff / self.diff.numel()
        self.pred.accumulate_grad(d_pred)
        self.target.accumulate_grad(-d_pred)
        ### END SOLUTION


class SoftmaxCrossEntropy(Layer):
    r"""Mean cross-entropy of softmax(logits) against integer class labels; stable for any logits.

    With the logits $\hat Y$ (B, C) and $\log p_{ic} = \hat Y_{ic} - \log \sum_k e^{\hat Y_{ik}}$
    (log-softmax, computed once with the log-sum-exp shift), $J_{CE} = -\frac{1}{B} \sum_i \log p_{i, t_i}$.
    ``classifications`` $= p$ (the softmax, (B, C)) is the second output.
    Backward: $\partial J/\partial \hat Y = \frac{g}{B}(p - \mathrm{onehot}(t))$. The integer labels
    get no gradient. Shapes: logits (B, C), target (B,) integers in [0, C).
    """

    def __init__(self, logits: Layer, target: Layer):
        self.classes = wiring.softmax_cross_entropy(logits, target, Input)
        super().__init__(logits, target, shape=())
        self.logits, self.target = logits, target
        self.classifications: torch.Tensor | None = None

    def forward(self) -> None:
        logits, target = self.logits.output, self.target.output
        target = wiring.labels_at_forward(logits, target, self.classes, isinstance(self.target, Input))  # int64
        ### BEGIN SOLUTION 4.18: SoftmaxCrossEntropy.forward: log-softmax once, softmax from it, mean NLL
        log_p = torch.log_softmax(logits, dim=1)  # (B, C), stable
        self.classifications = log_p.exp()  # softmax, (B, C)
        self.output = -log_p.gather(1, target.unsqueeze(1)).mean()  # -log p of each row's label
        ### END SOLUTION

    rule = {"logits": ("(g / B) (softmax(Yhat) - onehot(y))", ["logits:Yhat", "target:y"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.19: SoftmaxCrossEntropy.backward: g (softmax - onehot) / B
        p = self.classifications  # (B, C)
        identity = torch.eye(p.shape[1], dtype=p.dtype, device=p.device)  # (C, C)
        onehot = identity[self.target.output]  # row t of I, (B, C)
        self.logits.accumulate_grad(self.grad / p.shape[0] * (p - onehot))
        ### END SOLUTION
