"""Network: the tape, its backward walk, weight decay as a parallel branch, and the mlp helper."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from expect import expect
from layer_testing import F64, TOL, assert_close, t, tensors
from scratchlib.layers import (
    MLP,
    Input,
    Layer,
    Linear,
    MSELoss,
    Network,
    Regularization,
    ReLU,
    Scale,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    Tanh,
    mlp,
)


def tiny_network():
    """J = MSE(x W^T + b, y) + 0.1 ||W||^2 on a batch of 2."""
    net = Network()
    x = net.add(Input((2, 2), dtype=F64).set(t([[1, -1], [2, 0.5]])))
    y = net.add(Input((2, 1), dtype=F64).set(t([[2], [3]])))
    W = net.add(Input((1, 2), train=True, dtype=F64).set(t([[0.5, -2]])))
    b = net.add(Input((1,), train=True, dtype=F64).set(t([1])))
    z = net.add(Linear(x, W, b))
    loss = net.add(MSELoss(z, y))
    reg = net.add(Regularization(W, 0.1))
    net.add(Sum(loss, reg))
    return net, x, y, W, b, z, loss


def test_tiny_network_by_hand():
    # z = x W^T + b = [[0.5 + 2 + 1], [1 - 1 + 1]] = [[3.5], [1]];  D = z - y = [[1.5], [-2]]
    # MSE = (2.25 + 4) / 2 = 3.125;  R = 0.1 (0.25 + 4) = 0.425;  J = 3.55
    # dJ/dz = (2 / N) D = D;  dW = D^T x + 2 (0.1) W = [1.5 - 4, -1.5 - 1] + [0.1, -0.4] = [-2.4, -2.9]
    # db = 1.5 - 2 = -0.5;  the data x and y get no gradient inside a network
    net, x, y, W, b, z, loss = tiny_network()
    assert_close(net.forward(), t(3.55), tol=1e-14)
    net.backward()
    assert_close(W.grad, t([[-2.4, -2.9]]), tol=1e-14)
    assert b.grad.tolist() == [-0.5]
    assert z.grad.tolist() == [[1.5], [-2.0]]
    assert x.grad is None and y.grad is None
    assert [layer.needs_grad for layer in net.layers] == [False, False, True, True, True, True, True, True]


class Times(Layer):
    """Made by hand for the tape test (plain torch, no exercise): Y = A * B element-wise; dA = G B, dB = G A."""

    def __init__(self, a, b):
        super().__init__(a, b, shape=a.shape)
        self.a, self.b = a, b

    def forward(self):
        self.output = self.a.output * self.b.output

    def backward(self):
        self.a.accumulate_grad(self.grad * self.b.output)
        self.b.accumulate_grad(self.grad * self.a.output)


class Square(Layer):
    """Made by hand for the tape test: Y = X^2 element-wise; dX = 2 X G."""

    def __init__(self, x):
        super().__init__(x, shape=x.shape)
        self.x = x

    def forward(self):
        self.output = self.x.output**2

    def backward(self):
        self.x.accumulate_grad(2 * self.x.output * self.grad)


class Dot(Layer):
    """Made by hand for the tape test: J = sum(C * X) for a fixed C; dX = g C."""

    def __init__(self, x, c):
        super().__init__(x, shape=())
        self.x, self.c = x, c

    def forward(self):
        self.output = (self.c * self.x.output).sum()

    def backward(self):
        self.x.accumulate_grad(self.grad * self.c)


def test_backward_alone_walks_a_tape_of_hand_made_layers():
    """Runs only exercise 4.20 (Network.backward): the layers are made by hand in this test."""
    # P = X * W = [[2, -2, -1], [1, -1, -3]];  H = P^2 = [[4, 4, 1], [1, 1, 9]]
    # J = sum(C * H) = 4 - 4 + 2 - 0.5 + 3 + 9 = 13.5
    # backward from dJ/dJ = 1:  dJ/dH = C;  dJ/dP = 2 P C = [[4, 4, -4], [-1, -6, -6]]
    # dJ/dW = X * dJ/dP = [[4, -8, -2], [-2, -6, 6]];  the data X gets none
    X, W = t([[1, -2, 0.5], [2, 1, -1]]), t([[2, 1, -2], [0.5, -1, 3]])
    C = t([[1, -1, 2], [-0.5, 3, 1]])
    net = Network()
    x = net.add(Input((2, 3), dtype=F64).set(X))
    w = net.add(Input((2, 3), train=True, dtype=F64).set(W))
    p = net.add(Times(x, w))
    h = net.add(Square(p))
    dot = net.add(Dot(h, C))
    expect(net.forward().item(), 13.5)
    net.backward()
    expect(dot.grad.item(), 1.0)  # the seed dJ/dJ
    expect(h.grad.tolist(), C.tolist())
    expect(p.grad.tolist(), [[4.0, 4.0, -4.0], [-1.0, -6.0, -6.0]])
    expect(w.grad.tolist(), [[4.0, -8.0, -2.0], [-2.0, -6.0, 6.0]])
    expect(x.grad, None)
    leaf = W.clone().requires_grad_()
    (C * (X * leaf) ** 2).sum().backward()
    expect(w.grad, leaf.grad, atol=TOL)


def test_backward_twice_accumulates_parameters_only_and_clear_grad_forgets():
    net, x, y, W, b, z, loss = tiny_network()
    net.forward()
    net.backward()
    net.backward()  # as torch: parameter grads add up, the layers in between do not
    assert_close(W.grad, 2 * t([[-2.4, -2.9]]), tol=1e-14)
    assert z.grad.tolist() == [[1.5], [-2.0]]
    net.clear_grad()
    assert W.grad is None and z.grad is None  # as torch's zero_grad
    net.step(0.5)  # no gradient: nothing moves
    assert_close(W.output, t([[0.5, -2]]), tol=0)


def test_step_moves_every_parameter_and_nothing_else():
    net, x, y, W, b, z, loss = tiny_network()
    net.forward()
    net.backward()
    net.step(0.5)
    assert_close(W.output, t([[0.5 + 1.2, -2 + 1.45]]), tol=1e-14)
    assert b.output.tolist() == [1.25]
    assert x.output.tolist() == [[1, -1], [2, 0.5]]
    assert net.parameters() == [W, b]


def weight_decay_network(x, labels, W1, b1, W2, b2, strength):
    """J = CE(W2 relu(W1 x + b1) + b2) + strength ||W1||^2 + strength ||W2||^2, built layer by layer."""
    net = Network()
    xs = net.add(Input(tuple(x.shape), dtype=F64).set(x))
    target = net.add(Input(tuple(labels.shape), dtype=torch.int64).set(labels))
    params = [net.add(Input(tuple(v.shape), train=True, dtype=F64).set(v)) for v in (W1, b1, W2, b2)]
    hidden = net.add(ReLU(net.add(Linear(xs, params[0], params[1]))))
    logits = net.add(Linear(hidden, params[2], params[3]))
    ce = net.add(SoftmaxCrossEntropy(logits, target))
    r1 = net.add(Regularization(params[0], strength))
    r2 = net.add(Regularization(params[2], strength))
    net.add(Sum(net.add(Sum(ce, r1)), r2))
    return net, params


def torch_weight_decay(x, labels, W1, b1, W2, b2, strength):
    logits = torch.relu(x @ W1.T + b1) @ W2.T + b2
    return torch.nn.functional.cross_entropy(logits, labels) + strength * (W1**2).sum() + strength * (W2**2).sum()


@given(
    batch=st.integers(2, 6),
    n_in=st.integers(1, 5),
    hidden=st.integers(1, 6),
    classes=st.integers(2, 5),
    strength=st.floats(0, 1),
    data=st.data(),
)
def test_weight_decay_network_matches_torch_autograd(batch, n_in, hidden, classes, strength, data):
    values = [data.draw(tensors(s)) for s in [(batch, n_in), (hidden, n_in), (hidden,), (classes, hidden), (classes,)]]
    x, W1, b1, W2, b2 = values
    labels = torch.tensor(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch)))
    net, params = weight_decay_network(x, labels, W1, b1, W2, b2, strength)
    J = net.forward()
    net.backward()
    leaves = [v.clone().requires_grad_() for v in (W1, b1, W2, b2)]
    ref = torch_weight_decay(x, labels, *leaves, strength)
    ref.backward()
    assert_close(J, ref.detach())
    for p, leaf in zip(params, leaves):
        assert_close(p.grad, leaf.grad)


def test_a_layer_read_twice_receives_the_sum_of_gradients():
    # h = tanh(x W^T + b) feeds two heads; J = MSE(h V1^T, y1) + MSE(h V2^T, y2)
    g = torch.Generator().manual_seed(3)
    x, W, b, V1, V2, y1, y2 = (
        torch.randn(s, generator=g, dtype=F64) for s in [(4, 3), (5, 3), (5,), (2, 5), (3, 5), (4, 2), (4, 3)]
    )
    net = Network()
    xs, t1, t2 = (net.add(Input(tuple(v.shape), dtype=F64).set(v)) for v in (x, y1, y2))
    pW, pb, pV1, pV2 = (net.add(Input(tuple(v.shape), train=True, dtype=F64).set(v)) for v in (W, b, V1, V2))
    zero1, zero2 = net.add(Input((2,), dtype=F64)), net.add(Input((3,), dtype=F64))
    h = net.add(Tanh(net.add(Linear(xs, pW, pb))))
    head1 = net.add(MSELoss(net.add(Linear(h, pV1, zero1)), t1))
    head2 = net.add(MSELoss(net.add(Linear(h, pV2, zero2)), t2))
    net.add(Sum(head1, head2))
    net.forward()
    net.backward()
    leaves = [v.clone().requires_grad_() for v in (W, b, V1, V2)]
    lW, lb, lV1, lV2 = leaves
    hh = torch.tanh(x @ lW.T + lb)
    (((hh @ lV1.T - y1) ** 2).mean() + ((hh @ lV2.T - y2) ** 2).mean()).backward()
    for p, leaf in zip((pW, pb, pV1, pV2), leaves):
        assert_close(p.grad, leaf.grad)


def test_a_layer_on_its_own_still_hands_gradients_to_data():
    x = Input((2, 2), dtype=F64).set(t([[1, -1], [2, 0.5]]))
    W = Input((1, 2), train=True, dtype=F64).set(t([[0.5, -2]]))
    layer = Linear(x, W, Input((1,), dtype=F64))
    layer.forward()
    layer.accumulate_grad(t([[1.5], [-2.0]]))
    layer.backward()
    assert x.grad.tolist() == [[0.75, -3.0], [-1.0, 4.0]]  # G W


def test_add_refuses_a_layer_before_its_inputs():
    net = Network()
    x = net.add(Input((2, 3)))
    W, b = Input((4, 3), train=True), Input((4,), train=True)
    net.add(W)
    with pytest.raises(
        ValueError,
        match=r"Network.add: input 2 of Linear\(2, 4\), Input\(4,\) \(parameter\), "
        r"is not on the tape yet",
    ):
        net.add(Linear(x, W, b))
    assert len(net) == 2
    with pytest.raises(ValueError, match=r"Network.add: Input\(2, 3\) is already on the tape"):
        net.add(x)
    with pytest.raises(TypeError, match=r"Network.add needs a Layer, got Tensor"):
        net.add(torch.zeros(2))
    assert net.layers == [x, W]


# every kind of layer, built on an Input x (2, 3) in float64: the layer and the inputs it reads
def _every_layer():
    x, W, b = Input((2, 3), dtype=F64), Input((4, 3), train=True, dtype=F64), Input((4,), train=True, dtype=F64)
    target, labels, halved, doubled = (
        Input((2, 3), dtype=F64),
        Input((2,), dtype=torch.int64),
        Scale(x, 0.5),
        Scale(x, 2),
    )
    return x, {
        "Linear": (Linear(x, W, b), (x, W, b)),
        "ReLU": (ReLU(x), (x,)),
        "Sigmoid": (Sigmoid(x), (x,)),
        "Tanh": (Tanh(x), (x,)),
        "Softmax": (Softmax(x), (x,)),
        "Scale": (halved, (x,)),
        "Sum": (Sum(halved, doubled), (halved, doubled)),
        "Regularization": (Regularization(x, 0.1), (x,)),
        "MSELoss": (MSELoss(x, target), (x, target)),
        "SoftmaxCrossEntropy": (SoftmaxCrossEntropy(x, labels), (x, labels)),
    }


@pytest.mark.parametrize("kind", sorted(_every_layer()[1]))
def test_every_layer_names_its_inputs_and_takes_their_dtype(kind):
    """A layer records what it reads (the tape checks it, backward walks it) and takes its dtype from it."""
    x, layers = _every_layer()
    layer, inputs = layers[kind]
    assert layer.inputs == inputs and layer.dtype == F64
    with pytest.raises(ValueError, match=r"is not on the tape yet"):
        Network().add(layer)


def test_a_network_prints_its_tape_with_the_inputs_of_each_layer():
    net = Network()
    x, W, b = net.add(Input((2, 3))), net.add(Input((4, 3), train=True)), net.add(Input((4,), train=True))
    net.add(ReLU(net.add(Linear(x, W, b))))
    assert repr(net) == (
        "Network(\n"
        "  0: Input(2, 3)\n"
        "  1: Input(4, 3) (parameter)\n"
        "  2: Input(4,) (parameter)\n"
        "  3: Linear(2, 4) <- [0, 1, 2]\n"
        "  4: ReLU(2, 4) <- [3]\n"
        ")"
    )
    assert repr(Network()) == "Network(\n)"
    assert net.index(x) == 0 and net.index(b) == 2
    with pytest.raises(ValueError, match=r"^Input\(2, 3\) is not on this tape$"):
        Network().index(x)


def test_backward_before_forward_and_bad_step_sizes_change_nothing():
    with pytest.raises(RuntimeError, match=r"Network.backward: the tape is empty"):
        Network().backward()
    net, x, y, W, b, z, loss = tiny_network()
    with pytest.raises(
        RuntimeError, match=r"Network.backward called before forward: the last layer Sum\(\) has no output"
    ):
        net.backward()
    assert W.grad is None
    net.forward()
    net.backward()
    before = [p.output.clone() for p in net.parameters()]
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"Network.step: step_size must be a positive finite number"):
            net.step(bad)
    assert all(torch.equal(p.output, v) for p, v in zip(net.parameters(), before))


def test_forward_upto_runs_a_prefix_of_the_tape():
    net, x, y, W, b, z, loss = tiny_network()
    out = net.forward(upto=z)
    expect(out.tolist(), [[3.5], [1.0]])
    expect(loss.output, None)
    assert "4: Linear(2, 1) <- [0, 2, 3]" in repr(net)


def test_mlp_builds_the_weight_decay_network():
    net = mlp([3, 5, 4], regularization=0.01, batch_size=6, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert isinstance(net, MLP)
    assert net.parameters() == [net.weights[0], net.biases[0], net.weights[1], net.biases[1]]
    assert [w.shape for w in net.weights] == [(5, 3), (4, 5)] and net.biases[0].output.abs().sum() == 0
    assert isinstance(net.loss, SoftmaxCrossEntropy) and net.objective is net.layers[-1]
    assert [r.W for r in net.regularizers] == net.weights and net.logits is net.linears[-1]
    g = torch.Generator().manual_seed(1)
    x, labels = torch.randn(6, 3, generator=g, dtype=F64), torch.randint(0, 4, (6,), generator=g)
    for b_ in net.biases:
        b_.randomize(g)
    net.x.set(x)
    net.target.set(labels)
    J = net.forward()
    net.backward()
    leaves = [p.output.clone().requires_grad_() for p in net.parameters()]
    ref = torch_weight_decay(x, labels, *leaves, 0.01)
    ref.backward()
    assert_close(J, ref.detach())
    for p, leaf in zip(net.parameters(), leaves):
        assert_close(p.grad, leaf.grad)
    assert_close(net.classifications, torch.softmax(net.logits.output, dim=1))
    assert net.predict(torch.randn(11, 3, dtype=F64)).shape == (11, 4)


def test_mlp_with_mse_and_a_sigmoid_output_trains():
    net = mlp(
        [2, 8, 1],
        activation="tanh",
        loss="mse",
        output_activation="sigmoid",
        batch_size=4,
        generator=torch.Generator().manual_seed(0),
    )
    x = torch.tensor([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    net.x.set(x)
    net.target.set(torch.tensor([[0.0], [1], [1], [0]]))
    first = net.forward().item()
    for _ in range(300):
        net.clear_grad()
        net.forward()
        net.backward()
        net.step(2.0)
    assert net.forward().item() < 0.5 * first
    assert net.prediction is net.layers[-2] and net.regularizers == [] and net.objective is net.loss


def test_mlp_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"mlp: sizes must be a list of at least two layer sizes, got \[3\]"):
        mlp([3])
    with pytest.raises(ValueError, match=r"mlp: activation must be one of"):
        mlp([3, 2], activation="gelu")
    with pytest.raises(ValueError, match=r"mlp: loss must be 'cross_entropy' or 'mse'"):
        mlp([3, 2], loss="hinge")
    with pytest.raises(ValueError, match=r"mlp: regularization must be a finite number >= 0, got -1"):
        mlp([3, 2], regularization=-1)
    with pytest.raises(ValueError, match=r"mlp: output_activation"):
        mlp([3, 2], output_activation="sigmoid")


def test_mlp_sizes_must_be_whole_numbers():
    # mlp([2.7, 3]) used to build a 2-input network without a word
    with pytest.raises(TypeError, match=r"mlp: sizes\[0\] must be an integer, got float 2.7"):
        mlp([2.7, 3])
    with pytest.raises(ValueError, match=r"mlp: sizes\[1\] must be a positive integer, got 0"):
        mlp([2, 0])
    import numpy as np

    assert mlp([np.int64(2), 3]).x.shape[1] == 2  # numpy integers are integers


def test_the_mlp_class_declares_what_mlp_builds():
    from scratchlib.layers import MLP

    declared = {
        "x",
        "target",
        "weights",
        "biases",
        "linears",
        "activations",
        "logits",
        "prediction",
        "loss",
        "regularizers",
        "objective",
    }
    assert declared <= set(MLP.__annotations__)
    net = MLP([2, 3, 2], batch_size=4)
    assert all(hasattr(net, name) for name in declared) and net.regularizers == []


def test_no_exercise_region_in_the_library_uses_a_fused_helper():
    import re
    from pathlib import Path

    fused = re.compile(r"addmm|addcmul|accumulate_matmul|accumulate_product|scatter_add|out=|_foreach|torch\._")
    root = Path(__file__).resolve().parent.parent / "scratchlib"
    regions = []
    for path in root.rglob("*.py"):
        # the markers spelled in two pieces, so this file is no region to the student edition
        regions += re.findall("### BEGIN " + r"SOLUTION (\S+):.*?\n(.*?)### END " + "SOLUTION", path.read_text(), re.S)
    assert len(regions) > 20
    # Adam's second moment (6.57) is written as torch's own Adam writes it: v.mul_(b2).addcmul_(g, g, ...)
    assert [k for k, body in regions if fused.search(body)] == ["6.57"]


def test_the_update_uses_no_private_torch_function():
    import inspect

    from scratchlib.course import validate
    from scratchlib.layers import Network

    for function in (Network.step, validate.safe_step):
        assert "torch._" not in inspect.getsource(function), function.__qualname__


def test_a_layer_nothing_downstream_reads_gets_no_gradient():
    # z = [[3.5], [1]], D = z - y = [[1.5], [-2]] = dJ/dz (N = 2);  dW = D^T x = [[-2.5, -2.5]]
    net = Network()
    x = net.add(Input((2, 2), dtype=F64).set(t([[1, -1], [2, 0.5]])))
    y = net.add(Input((2, 1), dtype=F64).set(t([[2], [3]])))
    W = net.add(Input((1, 2), train=True, dtype=F64).set(t([[0.5, -2]])))
    b = net.add(Input((1,), train=True, dtype=F64).set(t([1])))
    z = net.add(Linear(x, W, b))
    side = net.add(ReLU(z))  # a side branch: the loss does not read it
    net.add(MSELoss(z, y))
    net.forward()
    net.backward()
    assert side.output.tolist() == [[3.5], [1.0]] and side.grad is None  # as torch: never reached
    assert W.grad.tolist() == [[-2.5, -2.5]] and b.grad.tolist() == [-0.5]


def test_a_layer_on_a_data_only_branch_is_left_out_of_backward():
    """The target scaled by a layer: no parameter lies upstream of the Scale, so backward skips it."""
    net = Network()
    x = net.add(Input((2, 2), dtype=F64).set(t([[1, 2], [3, 4]])))
    w = net.add(Input((2, 2), train=True, dtype=F64).set(t([[1, 0], [0, 1]])))
    b = net.add(Input((2,), train=True, dtype=F64).set(t([0, 0])))
    y = net.add(Input((2, 2), dtype=F64).set(t([[0, 1], [2, 3]])))
    half = net.add(Scale(y, 0.5))
    net.add(MSELoss(net.add(Linear(x, w, b)), half))
    net.forward()
    net.backward()
    assert half.grad is None and y.grad is None
    expect(b.grad.tolist(), [1.5, 2.0])  # the rows of 2 (x - y/2) / 4 summed: [[0.5, 0.75], [1, 1.25]]


def test_an_empty_tape_and_a_non_scalar_objective_are_named_in_full():
    for run, what in [(Network().forward, "forward"), (Network().backward, "backward")]:
        with pytest.raises(RuntimeError) as error:
            run()
        assert str(error.value) == f"Network.{what}: the tape is empty; add layers first"
    net = Network()
    x, w = net.add(Input((2, 2))), net.add(Input((2, 2), train=True))
    net.add(Sum(x, w))
    net.forward()
    with pytest.raises(RuntimeError) as error:
        net.backward()
    assert str(error.value) == (
        "Network.backward: the last layer Sum(2, 2) has an output of shape (2, 2), but backward starts from "
        "dJ/dJ = 1 and needs a scalar objective J: add a loss layer last"
    )


def test_mlp_puts_every_input_on_its_device_in_its_dtype():
    net = mlp([2, 3, 2], device="meta", dtype=F64)
    inputs = [layer for layer in net.layers if isinstance(layer, Input)]
    assert {layer.output.device.type for layer in inputs} == {"meta"}
    assert [layer.dtype for layer in inputs] == [F64, torch.int64, F64, F64, F64, F64]  # x, labels, W1, b1, W2, b2
    assert net.x.shape == (1, 2) and mlp([2, 2], loss="mse").target.dtype == torch.get_default_dtype()
    with pytest.raises(ValueError, match=r"^mlp: sizes must be a list of at least two layer sizes, got 5$"):
        mlp(5)
    with pytest.raises(ValueError, match=r"^mlp: batch_size must be a positive integer, got 0$"):
        mlp([2, 2], batch_size=0)
