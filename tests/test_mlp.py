"""scratchlib.mlp: hand-written backprop against torch autograd, hand-worked numbers, bad input."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from expect import expect
from scratchlib.course.check import compare, gradcheck
from scratchlib.mlp import Linear, MSELoss, NeuralLayer, NeuralNetwork, Sigmoid, Tanh, train
from scratchlib.training import data

F64 = torch.float64
# Largest difference to autograd seen over 200 random networks (float64) was 3e-17; 1e-10 is
# the course-wide bound and leaves room for other BLAS builds, still far below any real bug.
ATOL = 1e-10


def random_network(input_size, output_size, hidden_sizes, seed, batch_size):
    """A float64 network with non-zero biases, and data (x, y) for it."""
    g = torch.Generator().manual_seed(seed)
    net = NeuralNetwork(input_size, output_size, hidden_sizes, generator=g, dtype=F64)
    for layer in net.layers:  # zero biases would hide a wrong bias gradient
        layer.linear.bias = torch.randn(layer.linear.out_features, generator=g, dtype=F64)
    x = torch.randn(batch_size, input_size, generator=g, dtype=F64)
    y = torch.rand(batch_size, output_size, generator=g, dtype=F64)
    return net, x, y


def check_against_autograd(net, x, y, atol=ATOL):
    """Run net.backward and compare every weight_grad/bias_grad with torch autograd."""
    net.backward(x, y)
    params, grads, labels = [], [], []
    for i, layer in enumerate(net.layers, start=1):
        params += [layer.linear.weight, layer.linear.bias]
        grads += [layer.linear.weight_grad, layer.linear.bias_grad]
        labels += [f"dW{i}", f"db{i}"]

    def reference_loss(*ps):  # the same network in plain torch ops, independent of scratchlib
        h = x
        for layer, w, b in zip(net.layers, ps[0::2], ps[1::2]):
            z = h @ w.T + b
            h = torch.tanh(z) if isinstance(layer.act, Tanh) else torch.sigmoid(z)
        return torch.nn.functional.mse_loss(h, y)

    return gradcheck(reference_loss, params, grads, labels=labels, atol=atol, rtol=0)


# ---------------------------------------------------------------- the pieces


def test_linear_glorot_uniform_init_zero_bias_and_no_gradient_yet():
    layer = Linear(300, 200, generator=torch.Generator().manual_seed(0))
    bound = math.sqrt(6 / 500)
    assert layer.weight.shape == (200, 300) and layer.bias.shape == (200,)
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.99 * bound
    # U(-a, a) has mean 0 and variance a^2 / 3 = 2 / (in + out); 60000 draws pin both down
    assert abs(layer.weight.mean().item()) < 0.01
    assert layer.weight.var().item() == pytest.approx(2 / 500, rel=0.02)
    assert torch.equal(layer.bias, torch.zeros(200))
    assert layer.weight_grad is None and layer.bias_grad is None
    assert layer.weight.dtype == torch.get_default_dtype()


def test_linear_forward_is_x_w_transpose_plus_b():
    layer = Linear(3, 2)
    layer.weight = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    layer.bias = torch.tensor([0.25, -1.0])
    x = torch.tensor([[1.0, 2.0, -2.0], [-1.0, 0.0, 4.0]])
    # row 1: (1 - 4 - 1) + 0.25 = -3.75, (0 + 6 + 2) - 1 = 7; row 2: (-1 + 0 + 2) + 0.25 = 1.25, (0 + 0 - 4) - 1 = -5
    assert torch.equal(layer.forward(x), torch.tensor([[-3.75, 7.0], [1.25, -5.0]]))


def test_generator_makes_init_reproducible_and_the_design_signature_works_without_it():
    a = NeuralNetwork(2, 1, [5, 3], generator=torch.Generator().manual_seed(7))
    b = NeuralNetwork(2, 1, [5, 3], generator=torch.Generator().manual_seed(7))
    c = NeuralNetwork(2, 1, [5, 3], generator=torch.Generator().manual_seed(8))
    for la, lb, lc in zip(a.layers, b.layers, c.layers):
        assert torch.equal(la.linear.weight, lb.linear.weight)
        assert not torch.equal(la.linear.weight, lc.linear.weight)
    torch.manual_seed(3)
    d = NeuralNetwork(2, 1, [5, 3])
    torch.manual_seed(3)
    e = NeuralNetwork(2, 1, [5, 3])
    assert all(torch.equal(ld.linear.weight, le.linear.weight) for ld, le in zip(d.layers, e.layers))


@given(st.lists(st.floats(-30, 30), min_size=1, max_size=12))
def test_activations_and_their_derivatives_match_torch(values):
    z = torch.tensor(values, dtype=F64)
    for act, reference in ((Sigmoid(), torch.sigmoid), (Tanh(), torch.tanh)):
        leaf = z.clone().requires_grad_(True)
        (dz,) = torch.autograd.grad(reference(leaf).sum(), leaf)
        torch.testing.assert_close(act.forward(z), reference(z), atol=1e-15, rtol=1e-14)
        torch.testing.assert_close(act.get_gradient(z), dz, atol=1e-15, rtol=1e-12)


def test_activation_derivatives_by_hand():
    z = torch.tensor([math.log(3), -math.log(3), 0.5 * math.log(2), 0.0], dtype=F64)
    # sigmoid(ln a) = a / (1 + a): 3/4, 1/4, sqrt2/(1+sqrt2), 1/2; sigma' = s (1 - s)
    s = torch.tensor([0.75, 0.25, math.sqrt(2) / (1 + math.sqrt(2)), 0.5], dtype=F64)
    torch.testing.assert_close(Sigmoid().get_gradient(z), s * (1 - s), atol=1e-15, rtol=0)
    # tanh(ln a) = (a^2 - 1)/(a^2 + 1): 4/5, -4/5; tanh(ln2 / 2) = 1/3; tanh(0) = 0; tanh' = 1 - t^2
    expected = torch.tensor([9 / 25, 9 / 25, 8 / 9, 1.0], dtype=F64)
    torch.testing.assert_close(Tanh().get_gradient(z), expected, atol=1e-15, rtol=0)


def test_tanh_derivative_alone_by_hand():
    """Runs only exercise 3.2 (Tanh.get_gradient): tanh'(z) = 1 - tanh(z)^2."""
    l2, l3 = math.log(2), math.log(3)
    z = torch.tensor([[l2, -l3, 0.5 * l3], [0.0, -l2, -0.5 * l3]], dtype=F64)
    # tanh(ln a) = (a^2 - 1)/(a^2 + 1): tanh(ln 2) = 3/5, tanh(ln 3) = 4/5;  tanh(ln 3 / 2) = (3 - 1)/(3 + 1) = 1/2
    # 1 - tanh^2 = [[1 - 9/25, 1 - 16/25, 1 - 1/4], [1, 1 - 9/25, 1 - 1/4]]
    expected = torch.tensor([[0.64, 0.36, 0.75], [1.0, 0.64, 0.75]], dtype=F64)
    expect(Tanh().get_gradient(z), expected, atol=1e-15, dtype=True)
    leaf = z.clone().requires_grad_(True)
    (dz,) = torch.autograd.grad(torch.tanh(leaf).sum(), leaf)
    expect(Tanh().get_gradient(z), dz, atol=1e-15, dtype=True)


def test_sigmoid_does_not_overflow_to_nan():
    z = torch.tensor([-1000.0, 1000.0])
    expect(Sigmoid().forward(z), torch.tensor([0.0, 1.0]))
    expect(Sigmoid().get_gradient(z), torch.tensor([0.0, 0.0]))


@given(st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_mse_loss_and_gradient_match_torch(batch_size, out, seed):
    g = torch.Generator().manual_seed(seed)
    y_true = torch.randn(batch_size, out, generator=g, dtype=F64)
    y_pred = torch.randn(batch_size, out, generator=g, dtype=F64)
    loss = MSELoss()
    expect(loss.forward(y_true, y_pred), torch.nn.MSELoss()(y_pred, y_true), atol=1e-15, rtol=1e-14, dtype=True)
    # the gradient against autograd's, as check.gradcheck finds it (float64)
    leaf = y_pred.clone().requires_grad_(True)
    (reference,) = torch.autograd.grad(torch.nn.functional.mse_loss(leaf, y_true), leaf)
    expect(loss.get_gradient(y_true, y_pred), reference, atol=ATOL)


def test_mse_by_hand_with_two_outputs():
    y_true = torch.tensor([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]])
    y_pred = torch.tensor([[0.0, -1.0], [0.5, 2.0], [1.0, 1.5]])
    # differences y_pred - y_true: [[-1, 1], [0, 2], [-2, 0.5]]; n = 6 elements
    # loss = (1 + 1 + 0 + 4 + 4 + 0.25) / 6 = 10.25 / 6; gradient = 2/6 * differences
    expect(MSELoss().forward(y_true, y_pred).item(), 10.25 / 6, atol=1e-7)
    # torch.testing.assert_close's tolerances for float32
    expect(
        MSELoss().get_gradient(y_true, y_pred),
        torch.tensor([[-1.0, 1.0], [0.0, 2.0], [-2.0, 0.5]]) / 3,
        atol=1e-5,
        rtol=1.3e-6,
        dtype=True,
    )


def test_neural_layer_keeps_its_last_input_and_pre_and_post_activation():
    layer = NeuralLayer(3, 2, "tanh", generator=torch.Generator().manual_seed(0))
    assert layer.last_input is None and layer.last_zin is None and layer.last_zout is None
    x = torch.randn(4, 3)
    out = layer.forward(x)
    assert layer.last_input is x
    torch.testing.assert_close(layer.last_zin, x @ layer.linear.weight.T + layer.linear.bias)
    assert torch.equal(layer.last_zout, torch.tanh(layer.last_zin)) and out is layer.last_zout
    assert isinstance(NeuralLayer(3, 2, "sigmoid").act, Sigmoid)


def test_network_structure_tanh_hidden_sigmoid_output():
    net = NeuralNetwork(2, 1, [5, 3])
    shapes = [tuple(layer.linear.weight.shape) for layer in net.layers]
    assert shapes == [(5, 2), (3, 5), (1, 3)]
    assert [type(layer.act) for layer in net.layers] == [Tanh, Tanh, Sigmoid]
    assert repr(net) == "NeuralNetwork(2 -> 5 (tanh) -> 3 (tanh) -> 1 (sigmoid))"
    single = NeuralNetwork(4, 2, [])
    assert len(single.layers) == 1 and isinstance(single.layers[0].act, Sigmoid)
    out = net.forward(torch.randn(6, 2))
    assert out.shape == (6, 1) and bool(((out > 0) & (out < 1)).all())


# ---------------------------------------------------------------- a network worked by hand


def hand_worked_network():
    r"""3 inputs -> 2 tanh -> 1 sigmoid, batch 2, chosen so every number is a fraction.

    With l2 = ln 2, l3 = ln 3: tanh(l3/2) = (3-1)/(3+1) = 1/2, tanh(l2) = (4-1)/(4+1) = 3/5,
    sigmoid(+-l3) = 3/4, 1/4 (tanh(ln(a)/2) = (a-1)/(a+1), sigmoid(ln a) = a/(1+a)).
    """
    l2, l3 = math.log(2), math.log(3)
    net = NeuralNetwork(3, 1, [2], dtype=F64)
    hidden, out = net.layers
    hidden.linear.weight = torch.tensor([[1.5 * l3, l3, 0.5 * l3], [l2, 2 * l2, l2]], dtype=F64)
    hidden.linear.bias = torch.tensor([-2 * l3, -2 * l2], dtype=F64)
    out.linear.weight = torch.tensor([[2 * l3, -5 / 3 * l3]], dtype=F64)
    out.linear.bias = torch.tensor([-l3], dtype=F64)
    x = torch.tensor([[2.0, -1.0, 1.0], [1.0, 1.0, -2.0]], dtype=F64)
    y = torch.tensor([[0.5], [1.0]], dtype=F64)
    return net, x, y


def test_hand_worked_gradients():
    net, x, y = hand_worked_network()
    loss = net.backward(x, y)
    l3 = math.log(3)
    # Forward, in units of l3/2 and l2 for the hidden pre-activations:
    #   unit 1: (l3/2)(3, 2, 1).x - 2 l3 -> sample 1: (l3/2)(6 - 2 + 1 - 4) = l3/2,
    #                                       sample 2: (l3/2)(3 + 2 - 2 - 4) = -l3/2
    #   unit 2: l2 (1, 2, 1).x - 2 l2    -> sample 1: l2 (2 - 2 + 1 - 2) = -l2,
    #                                       sample 2: l2 (1 + 2 - 2 - 2) = -l2
    #   H = tanh = [[1/2, -3/5], [-1/2, -3/5]];  tanh' = 1 - H^2 = [[3/4, 16/25], [3/4, 16/25]]
    #   output: l3 (2 h1 - 5/3 h2 - 1) -> sample 1: l3 (1 + 1 - 1) = l3, sample 2: l3 (-1 + 1 - 1) = -l3
    #   y_hat = [3/4, 1/4];  y_hat - y = [1/4, -3/4];  loss = (1/16 + 9/16) / 2 = 5/16
    # Backward:
    #   dL/dy_hat = 2/2 (y_hat - y) = [1/4, -3/4];  sigma' = y_hat (1 - y_hat) = [3/16, 3/16]
    #   Delta2 = [3/64, -9/64]
    #   dW2 = Delta2^T H = 3/64 (1/2, -3/5) - 9/64 (-1/2, -3/5) = (12/128, 18/320) = (3/32, 9/160)
    #   db2 = 3/64 - 9/64 = -3/32
    #   Delta2 W2 = l3 [[3/32, -5/64], [-9/32, 15/64]];  (.) tanh' -> Delta1 = l3 [[9/128, -1/20], [-27/128, 3/20]]
    #   dW1 = Delta1^T X = l3 [[(18 - 27)/128, (-9 - 27)/128, (9 + 54)/128], [(-2 + 3)/20, (1 + 3)/20, (-1 - 6)/20]]
    #       = l3 [[-9/128, -9/32, 63/128], [1/20, 1/5, -7/20]]
    #   db1 = l3 [9/128 - 27/128, -1/20 + 3/20] = l3 [-9/64, 1/10]
    hidden, out = net.layers
    compare(
        [
            5 / 16,
            [[0.75], [0.25]],
            [[0.5, -0.6], [-0.5, -0.6]],
            [[3 / 32, 9 / 160]],
            [-3 / 32],
            [[-9 / 128 * l3, -9 / 32 * l3, 63 / 128 * l3], [l3 / 20, l3 / 5, -7 / 20 * l3]],
            [-9 / 64 * l3, l3 / 10],
        ],
        [
            loss,
            out.last_zout,
            hidden.last_zout,
            out.linear.weight_grad,
            out.linear.bias_grad,
            hidden.linear.weight_grad,
            hidden.linear.bias_grad,
        ],
        labels=["loss", "y_hat", "H", "dW2", "db2", "dW1", "db1"],
        atol=1e-15,
        rtol=0,
    )


def test_hand_worked_gradients_agree_with_autograd_too():
    check_against_autograd(*hand_worked_network())


class Square:
    """An activation made by hand (plain torch, no exercise): f(z) = z^2, f'(z) = 2 z."""

    def forward(self, z):
        return z * z

    def get_gradient(self, z):
        return 2 * z


class HalfSquaredError:
    """A loss made by hand (plain torch, no exercise): L = sum (y_hat - y)^2 / 2, dL/dy_hat = y_hat - y."""

    def forward(self, y_true, y_pred):
        return ((y_pred - y_true) ** 2).sum() / 2

    def get_gradient(self, y_true, y_pred):
        return y_pred - y_true


W1, B1 = [[0.5, 0, 0.5], [1, 0.5, 0.5]], [-0.5, -2]  # 3 inputs -> 2
W2, B2 = [[1, -1]], [-0.25]  # 2 -> 1


def square_network():
    """3 -> 2 -> 1 with the hand-made Square activations and HalfSquaredError loss, so no exercise runs in them."""
    net = NeuralNetwork(3, 1, [2], dtype=F64)
    for layer, w, b in zip(net.layers, (W1, W2), (B1, B2)):
        layer.linear.weight = torch.tensor(w, dtype=F64)
        layer.linear.bias = torch.tensor(b, dtype=F64)
        layer.act = Square()
    net.loss = HalfSquaredError()
    return net


def layer_by_layer(net):
    """A forward pass written in the test (each NeuralLayer.forward in turn), so that exercise 3.12 does not run."""

    def forward(x):
        for layer in net.layers:
            x = layer.forward(x)
        return x

    return forward


def test_forward_alone_by_hand():
    """Runs only exercise 3.12 (NeuralNetwork.forward): every layer in turn, each keeping its values."""
    net = square_network()
    x = torch.tensor([[1, -1, 2], [0, 2, -1]], dtype=F64)
    # Z1 = X W1^T + b1 = [[1, -0.5], [-1, -1.5]];  H = Z1^2 = [[1, 0.25], [1, 2.25]]
    # Z2 = H W2^T + b2 = [[0.5], [-1.5]];  y_hat = Z2^2 = [[0.25], [2.25]]
    y_hat = net.forward(x)
    hidden, out = net.layers
    expect(y_hat.tolist(), [[0.25], [2.25]])
    expect(hidden.last_input.tolist(), x.tolist())
    expect(hidden.last_zin.tolist(), [[1.0, -0.5], [-1.0, -1.5]])
    expect(hidden.last_zout.tolist(), [[1.0, 0.25], [1.0, 2.25]])
    expect(out.last_input.tolist(), [[1.0, 0.25], [1.0, 2.25]])
    expect(out.last_zin.tolist(), [[0.5], [-1.5]])
    assert out.last_zout is y_hat or torch.equal(out.last_zout, y_hat)
    # no hidden layer: one layer's output is the network's
    single = NeuralNetwork(3, 1, [], dtype=F64)
    single.layers[0].linear.weight = torch.tensor(W2[0][:1] * 3, dtype=F64)[None]
    single.layers[0].act = Square()
    expect(single.forward(x).tolist(), [[4.0], [1.0]])  # (x1 + x2 + x3)^2 = 2^2, 1^2


def test_get_loss_alone_with_a_given_forward():
    """Runs only exercise 3.13 (NeuralNetwork.get_loss): the forward pass and the loss are made by hand here."""
    net = square_network()
    net.forward = lambda x: torch.tensor([[0.25], [2.25]], dtype=F64)
    x = torch.tensor([[1, -1, 2], [0, 2, -1]], dtype=F64)
    y = torch.tensor([[0.5], [2.0]], dtype=F64)
    # HalfSquaredError of y_hat - y = [[-0.25], [0.25]]: (1/16 + 1/16) / 2 = 1/16
    expect(net.get_loss(x, y).item(), 1 / 16)
    y = torch.tensor([[1.25], [0.25]], dtype=F64)  # y_hat - y = [[-1], [2]]: (1 + 4) / 2
    expect(net.get_loss(x, y).item(), 2.5)
    # the loss compares predictions with targets in its own order: forward(y_true, y_pred)
    seen = []
    net.loss = type("Recording", (), {"forward": lambda self, y_true, y_pred: seen.append((y_true, y_pred)) or 0.0})()
    net.get_loss(x, y)
    assert torch.equal(seen[0][0], y) and seen[0][1].tolist() == [[0.25], [2.25]]


def test_train_alone_with_a_recording_backward_and_step():
    """Runs only exercise 3.14 (train): backward and step are test doubles that record their calls."""
    net, x, y = random_network(2, 1, [3], seed=0, batch_size=4)
    calls, given_losses = [], [0.5, 0.25, 0.125]

    def backward(x_given, y_given):
        assert x_given is x and y_given is y  # the whole batch, every epoch
        calls.append("backward")
        for layer in net.layers:  # finite gradients, as a real backward leaves them
            layer.linear.weight_grad = torch.zeros_like(layer.linear.weight)
            layer.linear.bias_grad = torch.zeros_like(layer.linear.bias)
        return torch.tensor(given_losses[calls.count("backward") - 1], dtype=F64)

    net.backward = backward
    net.step = lambda lr: calls.append(("step", lr))
    trained, losses = train(x, y, net, epochs=3, lr=0.75)
    assert trained is net
    assert calls == ["backward", ("step", 0.75)] * 3
    expect(losses.tolist(), given_losses)  # the loss of each epoch, before its update
    assert losses.dtype == F64


def test_train_alone_stops_at_the_first_non_finite_loss_before_its_update():
    """Runs only exercise 3.14 (train): a diverging loss stops it with the epoch named, before that step."""
    net, x, y = random_network(2, 1, [3], seed=0, batch_size=4)
    steps = []
    losses = iter([0.5, float("nan")])

    def backward(x_given, y_given):
        for layer in net.layers:
            layer.linear.weight_grad = torch.zeros_like(layer.linear.weight)
            layer.linear.bias_grad = torch.zeros_like(layer.linear.bias)
        return torch.tensor(next(losses), dtype=F64)

    net.backward = backward
    net.step = steps.append
    with pytest.raises(FloatingPointError, match=r"train: the loss is nan at epoch 1 \(before its update\)"):
        train(x, y, net, epochs=5, lr=0.5)
    assert steps == [0.5]


def test_backward_alone_with_a_hand_made_activation_and_loss():
    """Runs only exercise 3.4 (NeuralNetwork.backward): the activations, the loss and the forward pass are made
    by hand in this test."""
    net = square_network()
    net.forward = layer_by_layer(net)
    x = torch.tensor([[1, -1, 2], [0, 2, -1]], dtype=F64)
    y = torch.tensor([[0.5], [2]], dtype=F64)
    loss = net.backward(x, y)
    # Forward: Z1 = X W1^T + b1 = [[1.5 - 0.5, 1.5 - 2], [-0.5 - 0.5, 0.5 - 2]] = [[1, -0.5], [-1, -1.5]]
    #   H = Z1^2 = [[1, 0.25], [1, 2.25]];  Z2 = H W2^T + b2 = [[1 - 0.25 - 0.25], [1 - 2.25 - 0.25]] = [[0.5], [-1.5]]
    #   y_hat = Z2^2 = [[0.25], [2.25]];  y_hat - y = [[-0.25], [0.25]];  L = (1/16 + 1/16) / 2 = 1/16
    # Backward: Delta2 = (y_hat - y) * f'(Z2) = (y_hat - y) * 2 Z2 = [[-0.25], [-0.75]]
    #   dW2 = Delta2^T H = -0.25 [1, 0.25] - 0.75 [1, 2.25] = [[-1, -1.75]];  db2 = -0.25 - 0.75 = -1
    #   Delta2 W2 = [[-0.25, 0.25], [-0.75, 0.75]];  f'(Z1) = 2 Z1 = [[2, -1], [-2, -3]]
    #   Delta1 = [[-0.5, -0.25], [1.5, -2.25]]
    #   dW1 = Delta1^T X: row 0 = -0.5 [1, -1, 2] + 1.5 [0, 2, -1] = [-0.5, 3.5, -2.5]
    #                     row 1 = -0.25 [1, -1, 2] - 2.25 [0, 2, -1] = [-0.25, -4.25, 1.75]
    #   db1 = [-0.5 + 1.5, -0.25 - 2.25] = [1, -2.5]
    hidden, out = net.layers
    expect(loss.item(), 1 / 16)
    expect(out.linear.weight_grad.tolist(), [[-1.0, -1.75]])
    expect(out.linear.bias_grad.tolist(), [-1.0])
    expect(hidden.linear.weight_grad.tolist(), [[-0.5, 3.5, -2.5], [-0.25, -4.25, 1.75]])
    expect(hidden.linear.bias_grad.tolist(), [1.0, -2.5])
    # the same numbers by autograd
    params = [torch.tensor(v, dtype=F64, requires_grad=True) for v in (W1, B1, W2, B2)]
    h = (x @ params[0].T + params[1]) ** 2
    (((h @ params[2].T + params[3]) ** 2 - y) ** 2).sum().div(2).backward()
    grads = [hidden.linear.weight_grad, hidden.linear.bias_grad, out.linear.weight_grad, out.linear.bias_grad]
    for grad, p in zip(grads, params):
        expect(grad, p.grad, atol=1e-15, dtype=True)


def test_step_alone_by_hand():
    """Runs only exercise 3.5 (NeuralNetwork.step): W <- W - lr dW and b <- b - lr db, the gradients given by hand."""
    net = square_network()
    hidden, out = net.layers
    hidden.linear.weight_grad = torch.tensor([[-0.5, 3.5, -2.5], [-0.25, -4.25, 1.75]], dtype=F64)
    hidden.linear.bias_grad = torch.tensor([1, -2.5], dtype=F64)
    out.linear.weight_grad = torch.tensor([[-1, -1.75]], dtype=F64)
    out.linear.bias_grad = torch.tensor([-1], dtype=F64)
    net.step(0.25)
    # W1 - 0.25 dW1 = [[0.5 + 0.125, 0 - 0.875, 0.5 + 0.625], [1 + 0.0625, 0.5 + 1.0625, 0.5 - 0.4375]]
    # b1 - 0.25 db1 = [-0.5 - 0.25, -2 + 0.625];  W2 - 0.25 dW2 = [[1 + 0.25, -1 + 0.4375]]
    # b2 - 0.25 db2 = -0.25 + 0.25
    expect(hidden.linear.weight.tolist(), [[0.625, -0.875, 1.125], [1.0625, 1.5625, 0.0625]])
    expect(hidden.linear.bias.tolist(), [-0.75, -1.375])
    expect(out.linear.weight.tolist(), [[1.25, -0.5625]])
    expect(out.linear.bias.tolist(), [0.0])


# ---------------------------------------------------------------- every gradient against autograd


@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize(
    "input_size, hidden_sizes, output_size",
    [
        (3, [], 1),  # no hidden layer: logistic regression with an MSE loss
        (3, [], 2),
        (2, [5], 1),  # one hidden layer
        (3, [5, 4], 1),  # 3-5-4-1
        (4, [5, 3, 6], 3),  # three hidden layers, widths up and down, three outputs
    ],
)
def test_every_gradient_matches_autograd(input_size, hidden_sizes, output_size, batch_size):
    net, x, y = random_network(input_size, output_size, hidden_sizes, seed=batch_size, batch_size=batch_size)
    table = check_against_autograd(net, x, y)
    assert len(table.rows) == 2 * (len(hidden_sizes) + 1)


@given(
    input_size=st.integers(1, 6),
    output_size=st.integers(1, 3),
    hidden_sizes=st.lists(st.integers(1, 6), max_size=3),
    batch_size=st.integers(1, 8),
    seed=st.integers(0, 2**31 - 1),
)
def test_every_gradient_matches_autograd_for_random_sizes(input_size, output_size, hidden_sizes, batch_size, seed):
    net, x, y = random_network(input_size, output_size, hidden_sizes, seed, batch_size)
    check_against_autograd(net, x, y)


def test_a_wrong_activation_derivative_fails_the_autograd_check(monkeypatch):
    net, x, y = random_network(3, 1, [5, 4], seed=0, batch_size=7)
    check_against_autograd(net, x, y)
    monkeypatch.setattr(Tanh, "get_gradient", lambda self, z: 1 - z**2)  # tanh' at the wrong point
    with pytest.raises(AssertionError, match="mismatch in dW1"):
        check_against_autograd(net, x, y)


def test_backward_returns_the_loss_and_overwrites_old_gradients():
    net, x, y = random_network(3, 2, [4], seed=1, batch_size=5)
    loss = net.backward(x, y)
    torch.testing.assert_close(loss, net.get_loss(x, y), atol=0, rtol=0)
    first = net.layers[0].linear.weight_grad.clone()
    net.backward(x, y)  # the same batch again: the same gradient, not twice it
    torch.testing.assert_close(net.layers[0].linear.weight_grad, first, atol=0, rtol=0)


# ---------------------------------------------------------------- training


def test_train_is_gradient_descent_as_torch_would_do_it():
    net, x, y = random_network(3, 1, [4, 3], seed=2, batch_size=6)
    params = [t.clone().requires_grad_(True) for layer in net.layers for t in (layer.linear.weight, layer.linear.bias)]
    reference_losses = []
    for _ in range(3):  # three steps of SGD with autograd, the reference
        h = x
        for layer, w, b in zip(net.layers, params[0::2], params[1::2]):
            z = h @ w.T + b
            h = torch.tanh(z) if isinstance(layer.act, Tanh) else torch.sigmoid(z)
        loss = torch.nn.functional.mse_loss(h, y)
        reference_losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.3 * p.grad
                p.grad = None
    net, losses = train(x, y, net, epochs=3, lr=0.3)
    assert losses.shape == (3,) and losses.dtype == F64
    torch.testing.assert_close(losses, torch.tensor(reference_losses, dtype=F64), atol=1e-12, rtol=0)
    for layer, w, b in zip(net.layers, params[0::2], params[1::2]):
        torch.testing.assert_close(layer.linear.weight, w.detach(), atol=1e-12, rtol=0)
        torch.testing.assert_close(layer.linear.bias, b.detach(), atol=1e-12, rtol=0)


def test_train_fits_the_five_points():
    x, labels = data.five_points()
    y = labels.float().reshape(-1, 1)
    net = NeuralNetwork(2, 1, [5, 3], generator=torch.Generator().manual_seed(0))
    net, losses = train(x, y, net, epochs=2500, lr=0.25)
    assert losses.shape == (2500,)
    assert losses[-1] < 0.001 < 0.1 < losses[0]
    predictions = (net.forward(x) > 0.5).long().reshape(-1)
    assert torch.equal(predictions, labels)


# ---------------------------------------------------------------- bad input, caught before any state changes


def test_bad_sizes_and_activations_are_named():
    with pytest.raises(ValueError, match=r"Linear: in_features must be a positive integer, got 0"):
        Linear(0, 3)
    with pytest.raises(TypeError, match=r"Linear: out_features must be an integer, got float 2.5"):
        Linear(2, 2.5)
    with pytest.raises(ValueError, match=r"NeuralLayer: activation must be one of \['sigmoid', 'tanh'\], got 'relu'"):
        NeuralLayer(2, 3, "relu")
    with pytest.raises(ValueError, match=r"NeuralNetwork: hidden_sizes\[1\] must be a positive integer, got -3"):
        NeuralNetwork(2, 1, [5, -3])
    with pytest.raises(TypeError, match=r"hidden_sizes must be a list of layer sizes, got 5"):
        NeuralNetwork(2, 1, 5)
    with pytest.raises(TypeError, match=r"NeuralNetwork: input_size must be an integer, got bool True"):
        NeuralNetwork(True, 1, [])


def test_wrong_input_shape_or_dtype_names_the_layer_and_stores_nothing():
    net = NeuralNetwork(2, 1, [5, 3])
    with pytest.raises(ValueError, match=r"Linear\(2 -> 5\): expected x of shape \(batch, 2\), got \(4, 3\)"):
        net.forward(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"got \(2,\) \(a single sample needs a batch dimension: x\[None\]\)"):
        net.forward(torch.randn(2))
    with pytest.raises(TypeError, match=r"Linear\(2 -> 5\): x has dtype torch.float64 but the weight is torch.float32"):
        net.forward(torch.randn(4, 2, dtype=F64))
    assert all(layer.last_input is None for layer in net.layers)


def test_mismatched_x_and_y_are_caught_before_the_forward_pass():
    net = NeuralNetwork(2, 1, [5, 3])
    x, labels = data.five_points()
    with pytest.raises(
        ValueError,
        match=r"NeuralNetwork.backward: expected y of shape \(5, 1\) \(one row per row "
        r"of x\), got \(5,\) \(class labels of shape \(5,\) become targets",
    ):
        net.backward(x, labels)
    with pytest.raises(ValueError, match=r"NeuralNetwork.get_loss: expected y of shape \(5, 1\).*got \(4, 1\)"):
        net.get_loss(x, torch.zeros(4, 1))
    with pytest.raises(TypeError, match=r"NeuralNetwork.backward: y has dtype torch.int64 but x has torch.float32"):
        net.backward(x, labels.reshape(-1, 1))
    with pytest.raises(ValueError, match=r"NeuralNetwork.backward: expected x of shape \(batch, 2\), got \(5, 3\)"):
        net.backward(torch.zeros(5, 3), torch.zeros(5, 1))
    assert all(layer.last_input is None and layer.linear.weight_grad is None for layer in net.layers)
    with pytest.raises(
        ValueError, match=r"MSELoss.forward: y_true and y_pred must have the same shape, got \(5,\) and \(5, 1\)"
    ):
        MSELoss().forward(torch.zeros(5), torch.zeros(5, 1))
    with pytest.raises(ValueError, match=r"MSELoss.get_gradient: y_true and y_pred must have the same shape"):
        MSELoss().get_gradient(torch.zeros(5, 1), torch.zeros(1, 5))


def test_step_before_backward_is_an_error():
    net = NeuralNetwork(2, 1, [3])
    with pytest.raises(
        RuntimeError,
        match=r"NeuralNetwork.step: layer 0 \(NeuralLayer\(2 -> 3, tanh\)\) has no "
        r"gradient yet; call backward\(x, y\) first",
    ):
        net.step(0.1)


@pytest.mark.parametrize(
    "lr, error, message",
    [
        (0, ValueError, "must be a positive finite number, got 0"),
        (-0.1, ValueError, "must be a positive finite number, got -0.1"),
        (float("nan"), ValueError, "must be a positive finite number, got nan"),
        (float("inf"), ValueError, "must be a positive finite number, got inf"),
        ("0.1", TypeError, "must be a number, got str '0.1'"),
        (True, TypeError, "must be a number, got bool True"),
    ],
)
def test_bad_learning_rates_are_refused_before_any_update(lr, error, message):
    net, x, y = random_network(2, 1, [3], seed=0, batch_size=4)
    before = [layer.linear.weight.clone() for layer in net.layers]
    net.backward(x, y)
    with pytest.raises(error, match=r"NeuralNetwork.step: lr " + message):
        net.step(lr)
    with pytest.raises(error, match=r"train: lr " + message):
        train(x, y, net, epochs=5, lr=lr)
    assert all(torch.equal(b, layer.linear.weight) for b, layer in zip(before, net.layers))


def test_bad_epochs_and_bad_data_are_refused_by_train_before_any_update():
    net, x, y = random_network(2, 1, [3], seed=0, batch_size=4)
    before = [layer.linear.weight.clone() for layer in net.layers]
    with pytest.raises(ValueError, match=r"train: epochs must be a positive integer, got 0"):
        train(x, y, net, epochs=0, lr=0.1)
    with pytest.raises(ValueError, match=r"expected y of shape \(4, 1\)"):
        train(x, y[:3], net, epochs=5, lr=0.1)
    assert all(torch.equal(b, layer.linear.weight) for b, layer in zip(before, net.layers))


def test_train_refuses_non_finite_data_and_stops_a_diverging_run_with_the_last_good_weights():
    net, x, y = random_network(2, 1, [3], seed=0, batch_size=4)
    before = [p.clone() for layer in net.layers for p in (layer.linear.weight, layer.linear.bias)]
    x[1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"train: x holds NaN or inf in 1 row \(1\); clean or drop them"):
        train(x, y, net, epochs=5, lr=0.1)
    x[1, 0] = 0.5
    y = torch.full_like(y, 1e6)  # targets a sigmoid cannot reach: large gradients
    # a step size so large that the first update overflows float64: refused, nothing moved
    with pytest.raises(
        FloatingPointError,
        match=r"train, epoch 0: the update would make weight of layer \d "
        r"non-finite: the step \(step size 1e\+308 .*\) overflows",
    ):
        train(x, y, net, epochs=5, lr=1e308)
    after = [p for layer in net.layers for p in (layer.linear.weight, layer.linear.bias)]
    assert all(torch.equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("hidden_bias, named", [(0.0, "bias of layer 1"), (1.0, "weight of layer 1")])
def test_a_refused_train_step_names_the_parameter_it_would_break(hidden_bias, named):
    """Parameters in order W0, b0, W1, b1. With x = 0 and W1 = 0 only the last layer gets a gradient:
    its bias always, its weight where the hidden layer's output tanh(b0) is not 0."""
    net = NeuralNetwork(2, 1, [3])
    net.layers[0].linear.bias.fill_(hidden_bias)
    net.layers[1].linear.weight.zero_()
    x, y = torch.zeros(4, 2), torch.full((4, 1), 1e6)  # a far target: gradients of about 1e5
    with pytest.raises(FloatingPointError, match=rf"^train, epoch 0: the update would make {named} non-finite"):
        train(x, y, net, epochs=1, lr=1e38)  # 1e38 * 1e5 overflows float32


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda net: net.forward([[1.0, 2.0]]), r"Linear\(2 -> 3\): expected x of shape \(batch, 2\), got list$"),
        (
            lambda net: net.backward(torch.zeros(2), torch.zeros(2, 1)),
            r"NeuralNetwork.backward: expected x of shape \(batch, 2\), got \(2,\)$",
        ),
        (
            lambda net: net.backward([[0.0, 0.0]], torch.zeros(1, 1)),
            r"NeuralNetwork.backward: expected x of shape \(batch, 2\), got list$",
        ),
        (
            lambda net: net.backward(torch.zeros(1, 2), [[0.0]]),
            r"NeuralNetwork.backward: expected y of shape \(1, 1\) \(one row per row of x\), got list$",
        ),
        (
            lambda net: net.backward(torch.zeros(2, 2), torch.zeros(1, 2)),
            r"NeuralNetwork.backward: expected y of shape \(2, 1\) \(one row per row of x\), got \(1, 2\)$",
        ),
        (lambda net: NeuralNetwork(2, 0, [3]), r"^NeuralNetwork: output_size must be a positive integer, got 0$"),
        (
            lambda net: train(torch.zeros(3, 2), torch.tensor([[0.0], [float("nan")], [1.0]]), net, 1, 0.1),
            r"^train: y holds NaN or inf in 1 row \(1\); clean or drop them before training$",
        ),
    ],
)
def test_bad_data_is_named_in_full(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(NeuralNetwork(2, 1, [3]))


def test_a_layer_takes_an_activation_object_its_default_is_tanh_and_its_bias_has_the_weights_dtype():
    class Halve:  # any object with forward and get_gradient is an activation
        def forward(self, x):
            return x / 2

        def get_gradient(self, x):
            return torch.full_like(x, 0.5)

    layer = NeuralLayer(2, 3, Halve(), dtype=torch.float64)
    layer.linear.weight.zero_()
    layer.linear.bias.fill_(1.0)
    assert layer.forward(torch.ones(1, 2, dtype=torch.float64)).tolist() == [[0.5, 0.5, 0.5]]  # (0 + 1) / 2
    assert isinstance(NeuralLayer(2, 3).act, Tanh)
    assert layer.linear.bias.dtype == layer.linear.weight.dtype == torch.float64
    with pytest.raises(TypeError, match=r"^NeuralLayer: activation needs forward and get_gradient, got <object"):
        NeuralLayer(2, 3, object())
    with pytest.raises(TypeError, match=r"^NeuralLayer: activation needs forward and get_gradient"):
        NeuralLayer(2, 3, type("OnlyForward", (), {"forward": lambda self, x: x})())
    with pytest.raises(TypeError, match=r"^Linear: generator must be a torch.Generator .*got str 'g'$"):
        Linear(2, 3, generator="g")


def test_train_takes_a_learning_rate_given_as_a_tensor():
    runs = []
    for lr in (0.25, torch.tensor(0.25), torch.tensor(0.25, dtype=torch.float64)):
        net, x, y = random_network(2, 1, [3], seed=0, batch_size=4)
        _, losses = train(x, y, net, epochs=3, lr=lr)
        runs.append((losses.tolist(), net.layers[0].linear.weight.tolist()))
    assert runs[0] == runs[1] == runs[2]


def test_a_network_refuses_a_string_of_sizes_and_an_integer_dtype():
    with pytest.raises(TypeError, match=r"^NeuralNetwork: hidden_sizes must be a list of layer sizes, got '35'$"):
        NeuralNetwork(2, 1, "35")
    with pytest.raises(TypeError, match=r"^NeuralNetwork: dtype must be a floating-point dtype .* got torch.int64$"):
        NeuralNetwork(2, 1, [3], dtype=torch.int64)
