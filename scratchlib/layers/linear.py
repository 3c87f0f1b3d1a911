r"""Notebook 04: the affine layer $Z = X W^\top + b$; the student writes its forward and backward.

Rows are samples (batch first); ``W`` is in torch's layout, (out_features, in_features).
``rule`` beside ``backward`` is the same rule in plain text, for the backward stepper.
"""

from __future__ import annotations

from scratchlib.layers import wiring
from scratchlib.layers.base import Layer


class Linear(Layer):
    r"""$Z = X W^\top + b$: an affine map of each row.

    Shapes: X (B, in), W (out, in), b (out,), Z (B, out). Backward: from $G = \partial J/\partial Z$,
    (B, out), ``backward`` hands $dX$, $dW$ and $db$ to the inputs, as notebook 04's exercise 4.25
    derives them.
    BEGIN TEACHER ONLY
    $dX = G W$, $dW = G^\top X$, $db = \sum_i G_{i,:}$ (the column sums of G).
    END TEACHER ONLY
    """

    def __init__(self, x: Layer, W: Layer, b: Layer):
        wiring.linear(x, W, b)
        super().__init__(x, W, b, shape=(x.shape[0], W.shape[0]))
        self.x, self.W, self.b = x, W, b

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.2: Linear.forward: Z = X W^T + b
        self.output = self.x.output @ self.W.output.T + self.b.output  # (B, out)
        ### END SOLUTION

    # exercise 4.25's result as the backward stepper writes it: check your derivation against it
    rule = {"x": ("G W", ["W"]), "W": ("G^T X", ["x:X"]), "b": ("column sums of G", [])}

    def backward(self) -> None:
        self.check_forward_ran()
        g = self.grad  # (B, out)
        ### BEGIN SOLUTION 4.3: Linear.backward: hand dJ/dX, dJ/dW and dJ/db (your exercise 4.25) to the inputs
        if self.x.needs_grad:  # data X inside a Network needs none: skip a whole matrix product
            self.x.accumulate_grad(g @ self.W.output)  # (B, in)
        self.W.accumulate_grad(g.T @ self.x.output)  # (out, in)
        self.b.accumulate_grad(g.sum(0))  # (out,)
        ### END SOLUTION
