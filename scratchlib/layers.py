r"""The layer library: one small class per operation, each with its own local backward.

Each layer reads its inputs' ``output``, writes its own ``output`` in ``forward``, and in
``backward`` turns ``grad`` = $G = \partial J / \partial(\text{output})$ into
$\partial J / \partial(\text{input})$ for each input, handed over with that input's
``accumulate_grad`` (which adds). The code is the formula in the class docstring; what
they share (the gradient, :class:`Input`) is in
:mod:`scratchlib.layer_base`, the shape checks made when layers are wired together in
:mod:`scratchlib.wiring`.

Rows are samples (batch first); weights are in torch's layout, ``W`` of shape
(out_features, in_features), so $Z = X W^\top + b$.

``rule`` beside each ``backward`` is the same rule in plain text, for the backward stepper.
"""
from __future__ import annotations

import torch

from scratchlib import wiring
from scratchlib.layer_base import Input, Layer

__all__ = ["Layer", "Input", "Linear", "ReLU", "Sigmoid", "Tanh", "Scale", "Sum", "Regularization",
           "MSELoss", "SoftmaxCrossEntropy", "Softmax"]


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
        g = self.grad                                                   # (B, out)
        ### BEGIN SOLUTION 4.3: Linear.backward: hand dJ/dX = G W, dJ/dW = G^T X, dJ/db = column sums of G
        if self.x.needs_grad:  # data X inside a Network needs none: skip a whole matrix product
            self.x.accumulate_grad(g @ self.W.output)                   # (B, in)
        self.W.accumulate_grad(g.T @ self.x.output)                     # (out, in)
        self.b.accumulate_grad(g.sum(0))                                # (out,)
        ### END SOLUTION


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


class Scale(Layer):
    r"""$Y = c X$ for a fixed number $c$.  Backward: $\partial J/\partial X = c\, G$."""

    def __init__(self, x: Layer, factor: float):
        factor = wiring.factor("Scale", "factor", factor)
        super().__init__(x, shape=x.shape)
        self.x, self.factor = x, factor

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.10: Scale.forward
        self.output = self.x.output * self.factor
        ### END SOLUTION

    rule = {"x": ("c G,  c = {factor:g}", [])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.11: Scale.backward
        self.x.accumulate_grad(self.grad * self.factor)
        ### END SOLUTION


class Sum(Layer):
    r"""$s = a + b$ (two scalars, e.g. loss + regularization).

    This ``Sum`` adds two layers' values; the engine's ``scratchlib.autograd.ops.Sum`` is a
    different thing: it reduces one tensor over axes.

    Backward: $\partial J/\partial a = \partial J/\partial b = \partial J/\partial s$.
    """

    def __init__(self, a: Layer, b: Layer):
        wiring.same_shape("Sum", ("a", "b"), a, b)
        super().__init__(a, b, shape=a.shape)
        self.a, self.b = a, b

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.12: Sum.forward
        self.output = self.a.output + self.b.output
        ### END SOLUTION

    rule = {"a": ("g  (a sum copies its gradient)", []), "b": ("g  (a sum copies its gradient)", [])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.13: Sum.backward: both inputs receive the same gradient
        self.a.accumulate_grad(self.grad)
        self.b.accumulate_grad(self.grad)
        ### END SOLUTION


class Regularization(Layer):
    r"""$R = \lambda \lVert W \rVert_F^2 = \lambda \sum_{jk} W_{jk}^2$ (weight decay), a scalar.

    Backward: $\partial J/\partial W = 2 \lambda\, g\, W$ with $g = \partial J/\partial R$.
    """

    def __init__(self, W: Layer, strength: float):
        strength = wiring.strength("Regularization", strength)
        super().__init__(W, shape=())
        self.W, self.strength = W, strength

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.14: Regularization.forward: strength times the sum of squares
        self.output = self.strength * (self.W.output ** 2).sum()
        ### END SOLUTION

    rule = {"W": ("2 lambda g W,  lambda = {strength:g}", ["W"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.15: Regularization.backward: 2 * strength * g * W
        self.W.accumulate_grad(2 * self.strength * self.grad * self.W.output)
        ### END SOLUTION


class MSELoss(Layer):
    r"""$L = \frac{1}{N} \sum (P - T)^2$ over all $N$ elements (as torch.nn.MSELoss).

    Backward: $\partial J/\partial P = \frac{2 g}{N}(P - T)$ and
    $\partial J/\partial T = -\partial J/\partial P$, with $g = \partial J/\partial L$.
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
        self.output = (self.diff ** 2).mean()
        ### END SOLUTION

    rule = {"pred": ("(2 g / N) (P - T)", ["pred:P", "target:T"]),
            "target": ("-(2 g / N) (P - T)", ["pred:P", "target:T"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.17: MSELoss.backward: 2 g (P - T) / N to pred, its negative to target
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
        wiring.labels_at_forward(logits, target, self.classes, isinstance(self.target, Input))
        ### BEGIN SOLUTION 4.18: SoftmaxCrossEntropy.forward: log-softmax once, softmax from it, mean NLL
        log_p = torch.log_softmax(logits, dim=1)                        # (B, C), stable
        self.classifications = log_p.exp()                              # softmax, (B, C)
        self.output = -log_p.gather(1, target.unsqueeze(1)).mean()      # -log p of each row's label
        ### END SOLUTION

    rule = {"logits": ("(g / B) (softmax(Yhat) - onehot(y))", ["logits:Yhat", "target:y"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.19: SoftmaxCrossEntropy.backward: g (softmax - onehot) / B
        p = self.classifications                                        # (B, C)
        identity = torch.eye(p.shape[1], dtype=p.dtype, device=p.device)  # (C, C)
        onehot = identity[self.target.output]                           # row t of I, (B, C)
        self.logits.accumulate_grad(self.grad / p.shape[0] * (p - onehot))
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
        x = self.x.output                                               # (B, C)
        exps = torch.exp(x - x.max(dim=1, keepdim=True).values)         # (B, C), each <= 1
        self.output = exps / exps.sum(dim=1, keepdim=True)
        ### END SOLUTION

    rule = {"x": ("Y * (G - rowsum(G * Y))", ["output"])}

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.31: Softmax.backward: Y * (G - rowsum(G * Y))
        y, g = self.output, self.grad                                   # (B, C) each
        self.x.accumulate_grad(y * (g - (g * y).sum(dim=1, keepdim=True)))
        ### END SOLUTION
