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

import torch

from scratchlib.course import validate
from scratchlib.layers import wiring
from scratchlib.mlp import glorot_uniform


class Layer:
    r"""A node of the graph: ``output``, ``grad`` (same shape), forward and backward.

    ``grad`` is a plain tensor holding $\partial J/\partial(\text{output})$: gradients are
    added to it (:meth:`accumulate_grad`) and :meth:`clear_grad` sets it back to zeros.

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

    def __init__(self, *inputs: Layer, shape: tuple, dtype=None, device=None):
        wiring.check_inputs(type(self).__name__, inputs, Layer)
        self.inputs = inputs
        first = next((layer for layer in inputs if layer.dtype.is_floating_point), inputs[0] if inputs else None)
        self.dtype = dtype if dtype is not None else (first.dtype if first else torch.get_default_dtype())
        self.device = torch.device(device) if device is not None else (first.device if first else torch.device("cpu"))
        self.shape = tuple(shape)  # the shape at wiring time; the batch size may change later
        # None until the first forward (check_forward_ran says so); a tensor in every formula
        self.output: torch.Tensor = None  # type: ignore[assignment,unused-ignore]
        # integer outputs (labels) get a floating-point gradient
        grad_dtype = self.dtype if self.dtype.is_floating_point else torch.get_default_dtype()
        self.grad = torch.zeros(self.shape, dtype=grad_dtype, device=self.device)

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

    def output_shape(self) -> torch.Size:
        """The shape of ``output`` and ``grad``: the output's (a data Input's batch size may change),
        or the declared one."""
        return self.output.shape if self.output is not None else torch.Size(self.shape)

    def accumulate_grad(self, g: torch.Tensor) -> None:
        r"""``grad += g``: add one consumer's $\partial J/\partial(\text{output})$ (shape of ``output``).

        A gradient of another shape is refused, naming the layer, before anything changes.
        """
        shape = self.output_shape()
        if g.shape != shape:
            raise ValueError(
                f"{self!r}.accumulate_grad: gradient must have the shape of the "
                f"output {tuple(shape)}, got {tuple(g.shape)}"
            )
        if not self.needs_grad:
            return
        if self.grad.shape != shape:  # left from a batch of another size: start again from zeros
            self.clear_grad()
        ### BEGIN SOLUTION 4.1: accumulate_grad: add g to the gradient in place (grad += g)
        self.grad += g
        ### END SOLUTION

    def clear_grad(self) -> None:
        """Set ``grad`` to zeros, in place (as torch's ``zero_grad(set_to_none=False)``), of the output's shape."""
        shape = self.output_shape()
        if self.grad.shape == shape:
            self.grad.zero_()
        else:  # the batch size changed: zeros of the new shape
            self.grad = torch.zeros(shape, dtype=self.grad.dtype, device=self.device)

    def step(self, step_size: float) -> None:
        """Plain SGD; layers without parameters only check the step size."""
        validate.positive(f"{self.name}.step", "step_size", step_size)


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
        shape = tuple(value.shape)
        if self.train or len(self.shape) == 0:
            ok = shape == self.shape
        else:
            ok = len(shape) == len(self.shape) and shape[1:] == self.shape[1:]
        if not ok:
            what = "" if self.train or not self.shape else " (any batch size)"
            raise ValueError(f"{self!r}.set: expected shape {self.shape}{what}, got {shape}")
        if self.label_range is not None:
            validate.labels(f"{self!r}.set", value, self.label_range)
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
        """Follow values onto another device (value and gradient move along)."""
        self.device = device
        self.output = self.output.to(device)
        self.grad = torch.zeros(self.output_shape(), dtype=self.grad.dtype, device=device)

    def randomize(self, generator: torch.Generator | None = None) -> Input:
        r"""Random values; returns self.

        A 2-D parameter (a weight matrix, (out, in)) gets Glorot uniform
        $U(-a, a)$, $a = \sqrt{6 / (\text{in} + \text{out})}$; anything else a standard normal.
        The numbers are drawn on the CPU from ``generator``, so they do not depend on the device.
        """
        dtype = self.dtype if self.dtype.is_floating_point else torch.get_default_dtype()
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
        if self.train:
            # the same guard as Network.step: a step that would make the weight NaN or inf is refused
            validate.safe_step(f"{self!r}.step", [self.output], [self.grad], step_size, name_of=lambda i: repr(self))
            self.output.add_(self.grad, alpha=-step_size)
