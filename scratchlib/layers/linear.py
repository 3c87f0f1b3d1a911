r"""Notebook 04: the affine layer $Z = X W^\top + b$; the student writes its forward and backward.

Rows are samples (batch first); ``W`` is in torch's layout, (out_features, in_features).
``rule`` beside ``backward`` is the same rule in plain text, for the backward stepper.
"""

from __future__ import annotations

from scratchlib.layers import wiring
from scratchlib.layers.base import Layer


class Linear(Layer):
    r"""$Z = X W^\top + b$: an affine map of each row.

    Shapes: X (B, in), W (out, in), b (out,), Z (B, out). With $G = \partial J/\partial Z$:
    $\partial J/\partial X = G W$, $\partial J/\partial W = G^\top X$,
    $\partial J/\partial b = \sum_i G_{i,:}$ (the column sums of G).
    """

    def __init__(self, x: Layer, W: Layer, b: Layer):
        wiring.linear(x, W, b)
        super().__init__(x, W, b, shape=(x.shape[0], W.shape[0]))
        self.x, self.W, self.b = x, W, b

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.2: Linear.forward: Z = X W^T + b
        self.output = self.x.output @ self.W.output.T + self.b.output  # (B, out)
        ### END SOLUTION

    rule = {"x": ("G W", ["W"]), "W": ("G^T X", ["x:X"]), "b": ("column sums of G", [])}

    def backward(self) -> None:
        self.check_forward_ran()
        g = self.grad  # (B, out)
        ### BEGIN SOLUTION 4.3: Linear.backward: hand dJ/dX = G W, dJ/dW = G^T X, dJ/db = column sums of G
        if self.x.needs_grad:  # data X inside a Network needs none: skip a whole matrix product
            self.x.accumulate_grad(g @ self.W.output)  # (B, in)
        self.W.accumulate_grad(g.T @ self.x.output)  # (out, in)
        self.b.accumulate_grad(g.sum(0))  # (out,)
        ### END SOLUTION
