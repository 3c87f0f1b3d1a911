r"""Backpropagation written out by hand for a multi-layer perceptron (notebook 03).

Every hidden layer is a linear map followed by tanh, the output layer a linear map
followed by the sigmoid, and the loss is the mean squared error. Nothing here uses
autograd or ``torch.nn``: torch only multiplies and adds tensors. The backward pass
is the delta recursion, batched (rows are samples), as notebook 03's derivations 3.10, 3.11
and 3.6 find it.
BEGIN TEACHER ONLY
$\odot$ is element-wise:

$$\Delta^{(L)} = \nabla_{Z_{out}^{(L)}} \mathcal{L} \odot \sigma'(Z_{in}^{(L)}), \qquad
\Delta^{(\ell-1)} = \Delta^{(\ell)} W^{(\ell)} \odot \sigma'(Z_{in}^{(\ell-1)}),$$
$$\nabla_{W^{(\ell)}} \mathcal{L} = \Delta^{(\ell)\top} Z_{out}^{(\ell-1)}, \qquad
\nabla_{b^{(\ell)}} \mathcal{L} = \textstyle\sum_i \Delta^{(\ell)}_{i,:}.$$
END TEACHER ONLY

Weights are stored in torch's layout, ``weight`` of shape (out_features, in_features),
so a layer computes $Z_{in} = X W^\top + b$ and the recursion multiplies by $W$ (not
$W^\top$ as in texts that store the transpose).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from scratchlib.course import validate


def _check_same_shape(owner: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{owner}: y_true and y_pred must have the same shape, got {tuple(y_true.shape)} and {tuple(y_pred.shape)}"
        )


def glorot_uniform(
    out_features: int, in_features: int, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    r"""A weight matrix (out_features, in_features) drawn from Glorot (Xavier) uniform $U(-a, a)$.

    $a = \sqrt{6 / (\mathrm{in} + \mathrm{out})}$ keeps the variance of the signal about the same
    from layer to layer, forward and backward. The numbers come from ``generator`` (torch's
    global generator without one). The layer library (notebook 04) starts its weights here too.
    """
    generator = validate.generator("glorot_uniform", generator)
    bound = math.sqrt(6.0 / max(1, in_features + out_features))
    u = torch.rand(out_features, in_features, generator=generator, dtype=dtype)  # U(0, 1)
    return (2 * u - 1) * bound


class Linear:
    r"""A fully connected layer: $Z = X W^\top + b$, $X$ (B, in), $W$ (out, in), $b$ (out,).

    The weight starts Glorot (Xavier) uniform, $W_{ij} \sim U(-a, a)$ with
    $a = \sqrt{6 / (\mathrm{in} + \mathrm{out})}$; the bias starts at zero.
    ``weight_grad`` and ``bias_grad`` (same shapes as ``weight`` and ``bias``) stay
    ``None`` until a backward pass fills them. ``generator`` makes the initial weight
    reproducible; without it torch's global generator is used.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ):
        validate.count("Linear", "in_features", in_features)
        validate.count("Linear", "out_features", out_features)
        validate.generator("Linear", generator)
        validate.float_dtype("Linear", dtype)
        self.in_features, self.out_features = in_features, out_features
        self.weight = glorot_uniform(out_features, in_features, generator, dtype)  # (out, in)
        self.bias = torch.zeros(out_features, dtype=dtype)  # (out,)
        self.weight_grad: torch.Tensor | None = None
        self.bias_grad: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in) -> (B, out)."""
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.in_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{self!r}: expected x of shape (batch, {self.in_features}), got {shape}"
                + (
                    " (a single sample needs a batch dimension: x[None])"
                    if isinstance(x, torch.Tensor) and x.dim() == 1
                    else ""
                )
            )
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"{self!r}: x has dtype {x.dtype} but the weight is {self.weight.dtype}; "
                f"convert x (x.to({self.weight.dtype})) or build the network with that dtype"
            )
        return x @ self.weight.T + self.bias

    def __repr__(self) -> str:
        return f"Linear({self.in_features} -> {self.out_features})"


class Sigmoid:
    r"""$\sigma(z) = 1 / (1 + e^{-z})$ element-wise, and its derivative $\sigma'(z)$ (exercise 3.1).
    BEGIN TEACHER ONLY
    $\sigma'(z) = \sigma(z)\,(1 - \sigma(z))$.
    END TEACHER ONLY
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)  # = 1 / (1 + exp(-x)), one fused op, no overflow for large |x|

    def get_gradient(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\sigma'(x)$ element-wise, at the pre-activation $x$ (any shape)."""
        ### BEGIN SOLUTION 3.1: Sigmoid.get_gradient: the derivative sigma'(x), element-wise
        s = self.forward(x)
        return s * (1 - s)
        ### END SOLUTION

    def __repr__(self) -> str:
        return "sigmoid"


class Tanh:
    r"""$\tanh(z)$ element-wise, and its derivative $\tanh'(z)$ (exercise 3.2).
    BEGIN TEACHER ONLY
    $\tanh'(z) = 1 - \tanh^2(z)$.
    END TEACHER ONLY
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)

    def get_gradient(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\tanh'(x)$ element-wise, at the pre-activation $x$ (any shape)."""
        ### BEGIN SOLUTION 3.2: Tanh.get_gradient: the derivative tanh'(x), element-wise
        return 1 - torch.tanh(x) ** 2
        ### END SOLUTION

    def __repr__(self) -> str:
        return "tanh"


class MSELoss:
    r"""$\mathcal{L} = \frac{1}{n} \sum_{i,k} (\hat y_{ik} - y_{ik})^2$ over all $n$ elements.

    As ``torch.nn.MSELoss()``.

    Both arguments have the same shape, (B, out); the gradient with respect to
    ``y_pred`` (exercise 3.3) has that shape too.
    BEGIN TEACHER ONLY
    It is $\frac{2}{n} (\hat Y - Y)$.
    END TEACHER ONLY
    """

    def forward(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        _check_same_shape("MSELoss.forward", y_true, y_pred)
        return ((y_pred - y_true) ** 2).mean()

    def get_gradient(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        r"""$\partial \mathcal{L} / \partial \hat Y$, of the shape of ``y_pred``; $n$ = number of elements."""
        _check_same_shape("MSELoss.get_gradient", y_true, y_pred)
        ### BEGIN SOLUTION 3.3: MSELoss.get_gradient: dL/dy_pred of the mean squared error
        return 2 * (y_pred - y_true) / y_pred.numel()
        ### END SOLUTION


_ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid}


class NeuralLayer:
    r"""A linear map and an activation: $Z_{in} = X W^\top + b$, $Z_{out} = \sigma(Z_{in})$.

    Keeps what the backward pass needs from the last forward call: ``last_input``
    $X$ (B, in), ``last_zin`` $Z_{in}$ (B, out) and ``last_zout`` $Z_{out}$ (B, out).
    ``activation`` is ``"tanh"`` or ``"sigmoid"`` (or an object with ``forward`` and
    ``get_gradient``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "tanh",
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ):
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"NeuralLayer: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
            activation = _ACTIVATIONS[activation]()
        elif not (hasattr(activation, "forward") and hasattr(activation, "get_gradient")):
            raise TypeError(f"NeuralLayer: activation needs forward and get_gradient, got {activation!r}")
        self.linear = Linear(in_features, out_features, generator=generator, dtype=dtype)
        self.act = activation
        self.last_input: torch.Tensor | None = None
        self.last_zin: torch.Tensor | None = None
        self.last_zout: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in) -> (B, out), remembering the input, pre- and post-activation."""
        z_in = self.linear.forward(x)  # checks x before anything is stored
        z_out = self.act.forward(z_in)
        self.last_input, self.last_zin, self.last_zout = x, z_in, z_out
        return z_out

    def __repr__(self) -> str:
        return f"NeuralLayer({self.linear.in_features} -> {self.linear.out_features}, {self.act!r})"


class NeuralNetwork:
    r"""An MLP: tanh hidden layers of ``hidden_sizes``, a sigmoid output layer, MSE loss.

    ``NeuralNetwork(2, 1, [5, 3])`` has ``layers`` 2 -> 5 (tanh) -> 3 (tanh) -> 1 (sigmoid);
    ``hidden_sizes=[]`` leaves one sigmoid layer. ``generator`` draws every initial
    weight, in layer order, for a reproducible network; ``dtype`` is that of all parameters.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_sizes: Sequence[int],
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ):
        validate.count("NeuralNetwork", "input_size", input_size)
        validate.count("NeuralNetwork", "output_size", output_size)
        if isinstance(hidden_sizes, (int, str)) or not isinstance(hidden_sizes, Sequence):
            raise TypeError(f"NeuralNetwork: hidden_sizes must be a list of layer sizes, got {hidden_sizes!r}")
        for i, size in enumerate(hidden_sizes):
            validate.count("NeuralNetwork", f"hidden_sizes[{i}]", size)
        validate.generator("NeuralNetwork", generator)
        validate.float_dtype("NeuralNetwork", dtype)
        self.input_size, self.output_size = input_size, output_size
        self.hidden_sizes = list(hidden_sizes)
        sizes = [input_size, *self.hidden_sizes, output_size]
        activations = ["tanh"] * len(self.hidden_sizes) + ["sigmoid"]
        self.layers = [
            NeuralLayer(n_in, n_out, act, generator=generator, dtype=dtype)
            for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations)
        ]
        self.loss = MSELoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions (B, output_size) for inputs (B, input_size); every layer keeps its values."""
        ### BEGIN SOLUTION 3.12: NeuralNetwork.forward: the input through every layer, first to last
        for layer in self.layers:
            x = layer.forward(x)
        return x
        ### END SOLUTION

    def get_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean squared error of the predictions for ``x`` against targets ``y`` (B, output_size)."""
        self._check_data("get_loss", x, y)
        ### BEGIN SOLUTION 3.13: NeuralNetwork.get_loss: the network's loss on (x, y)
        return self.loss.forward(y, self.forward(x))
        ### END SOLUTION

    def backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r"""Fill every layer's ``weight_grad`` and ``bias_grad``.

        They hold $\partial\mathcal{L}/\partial W$ and $\partial\mathcal{L}/\partial b$.

        Runs the forward pass (which stores each layer's $X$, $Z_{in}$, $Z_{out}$), then
        walks the layers backwards carrying ``grad`` $= \partial\mathcal{L}/\partial Z_{out}$,
        with the equations of your derivation 3.6.
        BEGIN TEACHER ONLY
        $\Delta = $ ``grad`` $\odot\, \sigma'(Z_{in})$ (B, out); $\nabla_W = \Delta^\top X$ (out, in);
        $\nabla_b = \sum_i \Delta_{i,:}$ (out,); the next ``grad`` is $\Delta W$ (B, in).
        END TEACHER ONLY
        The gradients are overwritten, not accumulated. Returns the loss of this
        forward pass, so a training loop needs no second one.
        """
        self._check_data("backward", x, y)
        y_hat = self.forward(x)
        ### BEGIN SOLUTION 3.4: NeuralNetwork.backward: the batched delta recursion, output layer to first
        grad = self.loss.get_gradient(y, y_hat)  # dL/dZ_out of the last layer, (B, out)
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            delta = grad * layer.act.get_gradient(layer.last_zin)  # dL/dZ_in, (B, n_i)
            layer.linear.weight_grad = delta.T @ layer.last_input  # (n_i, n_{i-1}), as weight
            layer.linear.bias_grad = delta.sum(dim=0)  # (n_i,)
            if i > 0:  # dL/dx of the first layer is needed by no parameter: skip it
                grad = delta @ layer.linear.weight  # dL/dZ_out of layer i-1, (B, n_{i-1})
        ### END SOLUTION
        return self.loss.forward(y, y_hat)

    def step(self, lr: float) -> None:
        r"""One gradient-descent update of every parameter.

        $W \leftarrow W - \eta\, \nabla_W \mathcal{L}$, and the same for $b$.
        """
        validate.positive("NeuralNetwork.step", "lr", lr)
        for i, layer in enumerate(self.layers):
            if layer.linear.weight_grad is None or layer.linear.bias_grad is None:
                raise RuntimeError(
                    f"NeuralNetwork.step: layer {i} ({layer!r}) has no gradient yet; call backward(x, y) first"
                )
        ### BEGIN SOLUTION 3.5: NeuralNetwork.step: move every weight and bias against its gradient
        for layer in self.layers:
            layer.linear.weight -= lr * layer.linear.weight_grad
            layer.linear.bias -= lr * layer.linear.bias_grad
        ### END SOLUTION

    def _check_data(self, where: str, x: object, y: object) -> None:
        """x (B, input_size) and float targets y (B, output_size), checked before any state changes."""
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.input_size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"NeuralNetwork.{where}: expected x of shape (batch, {self.input_size}), got {shape}")
        if x.shape[0] == 0:  # the mean loss of no rows is NaN, which would look like divergence
            raise ValueError(f"NeuralNetwork.{where}: x has 0 rows; give at least one sample")
        expected = (x.shape[0], self.output_size)
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != expected:
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            hint = (
                f" (class labels of shape ({x.shape[0]},) become targets with y.reshape(-1, 1).to(x.dtype))"
                if isinstance(y, torch.Tensor) and y.dim() == 1
                else ""
            )
            raise ValueError(
                f"NeuralNetwork.{where}: expected y of shape {expected} (one row per row of x), got {shape}{hint}"
            )
        if y.dtype != x.dtype:
            raise TypeError(
                f"NeuralNetwork.{where}: y has dtype {y.dtype} but x has {x.dtype}; "
                f"the MSE loss needs float targets: y.to({x.dtype})"
            )

    def __repr__(self) -> str:
        inner = " -> ".join(f"{layer.linear.out_features} ({layer.act!r})" for layer in self.layers)
        return f"NeuralNetwork({self.input_size} -> {inner})"


def train(
    x: torch.Tensor, y: torch.Tensor, net: NeuralNetwork, epochs: int, lr: float
) -> tuple[NeuralNetwork, torch.Tensor]:
    r"""Full-batch gradient descent: ``epochs`` times ``net.backward(x, y)`` then ``net.step(lr)``.

    ``x`` (B, input_size), float targets ``y`` (B, output_size). Returns ``(net, losses)``,
    trained in place, with ``losses`` of shape (epochs,): the loss before each update.
    Between the backward pass and the update, ``stop_if_diverging(net, loss, epoch, lr)`` stops
    with ``FloatingPointError`` naming the epoch if the loss or the step is NaN or infinite.
    """
    validate.count("train", "epochs", epochs)
    validate.positive("train", "lr", lr)
    net._check_data("backward", x, y)
    validate.finite_rows("train", "x", x)  # bad data is named here, not mistaken for divergence
    validate.finite_rows("train", "y", y)
    losses = torch.empty(epochs, dtype=x.dtype)
    ### BEGIN SOLUTION 3.14: train: each epoch, backward on the whole batch, record its loss, step
    for epoch in range(epochs):
        loss = net.backward(x, y)
        stop_if_diverging(net, loss, epoch, lr)
        losses[epoch] = loss
        net.step(lr)
    ### END SOLUTION
    return net, losses


def stop_if_diverging(net: NeuralNetwork, loss: torch.Tensor, epoch: int, lr: float) -> None:
    """Raise ``FloatingPointError`` naming the epoch when the loss, or the step ``lr`` would take, is not finite.

    ``train`` calls it after each backward pass and before the update, so a diverging run stops
    with the parameters of its last good epoch.
    """
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"train: the loss is {loss.item()} at epoch {epoch} (before its update); "
            "the steps diverge: try a smaller lr"
        )
    layers = [layer.linear for layer in net.layers]
    validate.safe_step(
        f"train, epoch {epoch}",
        [p for layer in layers for p in (layer.weight, layer.bias)],
        [g for layer in layers for g in (layer.weight_grad, layer.bias_grad)],
        lr,
        name_of=lambda i: f"{'weight' if i % 2 == 0 else 'bias'} of layer {i // 2}",
    )
