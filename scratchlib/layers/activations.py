r"""Notebook 04: ReLU, Sigmoid, Tanh and Softmax; the student writes their forward and backward.

Each reads its input's ``output`` and writes its own; ``backward`` turns ``grad`` =
$G = \partial J/\partial Y$ into $\partial J/\partial X$, handed over with the input's
``accumulate_grad``. ``rule`` is the same rule in plain text, for the backward stepper.
"""

from __future__ import annotations

import torch

from scratchlib.layers import wiring
from scratchlib.layers.base import Layer


class ReLU(Layer):
    r"""$Y = \max(X, 0)$ element-wise.  Backward: $\partial J/\partial X = G \odot [X > 0]$."""

    def __init__(self, x: Layer):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.4: ReLU.forward
        self.output = torch.relu(self.x.output)
        ### END SOLUTION

    rule = {"x": ("G * [X > 0]  (element-wise)", ["x:X"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.5: ReLU.backward: pass the gradient where the input was positive
        self.x.accumulate_grad(self.grad * (self.output > 0))
        ### END SOLUTION


class Sigmoid(Layer):
    r"""$Y = \sigma(X) = 1 / (1 + e^{-X})$.  Backward: $\partial J/\partial X = G \odot Y \odot (1 - Y)$."""

    def __init__(self, x: Layer):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.6: Sigmoid.forward
        self.output = torch.sigmoid(self.x.output)
        ### END SOLUTION

    rule = {"x": ("G * Y * (1 - Y)  (element-wise)", ["output"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.7: Sigmoid.backward: G * Y * (1 - Y), from the saved output
        y = self.output
        self.x.accumulate_grad(self.grad * y * (1 - y))
        ### END SOLUTION


class Tanh(Layer):
    r"""$Y = \tanh(X)$.  Backward: $\partial J/\partial X = G \odot (1 - Y^2)$."""

    def __init__(self, x: Layer):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.8: Tanh.forward
        self.output = torch.tanh(self.x.output)
        ### END SOLUTION

    rule = {"x": ("G * (1 - Y^2)  (element-wise)", ["output"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.9: Tanh.backward: G * (1 - Y^2), from the saved output
        y = self.output
        self.x.accumulate_grad(self.grad * (1 - y * y))
        ### END SOLUTION


class Softmax(Layer):
    r"""Each row of X (B, C) turned into probabilities: $Y_{ij} = e^{X_{ij}} / \sum_k e^{X_{ik}}$.

    Computed as $e^{X_{ij} - m_i} / \sum_k e^{X_{ik} - m_i}$ with $m_i = \max_k X_{ik}$: the same
    value (the $e^{-m_i}$ cancels) and no overflow, since every exponent is $\le 0$.

    Backward, one row at a time: $\partial Y_j/\partial X_i = Y_j(\delta_{ij} - Y_i)$, so
    $\partial J/\partial X_i = \sum_j G_j Y_j (\delta_{ij} - Y_i) = Y_i\,(G_i - \sum_j G_j Y_j)$;
    in matrix form $\partial J/\partial X = Y \odot (G - \mathrm{rowsum}(G \odot Y))$.
    """

    def __init__(self, x: Layer):
        wiring.two_d("Softmax", x)
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.30: Softmax.forward: shift by the row maximum, exponentiate, normalize
        x = self.x.output  # (B, C)
        exps = torch.exp(x - x.max(dim=1, keepdim=True).values)  # (B, C), each <= 1
        self.output = exps / exps.sum(dim=1, keepdim=True)
        ### END SOLUTION

    rule = {"x": ("Y * (G - rowsum(G * Y))", ["output"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.31: Softmax.backward: Y * (G - rowsum(G * Y))
        y, g = self.output, self.grad  # (B, C) each
        self.x.accumulate_grad(y * (g - (g * y).sum(dim=1, keepdim=True)))
        ### END SOLUTION
