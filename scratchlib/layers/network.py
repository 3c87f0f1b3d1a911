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

from collections.abc import Sequence

import torch

from scratchlib.course import validate
from scratchlib.layers.activations import ReLU, Sigmoid, Tanh
from scratchlib.layers.arithmetic import Sum
from scratchlib.layers.base import Input, Layer
from scratchlib.layers.linear import Linear
from scratchlib.layers.losses import MSELoss, Regularization, SoftmaxCrossEntropy


class Network:
    """A tape of layers: ``add`` them in order, then ``forward``, ``backward``, ``step``."""

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self._on_tape: set[int] = set()
        self._compute: list[Layer] = []  # layers with work in forward (not Inputs)
        self._backward: list[Layer] = []  # what backward runs, last first (see add)
        self._intermediate: list[Layer] = []  # non-Input layers whose grad backward fills
        self._with_grad: list[Layer] = []  # every layer whose grad backward fills
        self._params: list[Input] = []  # the parameters, in tape order

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        return "Network(\n" + "".join(f"  {i}: {self.describe(layer)}\n" for i, layer in enumerate(self.layers)) + ")"

    def describe(self, layer: Layer) -> str:
        """One line: the layer, its output shape, and the tape positions of its inputs."""
        ins = ", ".join(str(self.index(i)) for i in layer.inputs)
        return f"{layer!r}" + (f" <- [{ins}]" if ins else "")

    def index(self, layer: Layer) -> int:
        """The position of ``layer`` on the tape."""
        for i, on_tape in enumerate(self.layers):
            if on_tape is layer:
                return i
        raise ValueError(f"{layer!r} is not on this tape")

    def add(self, layer: Layer) -> Layer:
        """Append ``layer`` to the tape (its inputs must already be on it); returns the layer.

        Sets ``layer.needs_grad``: for an Input, whether it is a parameter; for any other
        layer, whether one of its inputs needs a gradient (a parameter lies upstream).
        A layer belongs to one network: the flag stays with the layer object. ``backward``
        runs the layers that need a gradient and lead to the last layer added; one that
        nothing downstream of it reads gets no gradient, as in torch.
        """
        if not isinstance(layer, Layer):
            raise TypeError(f"Network.add needs a Layer, got {type(layer).__name__}")
        if id(layer) in self._on_tape:
            raise ValueError(f"Network.add: {layer!r} is already on the tape")
        for i, source in enumerate(layer.inputs):
            if id(source) not in self._on_tape:
                raise ValueError(
                    f"Network.add: input {i} of {layer!r}, {source!r}, is not on the "
                    f"tape yet: add it before the layers that read it"
                )
        self.layers.append(layer)
        self._on_tape.add(id(layer))
        if isinstance(layer, Input):
            layer.needs_grad = layer.train
            if layer.train:
                self._with_grad.append(layer)
                self._params.append(layer)
        else:
            layer.needs_grad = any(source.needs_grad for source in layer.inputs)
            self._compute.append(layer)
            if layer.needs_grad:
                self._intermediate.append(layer)
                self._with_grad.append(layer)
        self._backward = self._leading_to(layer)
        return layer

    def _leading_to(self, last: Layer) -> list[Layer]:
        """The layers that need a gradient and have a path to ``last``, ``last`` first (the tape reversed)."""
        on_path, found = {id(last)}, []
        for layer in reversed(self.layers):
            if id(layer) in on_path:
                on_path.update(id(source) for source in layer.inputs)
                if layer.needs_grad and not isinstance(layer, Input):
                    found.append(layer)
        return found

    def parameters(self) -> list[Input]:
        """The Inputs with ``train=True``, in tape order."""
        return list(self._params)

    def forward(self, upto: Layer | None = None) -> torch.Tensor:
        """Run the tape front to back (up to and including ``upto``); return that layer's output."""
        if not self.layers:
            raise RuntimeError("Network.forward: the tape is empty; add layers first")
        if upto is None:
            for layer in self._compute:
                layer.forward()
            return self.layers[-1].output
        stop = self.index(upto)
        for layer in self.layers[: stop + 1]:
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
            raise RuntimeError(
                f"Network.backward called before forward: the last layer {last!r} has no output yet; run forward first"
            )
        if last.output.numel() != 1:  # as torch's backward(): dJ/dJ = 1 needs one number J
            raise RuntimeError(
                f"Network.backward: the last layer {last!r} has an output of shape {tuple(last.output.shape)}, "
                "but backward starts from dJ/dJ = 1 and needs a scalar objective J: add a loss layer last"
            )
        for layer in self._intermediate:  # their grads hold this pass only
            layer.clear_grad()
        ### BEGIN SOLUTION 4.20: Network.backward: seed dJ/dJ = 1, then every layer's backward in reverse
        last.grad = torch.ones_like(last.output)
        for layer in self._backward:
            layer.backward()
        ### END SOLUTION

    def clear_grad(self) -> None:
        """Clear every grad that ``backward`` writes (parameters and the layers between): None, as torch."""
        for layer in self._with_grad:
            layer.clear_grad()

    def step(self, step_size: float) -> None:
        r"""Plain SGD on every parameter: $W \leftarrow W - \eta\, \partial J/\partial W$."""
        step_size = validate.positive("Network.step", "step_size", step_size)
        params = [p for p in self._params if p.grad is not None]  # without a gradient, no move (as torch)
        # a step that would make a weight NaN or inf is refused before any parameter moves
        validate.safe_step(
            "Network.step",
            [p.output for p in params],
            [p.grad for p in params],
            step_size,
            name_of=lambda i: f"{params[i]!r} at tape position {self.index(params[i])}",
        )
        for p in params:
            p.output.add_(p.grad, alpha=-step_size)  # W - lr dJ/dW, in place


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


class MLP(Network):
    r"""A multi-layer perceptron on a tape: ``MLP(sizes, ...)``, or :func:`mlp` with the same arguments.

    ``MLP([784, 256, 10])`` is Input(x) -> Linear -> ReLU -> Linear (logits) ->
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

    One training step is notebook 05's exercises 5.1 and 5.2 (``train.forward_pass``, then
    ``train.sgd_update``).
    BEGIN TEACHER ONLY
    Typical step::

        net.x.set(xb); net.target.set(yb)
        net.clear_grad(); net.forward(); net.backward(); net.step(lr)
    END TEACHER ONLY
    """

    x: Input  # the data, (batch_size, sizes[0])
    target: Input  # integer labels (batch_size,) for cross-entropy, (batch_size, sizes[-1]) for mse
    weights: list[Input]  # the parameters W_l (out, in), one per Linear
    biases: list[Input]  # the parameters b_l (out,)
    linears: list[Linear]  # the Linear layers
    activations: list[Layer]  # the hidden activation layers
    logits: Linear  # the last Linear (its output is (batch_size, sizes[-1]))
    prediction: Layer  # logits, or the output activation (mse with output_activation)
    loss: Layer  # the SoftmaxCrossEntropy or MSELoss layer
    regularizers: list[Regularization]  # one per weight matrix; empty when the strength is 0
    objective: Layer  # the last layer: loss + regularizers joined by Sum layers (or the loss)

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        loss: str = "cross_entropy",
        regularization: float = 0.0,
        batch_size: int = 1,
        output_activation: str | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        sizes, regularization, batch_size = _check_mlp(
            sizes, activation, loss, regularization, batch_size, output_activation, generator, dtype
        )
        super().__init__()
        dtype = dtype if dtype is not None else torch.get_default_dtype()
        self.x = self.add(Input((batch_size, sizes[0]), dtype=dtype, device=device))
        target_shape = (batch_size,) if loss == "cross_entropy" else (batch_size, sizes[-1])
        target_dtype = torch.int64 if loss == "cross_entropy" else dtype
        self.target = self.add(Input(target_shape, dtype=target_dtype, device=device))
        self.weights, self.biases, self.linears, self.activations = [], [], [], []
        h = self.x
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            W = self.add(Input((n_out, n_in), train=True, dtype=dtype, device=device).randomize(generator))
            b = self.add(Input((n_out,), train=True, dtype=dtype, device=device))
            h = self.add(Linear(h, W, b))
            self.weights.append(W)
            self.biases.append(b)
            self.linears.append(h)
            if i < len(sizes) - 2:
                h = self.add(_ACTIVATIONS[activation](h))
                self.activations.append(h)
        self.logits = h
        if output_activation is not None:
            h = self.add(_ACTIVATIONS[output_activation](h))
        self.prediction = h
        self.loss = self.add(
            SoftmaxCrossEntropy(h, self.target) if loss == "cross_entropy" else MSELoss(h, self.target)
        )
        self.regularizers = []
        objective = self.loss
        if regularization > 0:
            for W in self.weights:
                reg = self.add(Regularization(W, regularization))
                self.regularizers.append(reg)
                objective = self.add(Sum(objective, reg))
        self.objective = objective

    @property
    def classifications(self) -> torch.Tensor | None:
        """The softmax of the last forward pass (cross-entropy only; None for mse)."""
        return getattr(self.loss, "classifications", None)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Set ``x`` (any batch size) and run the tape up to ``prediction``; returns its output.

        Integer rows (``net.predict([[1, 2]])``) are taken as the numbers they are."""
        x = torch.as_tensor(x)
        self.x.set(x if x.is_floating_point() else x.to(self.x.dtype))
        return self.forward(upto=self.prediction)


def _check_mlp(sizes, activation, loss, regularization, batch_size, output_activation, generator, dtype):
    """The arguments of :class:`MLP`, checked before anything is built; returns the numbers."""
    validate.float_dtype("mlp", dtype)
    validate.generator("mlp", generator)
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ValueError(f"mlp: sizes must be a list of at least two layer sizes, got {sizes!r}")
    sizes = [validate.count("mlp", f"sizes[{i}]", size) for i, size in enumerate(sizes)]
    if activation not in _ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    if loss not in ("cross_entropy", "mse"):
        raise ValueError(f"mlp: loss must be 'cross_entropy' or 'mse', got {loss!r}")
    if output_activation is not None and (loss != "mse" or output_activation not in _ACTIVATIONS):
        raise ValueError(
            f"mlp: output_activation must be None or, with loss='mse', one of "
            f"{sorted(_ACTIVATIONS)}; got {output_activation!r} with loss={loss!r}"
        )
    return (
        sizes,
        validate.non_negative("mlp", "regularization", regularization),
        validate.count("mlp", "batch_size", batch_size),
    )


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    loss: str = "cross_entropy",
    regularization: float = 0.0,
    batch_size: int = 1,
    output_activation: str | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> MLP:
    """An :class:`MLP` of the given layer sizes on a tape, ready for ``forward``/``backward``/``step``
    (the arguments are those of :class:`MLP`)."""
    return MLP(sizes, activation, loss, regularization, batch_size, output_activation, generator, dtype, device)
