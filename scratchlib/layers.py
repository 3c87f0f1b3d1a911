r"""The layer library: one small class per operation, each with its own local backward.

Every layer is a node of a computation graph. It reads its inputs' ``output``,
writes its own ``output`` in :meth:`Layer.forward`, and in :meth:`Layer.backward`
turns ``grad`` = $\partial J / \partial(\text{output})$ into
$\partial J / \partial(\text{input})$ for each input, handed over with that input's
:meth:`Layer.accumulate_grad` (it *adds*: a layer read by several layers receives
the sum of their gradients, the multivariate chain rule). Shapes are checked when
layers are wired together, so the per-step work is plain tensor arithmetic.

Rows are samples (batch first); weights are in torch's layout, ``W`` of shape
(out_features, in_features), so $Z = X W^\top + b$.

Used on its own, a layer hands a gradient to every input, data included. Inside a
:class:`scratchlib.network.Network` each layer's ``needs_grad`` says whether any
parameter lies upstream of it; gradients nobody needs (into data ``Input``\ s) are
skipped there, as torch skips tensors without ``requires_grad``.
"""
from __future__ import annotations

import math

import torch

from scratchlib import validate


def _shape(t) -> tuple:
    return tuple(t.shape)


def check_step_size(owner: str, step_size) -> float:
    """``step_size`` as a float, or an error naming ``owner`` (before anything moves)."""
    return validate.positive(f"{owner}.step", "step_size", step_size)


class Layer:
    r"""A node of the graph: ``output``, ``grad`` (same shape), forward and backward.

    ``grad`` holds $\partial J/\partial(\text{output})$. Its buffer is allocated once,
    when the layer is wired (again only if the batch size changes), and only ever
    added to (:meth:`accumulate_grad`) or cleared (:meth:`clear_grad`). Clearing is
    lazy: it marks the buffer as zero, and the next accumulation *writes* instead of
    adding (one pass over memory instead of three); reading ``grad`` in between
    gives zeros, as it should.
    """

    def __init__(self, *inputs: Layer, shape: tuple, dtype=None, device=None):
        for i, layer in enumerate(inputs):
            if not isinstance(layer, Layer):
                raise TypeError(f"{type(self).__name__}: input {i} must be a Layer "
                                f"(e.g. an Input), got {type(layer).__name__}")
        devices = {str(l.device) for l in inputs}
        if len(devices) > 1:
            raise ValueError(f"{type(self).__name__}: inputs live on different devices: "
                             + ", ".join(f"{l!r} on {l.device}" for l in inputs))
        self.inputs = inputs
        first = next((l for l in inputs if l.dtype.is_floating_point), inputs[0] if inputs else None)
        self.dtype = dtype if dtype is not None else (first.dtype if first else torch.get_default_dtype())
        self.device = torch.device(device) if device is not None else (
            first.device if first else torch.device("cpu"))
        self.shape = tuple(shape)  # the shape at wiring time; the batch size may change later
        self.output: torch.Tensor | None = None
        grad_dtype = self.dtype if self.dtype.is_floating_point else torch.get_default_dtype()
        self._grad = torch.zeros(self.shape, dtype=grad_dtype, device=self.device)
        self._grad_is_zero = True  # the buffer's contents are stale: it stands for zeros
        # True on its own; a Network sets it to "a parameter lies upstream of this layer".
        self.needs_grad = True

    @property
    def grad(self) -> torch.Tensor:
        r"""$\partial J/\partial(\text{output})$, the shape of ``output``."""
        if self._grad_is_zero:
            self._grad.zero_()
            self._grad_is_zero = False
        return self._grad

    @grad.setter
    def grad(self, value: torch.Tensor) -> None:
        self._grad = value
        self._grad_is_zero = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{self.name}{self.shape}"

    def forward(self) -> None:
        """Compute ``self.output`` from the inputs' outputs."""
        raise NotImplementedError

    def backward(self) -> None:
        """Hand $\\partial J/\\partial(\\text{input})$ to each input (``self.grad`` is dJ/d(output))."""
        raise NotImplementedError

    def check_forward_ran(self) -> None:
        """Raise a clear error when backward is called before any forward."""
        if self.output is None:
            raise RuntimeError(f"{self!r}.backward called before forward: run forward first")

    def _buffer_for(self, shape) -> torch.Tensor:
        """The grad buffer, checked against ``shape`` (re-allocated for a new batch size)."""
        grad = self._grad
        if shape != grad.shape:
            expected = _shape(self.output) if self.output is not None else self.shape
            if tuple(shape) != expected:
                raise ValueError(f"{self!r}.accumulate_grad: gradient must have the shape of the "
                                 f"output {expected}, got {tuple(shape)}")
            device = self.output.device if self.output is not None else grad.device
            grad = self._grad = torch.empty(expected, dtype=grad.dtype, device=device)
            self._grad_is_zero = True
        return grad

    def accumulate_grad(self, g: torch.Tensor) -> None:
        r"""``grad += g``: add one consumer's $\partial J/\partial(\text{output})$ (shape of ``output``)."""
        grad = self._buffer_for(g.shape)
        ### BEGIN SOLUTION 4.1: accumulate_grad: add g into the gradient buffer in place
        if self._grad_is_zero:       # grad is 0 + g: write g, no need to zero first
            grad.copy_(g)
            self._grad_is_zero = False
        else:
            grad.add_(g)
        ### END SOLUTION

    def accumulate_matmul(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """``accumulate_grad(a @ b)`` in one fused call, with no temporary (``addmm_``)."""
        grad = self._buffer_for((a.shape[0], b.shape[1]))
        if self._grad_is_zero:
            torch.mm(a, b, out=grad)
            self._grad_is_zero = False
        else:
            grad.addmm_(a, b)

    def accumulate_product(self, a: torch.Tensor, b: torch.Tensor, value: float = 1.0) -> None:
        """``accumulate_grad(value * a * b)`` in one fused call (``addcmul_``).

        ``a`` has the shape of ``grad``; ``b`` has it too, or is a scalar tensor (such as
        the upstream gradient of a scalar layer: no host synchronization needed).
        """
        grad = self._buffer_for(a.shape)
        if self._grad_is_zero:
            torch.mul(a, b if value == 1.0 else b * value, out=grad)
            self._grad_is_zero = False
        else:
            grad.addcmul_(a, b, value=value)

    def clear_grad(self) -> None:
        """Set ``grad`` to zeros (lazily: the buffer is overwritten by the next accumulation)."""
        self._grad_is_zero = True

    def step(self, step_size: float) -> None:
        """Plain SGD; layers without parameters only check the step size."""
        check_step_size(self.name, step_size)


class Input(Layer):
    r"""A leaf of the graph: data (``train=False``) or a parameter (``train=True``).

    ``set(value)`` stores a tensor of the declared shape; a data Input accepts any
    batch size (first dimension) and keeps a reference (no copy per batch), a
    parameter copies, so ``step`` never writes into the caller's tensor. Only
    parameters move in ``step``: $W \leftarrow W - \eta\,\partial J/\partial W$.

    Device: with ``device`` given, values are moved there; without, the Input follows
    the device of the values it is given (set parameters and data before wiring the
    layers that read them, which take their device from their inputs).
    """

    def __init__(self, shape, train: bool = False, dtype=None, device=None):
        shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"Input: shape must have non-negative sizes, got {shape}")
        dtype = dtype if dtype is not None else torch.get_default_dtype()
        super().__init__(shape=shape, dtype=dtype, device=device)
        self._fixed_device = device is not None
        self.train = bool(train)
        self.output = torch.zeros(shape, dtype=dtype, device=self.device)
        self.label_range: int | None = None  # set by SoftmaxCrossEntropy on its target

    def __repr__(self) -> str:
        return f"Input{self.shape}" + (" (parameter)" if self.train else "")

    def set(self, value) -> Input:
        """Store ``value`` (checked against the declared shape first); returns self."""
        value = torch.as_tensor(value)
        shape = _shape(value)
        if self.train or len(self.shape) == 0:
            ok = shape == self.shape
        else:
            ok = len(shape) == len(self.shape) and shape[1:] == self.shape[1:]
        if not ok:
            what = "" if self.train or not self.shape else " (any batch size)"
            raise ValueError(f"{self!r}.set: expected shape {self.shape}{what}, got {shape}")
        if self.label_range is not None:
            check_labels(value, self.label_range, f"{self!r}.set")
        if not self._fixed_device and value.device != self.device:
            self._move_to(value.device)
        if self.train:
            self.output.copy_(value)
        else:
            if value.device != self.device or (value.is_floating_point() and value.dtype != self.dtype):
                value = value.to(self.device, self.dtype if value.is_floating_point() else value.dtype)
            self.output = value
            self.dtype = value.dtype
        return self

    def _move_to(self, device: torch.device) -> None:
        """Follow values onto another device (value and grad buffer move along)."""
        self.device = device
        self.output = self.output.to(device)
        self._grad = torch.zeros(self._grad.shape, dtype=self._grad.dtype, device=device)
        self._grad_is_zero = True

    def randomize(self, generator: torch.Generator | None = None) -> Input:
        r"""Random values; returns self.

        A 2-D parameter (a weight matrix, (out, in)) gets Glorot uniform
        $U(-a, a)$, $a = \sqrt{6 / (\text{in} + \text{out})}$; anything else a standard normal.
        The numbers are drawn on the CPU from ``generator``, so they do not depend on the device.
        """
        dtype = self.dtype if self.dtype.is_floating_point else torch.get_default_dtype()
        if self.train and len(self.shape) == 2:
            bound = math.sqrt(6.0 / max(1, self.shape[0] + self.shape[1]))
            value = (torch.rand(self.shape, generator=generator, dtype=dtype) * 2 - 1) * bound
        else:
            value = torch.randn(self.output.shape, generator=generator, dtype=dtype)
        if self.train:
            self.output.copy_(value)
        else:
            self.output = value.to(self.device)
            self.dtype = dtype
        return self

    def forward(self) -> None:
        """Nothing to compute: the value is whatever was last set."""

    def backward(self) -> None:
        """A leaf: its gradient stays in ``grad``."""

    def step(self, step_size: float) -> None:
        r"""$W \leftarrow W - \eta\, \partial J / \partial W$ for a parameter; data never moves."""
        step_size = check_step_size(repr(self), step_size)
        if self.train:
            self.output.add_(self.grad, alpha=-step_size)


def check_labels(labels: torch.Tensor, classes: int, where: str) -> None:
    """Integer labels in [0, classes), or a ValueError naming ``where`` (the package's one rule)."""
    validate.labels(where, labels, classes)


class Linear(Layer):
    r"""$Z = X W^\top + b$: an affine map of each row.

    Shapes: X (B, in), W (out, in), b (out,), Z (B, out). With $G = \partial J/\partial Z$:
    $\partial J/\partial X = G W$, $\partial J/\partial W = G^\top X$,
    $\partial J/\partial b = \sum_i G_{i,:}$ (the column sums of G).
    """

    def __init__(self, x: Layer, W: Layer, b: Layer):
        if len(W.shape) != 2:
            raise ValueError(f"Linear: W must be 2-D (out_features, in_features), got shape {W.shape}")
        out_features, in_features = W.shape
        if len(x.shape) != 2 or x.shape[1] != in_features:
            raise ValueError(f"Linear: x must have shape (batch, {in_features}) to match W of shape "
                             f"{W.shape}, got {x.shape}")
        if b.shape != (out_features,):
            raise ValueError(f"Linear: b must have shape ({out_features},) to match W of shape "
                             f"{W.shape}, got {b.shape}")
        super().__init__(x, W, b, shape=(x.shape[0], out_features))
        self.x, self.W, self.b = x, W, b

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.2: Linear.forward: Z = X W^T + b in one fused call
        self.output = torch.addmm(self.b.output, self.x.output, self.W.output.t())  # (B, out)
        ### END SOLUTION

    def backward(self) -> None:
        self.check_forward_ran()
        g = self.grad                                                  # (B, out)
        ### BEGIN SOLUTION 4.3: Linear.backward: hand dJ/dX, dJ/dW, dJ/db to the inputs
        if self.x.needs_grad:  # accumulate_grad(g @ W), written straight into x's buffer
            self.x.accumulate_matmul(g, self.W.output)                 # (B, in)
        if self.W.needs_grad:  # accumulate_grad(g.T @ X)
            self.W.accumulate_matmul(g.t(), self.x.output)             # (out, in)
        if self.b.needs_grad:
            self.b.accumulate_grad(g.sum(0))                           # (out,)
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

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.5: ReLU.backward: pass the gradient where the input was positive
        if self.x.needs_grad:
            self.x.accumulate_product(self.grad, self.output > 0)
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

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.7: Sigmoid.backward: G * Y * (1 - Y), from the saved output
        if self.x.needs_grad:
            y = self.output
            self.x.accumulate_product(self.grad, y * (1 - y))
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

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.9: Tanh.backward: G * (1 - Y^2), from the saved output
        if self.x.needs_grad:
            y = self.output
            self.x.accumulate_product(self.grad, 1 - y * y)
        ### END SOLUTION


class Scale(Layer):
    r"""$Y = c X$ for a fixed number $c$.  Backward: $\partial J/\partial X = c\, G$."""

    def __init__(self, x: Layer, factor: float):
        factor = float(factor)
        if not math.isfinite(factor):
            raise ValueError(f"Scale: factor must be finite, got {factor}")
        super().__init__(x, shape=x.shape)
        self.x, self.factor = x, factor

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.10: Scale.forward
        self.output = self.x.output * self.factor
        ### END SOLUTION

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.11: Scale.backward
        if self.x.needs_grad:
            self.x.accumulate_grad(self.grad * self.factor)
        ### END SOLUTION


class Sum(Layer):
    r"""$s = a + b$ (two scalars, e.g. loss + regularization).

    This ``Sum`` adds two layers' values; the engine's ``scratchlib.autograd.ops.Sum`` is a
    different thing: it reduces one tensor over axes.

    Backward: $\partial J/\partial a = \partial J/\partial b = \partial J/\partial s$.
    """

    def __init__(self, a: Layer, b: Layer):
        if a.shape != b.shape:
            raise ValueError(f"Sum: a and b must have the same shape, got {a.shape} and {b.shape}")
        super().__init__(a, b, shape=a.shape)
        self.a, self.b = a, b

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.12: Sum.forward
        self.output = self.a.output + self.b.output
        ### END SOLUTION

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.13: Sum.backward: both inputs receive the same gradient
        if self.a.needs_grad:
            self.a.accumulate_grad(self.grad)
        if self.b.needs_grad:
            self.b.accumulate_grad(self.grad)
        ### END SOLUTION


class Regularization(Layer):
    r"""$R = \lambda \lVert W \rVert_F^2 = \lambda \sum_{jk} W_{jk}^2$ (weight decay), a scalar.

    Backward: $\partial J/\partial W = 2 \lambda\, g\, W$ with $g = \partial J/\partial R$.
    """

    def __init__(self, W: Layer, strength: float):
        strength = float(strength)
        if not (math.isfinite(strength) and strength >= 0):
            raise ValueError(f"Regularization: strength must be finite and >= 0, got {strength}")
        super().__init__(W, shape=())
        self.W, self.strength = W, strength

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.14: Regularization.forward: strength times the sum of squares
        w = self.W.output.reshape(-1)
        self.output = torch.dot(w, w) * self.strength
        ### END SOLUTION

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.15: Regularization.backward: 2 * strength * g * W
        if self.W.needs_grad:
            self.W.accumulate_product(self.W.output, self.grad, 2 * self.strength)  # += 2 lambda g W
        ### END SOLUTION


class MSELoss(Layer):
    r"""$L = \frac{1}{N} \sum (P - T)^2$ over all $N$ elements (as torch.nn.MSELoss).

    Backward: $\partial J/\partial P = \frac{2 g}{N}(P - T)$ and
    $\partial J/\partial T = -\partial J/\partial P$, with $g = \partial J/\partial L$.
    """

    def __init__(self, pred: Layer, target: Layer):
        if pred.shape != target.shape:
            raise ValueError(f"MSELoss: pred and target must have the same shape, got "
                             f"{pred.shape} and {target.shape}")
        super().__init__(pred, target, shape=())
        self.pred, self.target = pred, target

    def forward(self) -> None:
        pred, target = self.pred.output, self.target.output
        if pred.shape != target.shape:  # a batch-size change on one side only
            raise ValueError(f"MSELoss.forward: pred has shape {_shape(pred)} but target has "
                             f"shape {_shape(target)}")
        ### BEGIN SOLUTION 4.16: MSELoss.forward: mean of squared differences (keep the difference)
        self.diff = pred - target
        self.output = torch.mean(self.diff * self.diff)
        ### END SOLUTION

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.17: MSELoss.backward: 2 g (P - T) / N to pred, its negative to target
        scale = 2.0 / self.diff.numel()
        if self.pred.needs_grad:
            self.pred.accumulate_product(self.diff, self.grad, scale)      # += (2 g / N) (P - T)
        if self.target.needs_grad:
            self.target.accumulate_product(self.diff, self.grad, -scale)   # += -(2 g / N) (P - T)
        ### END SOLUTION


class SoftmaxCrossEntropy(Layer):
    r"""Mean cross-entropy of softmax(logits) against integer class labels; stable for any logits.

    With $\log p_{ic} = L_{ic} - \log \sum_k e^{L_{ik}}$ (log-softmax, computed once with
    the log-sum-exp shift), $J_{CE} = -\frac{1}{B} \sum_i \log p_{i, t_i}$.
    ``classifications`` $= p$ (the softmax, (B, C)) is the second output.
    Backward: $\partial J/\partial L = \frac{g}{B}(p - \mathrm{onehot}(t))$. The integer labels
    get no gradient. Shapes: logits (B, C), target (B,) integers in [0, C).
    """

    def __init__(self, logits: Layer, target: Layer):
        if len(logits.shape) != 2:
            raise ValueError(f"SoftmaxCrossEntropy: logits must be 2-D (batch, classes), got {logits.shape}")
        if target.shape != logits.shape[:1]:
            raise ValueError(f"SoftmaxCrossEntropy: target must have shape ({logits.shape[0]},) "
                             f"to match logits of shape {logits.shape}, got {target.shape}")
        classes = logits.shape[1]
        if isinstance(target, Input):
            if not target.dtype.is_floating_point or target.output.any():
                check_labels(target.output, classes, "SoftmaxCrossEntropy")
            target.label_range = classes  # later values are checked by target.set
        super().__init__(logits, target, shape=())
        self.logits, self.target, self.classes = logits, target, classes
        self.classifications: torch.Tensor | None = None
        self._minus_one = torch.tensor(-1.0, dtype=self.dtype, device=self.device)

    def forward(self) -> None:
        logits, target = self.logits.output, self.target.output
        if target.shape[0] != logits.shape[0]:  # a batch-size change on one side only
            raise ValueError(f"SoftmaxCrossEntropy.forward: {logits.shape[0]} rows of logits but "
                             f"{target.shape[0]} labels")
        if target.is_floating_point() or not isinstance(self.target, Input):
            check_labels(target, self.classes, "SoftmaxCrossEntropy.forward")  # Inputs check on set
        if logits.shape[0] == 0:
            raise ValueError("SoftmaxCrossEntropy.forward: the batch is empty (0 rows), "
                             "so there is no mean loss to compute")
        ### BEGIN SOLUTION 4.18: SoftmaxCrossEntropy.forward: log-softmax once, softmax from it, mean NLL
        self.index = target.unsqueeze(1)                               # (B, 1)
        log_p = torch.log_softmax(logits, dim=1)                       # (B, C), stable
        self.classifications = log_p.exp()                             # softmax, (B, C)
        self.output = log_p.gather(1, self.index).sum() * (-1.0 / logits.shape[0])
        ### END SOLUTION

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.19: SoftmaxCrossEntropy.backward: g (softmax - onehot) / B
        if self.logits.needs_grad:
            p = self.classifications                                   # (B, C)
            p_minus_onehot = p.scatter_add(1, self.index, self._minus_one.expand(self.index.shape))
            self.logits.accumulate_product(p_minus_onehot, self.grad, 1.0 / p.shape[0])
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
        if len(x.shape) != 2:
            raise ValueError(f"Softmax: input must be 2-D (batch, classes), got shape {x.shape}")
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self) -> None:
        ### BEGIN SOLUTION 4.30: Softmax.forward: shift by the row maximum, exponentiate, normalize
        x = self.x.output                                              # (B, C)
        exps = torch.exp(x - x.max(dim=1, keepdim=True).values)        # (B, C), each <= 1
        self.output = exps / exps.sum(dim=1, keepdim=True)
        ### END SOLUTION

    def backward(self) -> None:
        self.check_forward_ran()
        ### BEGIN SOLUTION 4.31: Softmax.backward: Y * (G - rowsum(G * Y))
        if self.x.needs_grad:
            y, g = self.output, self.grad                              # (B, C) each
            self.x.accumulate_grad(y * (g - (g * y).sum(dim=1, keepdim=True)))
        ### END SOLUTION
