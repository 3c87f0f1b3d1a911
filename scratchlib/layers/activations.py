r"""Notebook 04: ReLU, Sigmoid, Tanh and Softmax; the student writes their forward and backward.

Each reads its input's ``output``, a pre-activation $Z$, and writes its own, the activation $H$
(the softmax $P$); ``backward`` turns ``grad`` = $G = \partial J/\partial H$ into
$\partial J/\partial Z$, handed over with the input's ``accumulate_grad``. ``rule`` is the same
rule in plain text, for the backward stepper, which calls a layer's own output Y.
"""

from __future__ import annotations

import torch

from scratchlib.layers import wiring
from scratchlib.layers.base import Layer


class ReLU(Layer):
    r"""$H = \max(Z, 0)$ element-wise.

    Backward: from $G = \partial J/\partial H$, ``backward`` hands $\partial J/\partial Z$ to the
    input, as notebook 04's exercise 4.26 derives it.
    BEGIN TEACHER ONLY
    $dZ = G \odot [Z > 0]$, and $[Z > 0] = [H > 0]$: the mask is read off the output.
    END TEACHER ONLY
    """

    def __init__(self, x: Layer):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.4: ReLU.forward
        self.output = torch.relu(self.x.output)
        ### END SOLUTION

    rule = {"x": ("G * [Z > 0]  (element-wise)", ["x:Z"])}  # exercise 4.26's result, for the stepper

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.5: ReLU.backward: hand dJ/dZ (your exercise 4.26) to the input
        self.x.accumulate_grad(self.grad * (self.output > 0))
        ### END SOLUTION


class Sigmoid(Layer):
    r"""$H = \sigma(Z) = 1 / (1 + e^{-Z})$.  Backward: $\partial J/\partial Z = G \odot H \odot (1 - H)$."""

    def __init__(self, x: Layer):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.6: Sigmoid.forward
        self.output = torch.sigmoid(self.x.output)
        ### END SOLUTION

    rule = {"x": ("G * Y * (1 - Y)  (element-wise)", ["output"])}  # Y: the output, H above

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.7: Sigmoid.backward: G * H * (1 - H), from the saved output H
        h = self.output
        self.x.accumulate_grad(self.grad * h * (1 - h))
        ### END SOLUTION


class Tanh(Layer):
    r"""$H = \tanh(Z)$.  Backward: $\partial J/\partial Z = G \odot (1 - H^2)$."""

    def __init__(self, x: Layer):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.8: Tanh.forward
        self.output = torch.tanh(self.x.output)
        ### END SOLUTION

    rule = {"x": ("G * (1 - Y^2)  (element-wise)", ["output"])}  # Y: the output, H above

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.9: Tanh.backward: G * (1 - H^2), from the saved output H
        h = self.output
        self.x.accumulate_grad(self.grad * (1 - h * h))
        ### END SOLUTION


class Softmax(Layer):
    r"""Each row of Z (B, C) turned into probabilities: $P_{ij} = e^{Z_{ij}} / \sum_k e^{Z_{ik}}$.

    Computed as $e^{Z_{ij} - m_i} / \sum_k e^{Z_{ik} - m_i}$ with $m_i = \max_k Z_{ik}$: the same
    value (the $e^{-m_i}$ cancels) and no overflow, since every exponent is $\le 0$.

    Backward, one row at a time: $\partial P_j/\partial Z_i = P_j(\delta_{ij} - P_i)$, so
    $\partial J/\partial Z_i = \sum_j G_j P_j (\delta_{ij} - P_i) = P_i\,(G_i - \sum_j G_j P_j)$;
    in matrix form $\partial J/\partial Z = P \odot (G - \mathrm{rowsum}(G \odot P))$.
    """

    def __init__(self, x: Layer):
        wiring.two_d("Softmax", x)
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.50: Softmax.forward: shift by the row maximum, exponentiate, normalize
        x = self.x.output  # (B, C)
        exps = torch.exp(x - x.max(dim=1, keepdim=True).values)  # (B, C), each <= 1
        self.output = exps / exps.sum(dim=1, keepdim=True)
        ### END SOLUTION

    rule = {"x": ("Y * (G - rowsum(G * Y))", ["output"])}  # Y: the output, P above

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.51: Softmax.backward: P * (G - rowsum(G * P)), from the saved output P
        p, g = self.output, self.grad  # (B, C) each
        self.x.accumulate_grad(p * (g - (g * p).sum(dim=1, keepdim=True)))
        ### END SOLUTION
