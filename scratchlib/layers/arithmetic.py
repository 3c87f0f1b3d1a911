r"""Notebook 04: Scale and Sum, the layers that only combine values; the student writes both passes.

``rule`` beside each ``backward`` is the same rule in plain text, for the backward stepper.
"""

from __future__ import annotations

from scratchlib.layers import wiring
from scratchlib.layers.base import Layer


class Scale(Layer):
    r"""The output $c X$, for a fixed number $c$ (``factor``), of the shape of $X$.

    Backward: from $G = \partial J/\partial(\text{output})$, ``backward`` hands $\partial J/\partial X$
    to the input, as notebook 04's exercise 4.29 derives it.
    BEGIN TEACHER ONLY
    $dX = c\, G$.
    END TEACHER ONLY
    """

    def __init__(self, x: Layer, factor: float):
        factor = wiring.factor("Scale", "factor", factor)
        super().__init__(x, shape=x.shape)
        self.x, self.factor = x, factor

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.10: Scale.forward
        self.output = self.x.output * self.factor
        ### END SOLUTION

    rule = {"x": ("c G,  c = {factor:g}", [])}  # exercise 4.29's result, for the stepper

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.11: Scale.backward: hand dJ/dX (your exercise 4.29) to the input
        self.x.accumulate_grad(self.grad * self.factor)
        ### END SOLUTION


class Sum(Layer):
    r"""$s = a + b$ (two scalars, e.g. loss + regularization).

    This ``Sum`` adds two layers' values; the engine's ``scratchlib.autograd.ops.Sum`` is a
    different thing: it reduces one tensor over axes.

    Backward: from $g = \partial J/\partial s$, ``backward`` hands $\partial J/\partial a$ and
    $\partial J/\partial b$ to the inputs, as notebook 04's exercise 4.29 derives them.
    BEGIN TEACHER ONLY
    $\partial J/\partial a = \partial J/\partial b = g$: a sum copies its gradient to both inputs.
    END TEACHER ONLY
    """

    def __init__(self, a: Layer, b: Layer):
        wiring.same_shape("Sum", ("a", "b"), a, b)
        super().__init__(a, b, shape=a.shape)
        self.a, self.b = a, b

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.12: Sum.forward
        self.output = self.a.output + self.b.output
        ### END SOLUTION

    # exercise 4.29's result, for the stepper
    rule = {"a": ("g  (a sum copies its gradient)", []), "b": ("g  (a sum copies its gradient)", [])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.13: Sum.backward: hand dJ/da and dJ/db (your exercise 4.29) to the inputs
        self.a.accumulate_grad(self.grad)
        self.b.accumulate_grad(self.grad)
        ### END SOLUTION
