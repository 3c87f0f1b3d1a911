r"""What every layer shares: its gradient, and the graph's leaves (:class:`Input`).

:class:`Layer` is a node of the computation graph. It reads its inputs' ``output``, writes
its own ``output`` in ``forward``, and in ``backward`` turns ``grad`` =
$\partial J/\partial(\text{output})$ into $\partial J/\partial(\text{input})$ for each
input, handed over with that input's :meth:`Layer.accumulate_grad`. It *adds*: a layer read
by several layers receives the sum of their gradients, the multivariate chain rule.

The local rules themselves (``Linear``, ``ReLU``, the losses, ...) are in
:mod:`scratchlib.layers`; the shape checks made when layers are wired together are in
:mod:`scratchlib.layers.wiring`, so the per-step code is plain tensor arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from scratchlib.course import validate
from scratchlib.layers import wiring
from scratchlib.mlp import glorot_uniform


class Layer:
    r"""A node of the graph: ``output``, ``grad`` (same shape), forward and backward.

    ``grad`` is a plain tensor holding $\partial J/\partial(\text{output})$, or None while no
    gradient has arrived, as torch's ``.grad``: :meth:`accumulate_grad` adds to it and
    :meth:`clear_grad` sets it back to None.

    ``needs_grad`` is True for a layer on its own. A :class:`scratchlib.layers.network.Network` sets
    it to "a parameter lies upstream of this layer"; a gradient handed to a layer that needs
    none (a data ``Input``) is dropped, as torch skips tensors without ``requires_grad``.

    ``rule`` (on each subclass, beside its ``backward``) writes the local backward rule in
    plain text for the backward stepper: for each input (by attribute name), the formula of
    its gradient and the operands it reads ("G" is ``grad``, "Y" is ``output``, "x:X" shows
    input ``x`` as X).
    """

    rule: dict = {}
    needs_grad = True

    def __init__(
        self,
        *inputs: Layer,
        shape: tuple,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        wiring.check_inputs(type(self).__name__, inputs, Layer)
        self.inputs = inputs
        first = next((layer for layer in inputs if layer.dtype.is_floating_point), inputs[0] if inputs else None)
        self.dtype = dtype if dtype is not None else (first.dtype if first else torch.get_default_dtype())
        self.device = torch.device(device) if device is not None else (first.device if first else torch.device("cpu"))
        self.shape = tuple(shape)  # the shape at wiring time; the batch size may change later
        self.output: torch.Tensor | None = None
        self.grad: torch.Tensor | None = None

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
        """Raise a clear error when backward is called before any forward, or before any gradient arrived."""
        if self.output is None:
            raise RuntimeError(f"{self!r}.backward called before forward: run forward first")
        if self.grad is None:
            raise RuntimeError(
                f"{self!r}.backward called before any gradient arrived: hand it dJ/d(output) with accumulate_grad first"
            )

    def accumulate_grad(self, g: torch.Tensor) -> None:
        r"""Add one consumer's $\partial J/\partial(\text{output})$ (shape of ``output``) to ``grad``.

        A gradient of another shape is refused, naming the layer, before anything changes.
        The first gradient since :meth:`clear_grad` becomes ``grad`` as it is (as torch's
        ``AccumulateGrad`` takes it); each later one is added into a new tensor, never into
        the one stored, which may be another layer's too (a layer may hand one and the same
        tensor to several inputs).
        """
        shape = self.output.shape if self.output is not None else self.shape  # a batch size may change
        if g.shape != shape:
            raise ValueError(
                f"{self!r}.accumulate_grad: gradient must have the shape of the "
                f"output {tuple(shape)}, got {tuple(g.shape)}"
            )
        if not self.needs_grad:
            return
        if self.grad is None or self.grad.shape != shape:  # the first gradient (of this batch size)
            self.grad = g
            return
        ### BEGIN SOLUTION 4.1: accumulate_grad: a later share of dJ/d(output) joins the grad already held
        self.grad = self.grad + g
        ### END SOLUTION

    def clear_grad(self) -> None:
        """Forget the gradient: ``grad`` becomes None, as torch's ``zero_grad`` sets it (it stands for zeros)."""
        if self.grad is None:  # nothing held: nothing to forget
            return
        ### BEGIN SOLUTION 4.31: clear_grad: forget the gradient held, as torch's zero_grad does
        self.grad = None
        ### END SOLUTION

    def step(self, step_size: float) -> None:
        """Plain SGD; layers without parameters only check the step size."""
        validate.positive(f"{self.name}.step", "step_size", step_size)


class Input(Layer):
    r"""A leaf of the graph: data (``train=False``) or a parameter (``train=True``).

    ``set(value)`` stores a tensor of the declared shape; a data Input accepts any
    batch size (first dimension) and keeps a reference (no copy per batch), a
    parameter copies, so ``step`` never writes into the caller's tensor. Only
    parameters move in ``step``: $W \leftarrow W - \eta\,\partial J/\partial W$.

    Dtype: a parameter holds its declared floating-point dtype. A data Input takes each
    value's kind as it comes: float values in its float dtype (the declared one; torch's
    default for an Input declared integer), integer values as int64 (class labels: torch
    gathers and indexes with int64), whatever it held before. ``dtype`` is that of the value held.
    Values are detached from any autograd graph, as the engine's ``Tensor`` detaches its data.

    Device: with ``device`` given, values are moved there; without, the Input follows
    the device of the values it is given (set parameters and data before wiring the
    layers that read them, which take their device from their inputs).
    """

    def __init__(
        self,
        shape: int | Sequence[int],
        train: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        shape = wiring.input_shape(shape)
        train = wiring.input_train(train)
        dtype = wiring.input_dtype(shape, train, dtype)
        self._float_dtype = dtype if dtype.is_floating_point else torch.get_default_dtype()
        dtype = dtype if dtype.is_floating_point else torch.int64  # integers are held as int64 (see set)
        super().__init__(shape=shape, dtype=dtype, device=device)
        self._fixed_device = device is not None
        self.train = train
        self.output = torch.zeros(shape, dtype=dtype, device=self.device)
        self.label_range: int | None = None  # set by SoftmaxCrossEntropy on its target

    def __repr__(self) -> str:
        return f"Input{self.shape}" + (" (parameter)" if self.train else "")

    def set(self, value: torch.Tensor | Sequence | float) -> Input:
        """Store ``value`` (checked against the declared shape first); returns self."""
        value = wiring.input_value(f"{self!r}.set", value)  # a detached tensor of numbers
        shape = tuple(value.shape)
        if self.train or len(self.shape) == 0:
            ok = shape == self.shape
        else:
            ok = len(shape) == len(self.shape) and shape[1:] == self.shape[1:]
        if not ok:
            what = "" if self.train or not self.shape else " (any batch size)"
            raise ValueError(f"{self!r}.set: expected shape {self.shape}{what}, got {shape}")
        if self.label_range is not None:
            value = validate.labels(f"{self!r}.set", value, self.label_range)
        if not self._fixed_device and value.device != self.device:
            self._move_to(value.device)
        if self.train:
            self.output.copy_(value)
        else:
            dtype = self._float_dtype if value.is_floating_point() else torch.int64
            if value.device != self.device or value.dtype != dtype:
                value = value.to(self.device, dtype)
            self.output = value
            self.dtype = value.dtype
        return self

    def _move_to(self, device: torch.device) -> None:
        """Follow values onto another device (value and gradient move along)."""
        self.device = device
        self.output = self.output.to(device)
        if self.grad is not None:
            self.grad = self.grad.to(device)

    def randomize(self, generator: torch.Generator | None = None) -> Input:
        r"""Random values; returns self.

        A 2-D parameter (a weight matrix, (out, in)) gets Glorot uniform
        $U(-a, a)$, $a = \sqrt{6 / (\text{in} + \text{out})}$; anything else a standard normal.
        The numbers are drawn on the CPU from ``generator``, so they do not depend on the device.
        """
        generator = validate.generator(f"{self!r}.randomize", generator)
        dtype = self.dtype if self.dtype.is_floating_point else self._float_dtype
        if self.train and len(self.shape) == 2:
            value = glorot_uniform(*self.shape, generator=generator, dtype=dtype)
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
        step_size = validate.positive(f"{self!r}.step", "step_size", step_size)
        if self.train and self.grad is not None:  # without a gradient nothing moves (as in torch's SGD)
            # the same guard as Network.step: a step that would make the weight NaN or inf is refused
            validate.safe_step(f"{self!r}.step", [self.output], [self.grad], step_size, name_of=lambda i: repr(self))
            ### BEGIN SOLUTION 4.30: Input.step: one SGD step of a parameter, in place, against its gradient
            self.output.add_(self.grad, alpha=-step_size)  # W <- W - step_size dJ/dW, in place
            ### END SOLUTION
