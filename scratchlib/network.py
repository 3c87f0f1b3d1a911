r"""The network as a tape (a Wengert list): layers in the order they were added.

Because every layer is added after its inputs, the list is already in topological
order: ``forward`` runs it front to back, ``backward`` seeds the last layer's grad
with ones ($\partial J/\partial J = 1$) and runs it back to front, so each layer has
received the gradients of *all* its consumers before its own backward hands them on.

Inside a Network, gradients that no parameter needs are skipped: a layer's
``needs_grad`` is True only when a parameter (an ``Input`` with ``train=True``) lies
upstream of it, so e.g. the first ``Linear`` computes $\partial J/\partial W$ and
$\partial J/\partial b$ but not $\partial J/\partial X$ for the data $X$ (torch does the
same for tensors without ``requires_grad``).

``mlp(sizes, ...)`` builds the usual multi-layer perceptron on a tape in one call.
"""
from __future__ import annotations

from typing import Sequence

import torch

from scratchlib import validate
from scratchlib.layers import (Input, Layer, Linear, MSELoss, Regularization, ReLU, Sigmoid,
                               SoftmaxCrossEntropy, Sum, Tanh, check_step_size)


class Network:
    """A tape of layers: ``add`` them in order, then ``forward``, ``backward``, ``step``."""

    def __init__(self):
        self.layers: list[Layer] = []
        self._on_tape: set[int] = set()
        self._compute: list[Layer] = []      # layers with work in forward (not Inputs)
        self._backward: list[Layer] = []     # the same, reversed, where a parameter is upstream
        self._intermediate: list[Layer] = []  # non-Input layers whose grad backward fills
        self._with_grad: list[Layer] = []      # every layer whose grad backward fills

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        return "Network(\n" + "".join(f"  {i}: {self.describe(l)}\n" for i, l in enumerate(self.layers)) + ")"

    def describe(self, layer: Layer) -> str:
        """One line: the layer, its output shape, and the tape positions of its inputs."""
        ins = ", ".join(str(self.index(i)) for i in layer.inputs)
        return f"{layer!r}" + (f" <- [{ins}]" if ins else "")

    def index(self, layer: Layer) -> int:
        """The position of ``layer`` on the tape."""
        for i, l in enumerate(self.layers):
            if l is layer:
                return i
        raise ValueError(f"{layer!r} is not on this tape")

    def add(self, layer: Layer) -> Layer:
        """Append ``layer`` to the tape (its inputs must already be on it); returns the layer.

        Sets ``layer.needs_grad``: for an Input, whether it is a parameter; for any other
        layer, whether one of its inputs needs a gradient (a parameter lies upstream).
        A layer belongs to one network: the flag stays with the layer object.
        """
        if not isinstance(layer, Layer):
            raise TypeError(f"Network.add needs a Layer, got {type(layer).__name__}")
        if id(layer) in self._on_tape:
            raise ValueError(f"Network.add: {layer!r} is already on the tape")
        for i, source in enumerate(layer.inputs):
            if id(source) not in self._on_tape:
                raise ValueError(f"Network.add: input {i} of {layer!r}, {source!r}, is not on the "
                                 f"tape yet: add it before the layers that read it")
        self.layers.append(layer)
        self._on_tape.add(id(layer))
        if isinstance(layer, Input):
            layer.needs_grad = layer.train
            if layer.train:
                self._with_grad.append(layer)
        else:
            layer.needs_grad = any(source.needs_grad for source in layer.inputs)
            self._compute.append(layer)
            if layer.needs_grad:
                self._backward.insert(0, layer)
                self._intermediate.append(layer)
                self._with_grad.append(layer)
        return layer

    def parameters(self) -> list[Input]:
        """The Inputs with ``train=True``, in tape order."""
        return [l for l in self.layers if isinstance(l, Input) and l.train]

    def forward(self, upto: Layer | None = None) -> torch.Tensor:
        """Run the tape front to back (up to and including ``upto``); return that layer's output."""
        if not self.layers:
            raise RuntimeError("Network.forward: the tape is empty; add layers first")
        if upto is None:
            for layer in self._compute:
                layer.forward()
            return self.layers[-1].output
        stop = self.index(upto)
        for layer in self.layers[:stop + 1]:
            layer.forward()
        return upto.output

    def backward(self) -> None:
        """Seed the last layer's grad with ones and walk the tape back to front.

        Parameters accumulate (two backward passes add up, as in torch); the grads of
        the layers in between hold this pass only.
        """
        if not self.layers:
            raise RuntimeError("Network.backward: the tape is empty; add layers first")
        last = self.layers[-1]
        if last.output is None:
            raise RuntimeError(f"Network.backward called before forward: the last layer {last!r} "
                               f"has no output yet; run forward first")
        for layer in self._intermediate:  # their grads hold this pass only
            layer.clear_grad()
        ### BEGIN SOLUTION 4.20: Network.backward: seed dJ/dJ = 1, then every layer's backward in reverse
        last.grad = torch.ones_like(last.output)
        for layer in self._backward:
            layer.backward()
        ### END SOLUTION

    def clear_grad(self) -> None:
        """Zero every grad that ``backward`` writes (parameters and the layers between)."""
        for layer in self._with_grad:
            layer.clear_grad()

    def step(self, step_size: float) -> None:
        r"""Plain SGD on every parameter: $W \leftarrow W - \eta\, \partial J/\partial W$."""
        step_size = check_step_size("Network", step_size)
        params = [l for l in self.layers if isinstance(l, Input) and l.train]
        if params:
            # a step that would turn a weight into NaN or inf is refused before anything moves
            validate.safe_step("Network.step", [p.output for p in params], [p.grad for p in params],
                               step_size, name_of=lambda i: f"{params[i]!r} at tape position {self.index(params[i])}")
            torch._foreach_add_([p.output for p in params], [p.grad for p in params], alpha=-step_size)


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


class MLP(Network):
    r"""A multi-layer perceptron on a tape, built by :func:`mlp`.

    Attributes (all layers on the tape):
        x: the data Input, (batch_size, sizes[0]).
        target: the target Input: integer labels (batch_size,) for ``loss="cross_entropy"``,
            values (batch_size, sizes[-1]) for ``loss="mse"``.
        weights, biases: the parameter Inputs $W_l$ (out, in) and $b_l$ (out,), one per Linear.
        linears, activations: the Linear layers and the hidden activation layers.
        logits: the last Linear layer (its ``output`` is (batch_size, sizes[-1])).
        prediction: the layer whose output is the network's prediction: ``logits``, or
            the output activation for ``loss="mse"`` with ``output_activation``.
        loss: the SoftmaxCrossEntropy or MSELoss layer.
        regularizers: Regularization layers, one per weight matrix (empty when strength 0).
        objective: the last layer, loss + regularizers joined by Sum layers (or the loss).
        classifications: the softmax of the last forward pass (cross-entropy only).
    """

    @property
    def classifications(self) -> torch.Tensor | None:
        return getattr(self.loss, "classifications", None)

    def predict(self, x) -> torch.Tensor:
        """Set ``x`` (any batch size) and run the tape up to ``prediction``; returns its output.

        Integer rows (``net.predict([[1, 2]])``) are taken as the numbers they are."""
        x = torch.as_tensor(x)
        self.x.set(x if x.is_floating_point() else x.to(self.x.dtype))
        return self.forward(upto=self.prediction)


def mlp(sizes: Sequence[int], activation: str = "relu", loss: str = "cross_entropy",
        regularization: float = 0.0, batch_size: int = 1, output_activation: str | None = None,
        generator: torch.Generator | None = None, dtype=None, device=None) -> MLP:
    r"""An MLP of the given layer sizes on a tape, ready for ``forward``/``backward``/``step``.

    ``mlp([784, 256, 10])`` is Input(x) -> Linear -> ReLU -> Linear (logits) ->
    SoftmaxCrossEntropy(logits, target). With ``regularization`` $\lambda > 0$ the
    objective is $J = J_{CE} + \lambda \sum_l \lVert W_l \rVert_F^2$, weight decay as a
    parallel branch of the graph: Sum(Sum(CE, Regularization(W_1)), Regularization(W_2)).

    Args:
        sizes: [in_features, hidden..., out_features] (at least two numbers).
        activation: hidden activation, "relu", "tanh" or "sigmoid".
        loss: "cross_entropy" (integer labels) or "mse" (targets of shape (batch, out)).
        regularization: the strength $\lambda \ge 0$ of the weight-decay branch.
        batch_size: the batch size the Inputs are declared with (data Inputs accept any
            batch size later, see :meth:`Input.set`).
        output_activation: for "mse" only, an activation after the last Linear.
        generator: weights are Glorot uniform drawn from it (biases start at zero).
        dtype, device: of the parameters and the data Input.

    Returns an :class:`MLP` (a Network) with attributes x, target, weights, biases,
    logits, prediction, loss, regularizers, objective, classifications. Typical step::

        net.x.set(xb); net.target.set(yb)
        net.clear_grad(); net.forward(); net.backward(); net.step(lr)
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ValueError(f"mlp: sizes must be a list of at least two layer sizes, got {sizes!r}")
    sizes = [validate.count("mlp", f"sizes[{i}]", size) for i, size in enumerate(sizes)]
    if activation not in _ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    if loss not in ("cross_entropy", "mse"):
        raise ValueError(f"mlp: loss must be 'cross_entropy' or 'mse', got {loss!r}")
    if output_activation is not None and (loss != "mse" or output_activation not in _ACTIVATIONS):
        raise ValueError(f"mlp: output_activation must be None or, with loss='mse', one of "
                         f"{sorted(_ACTIVATIONS)}; got {output_activation!r} with loss={loss!r}")
    regularization = validate.non_negative("mlp", "regularization", regularization)
    batch_size = validate.count("mlp", "batch_size", batch_size)
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    net = MLP()
    net.x = net.add(Input((batch_size, sizes[0]), dtype=dtype, device=device))
    if loss == "cross_entropy":
        net.target = net.add(Input((batch_size,), dtype=torch.int64, device=device))
    else:
        net.target = net.add(Input((batch_size, sizes[-1]), dtype=dtype, device=device))
    net.weights, net.biases, net.linears, net.activations = [], [], [], []
    h = net.x
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = net.add(Input((n_out, n_in), train=True, dtype=dtype, device=device).randomize(generator))
        b = net.add(Input((n_out,), train=True, dtype=dtype, device=device))
        h = net.add(Linear(h, W, b))
        net.weights.append(W)
        net.biases.append(b)
        net.linears.append(h)
        if i < len(sizes) - 2:
            h = net.add(_ACTIVATIONS[activation](h))
            net.activations.append(h)
    net.logits = h
    if output_activation is not None:
        h = net.add(_ACTIVATIONS[output_activation](h))
    net.prediction = h
    net.loss = net.add(SoftmaxCrossEntropy(h, net.target) if loss == "cross_entropy"
                       else MSELoss(h, net.target))
    net.regularizers = []
    objective = net.loss
    if regularization > 0:
        for W in net.weights:
            reg = net.add(Regularization(W, regularization))
            net.regularizers.append(reg)
            objective = net.add(Sum(objective, reg))
    net.objective = objective
    return net
