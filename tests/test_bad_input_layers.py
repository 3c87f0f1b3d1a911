"""Bad input to the layer library (notebook 04): one row per input, and the dtypes an Input holds.

Rows and value tests from issue 30 (items 1, 3, 5, 11 and the layer parts of 14).
"""

import pytest
import torch

from bad_input import Bad, check, rows
from expect import expect
from scratchlib.layers import Input, Linear, Network, SoftmaxCrossEntropy, mlp

F64 = torch.float64


def data_input():
    return Input((2, 3), dtype=F64).set(torch.tensor([[1.0, -2, 0.5], [0, 3, -1]], dtype=F64))


def parameter():
    return Input((2, 3), train=True, dtype=F64).set(torch.tensor([[1.0, -2, 0.5], [0, 3, -1]], dtype=F64))


def net_without_loss():
    """x (2, 2) -> Linear: its output (2, 2) is no scalar objective."""
    net = Network()
    x = net.add(Input((2, 2), dtype=F64).set(torch.tensor([[1.0, -1], [2, 0.5]], dtype=F64)))
    W = net.add(Input((2, 2), train=True, dtype=F64).set(torch.tensor([[0.5, -1], [2, 1]], dtype=F64)))
    b = net.add(Input((2,), train=True, dtype=F64))
    net.add(Linear(x, W, b))
    net.forward()
    return net


def net_state(net):
    return [(layer.output, layer.grad) for layer in net.layers]


def nothing():
    return None


@rows(
    Bad("Input('ab')", nothing, lambda _: Input("ab"), TypeError, ["Input: shape", "(batch, features)", "str 'ab'"]),
    Bad("Input(None)", nothing, lambda _: Input(None), TypeError, ["Input: shape", "NoneType None"]),
    Bad("Input(2.5)", nothing, lambda _: Input(2.5), TypeError, ["Input: shape", "float 2.5"]),
    Bad("Input(True)", nothing, lambda _: Input(True), TypeError, ["Input: shape[0] must be an integer", "bool"]),
    Bad("Input((2, 'a'))", nothing, lambda _: Input((2, "a")), TypeError, ["shape[1] must be an integer", "'a'"]),
    Bad("Input((2, -1))", nothing, lambda _: Input((2, -1)), ValueError, ["non-negative sizes", "(2, -1)"]),
    Bad(
        "Input(train='no')",
        nothing,
        lambda _: Input((2, 3), train="no"),
        TypeError,
        ["Input: train must be True (a parameter) or False (data)", "str 'no'"],
    ),
    Bad("Input(train=None)", nothing, lambda _: Input(3, train=None), TypeError, ["train must be True", "None"]),
    Bad(
        "Input(2**70)",
        nothing,
        lambda _: Input((2**70, 3)),
        ValueError,
        ["Input: shape[0] must be an integer in [0, 2**63)", "1180591620717411303424"],
    ),
    Bad(
        "Input(dtype='float')",
        nothing,
        lambda _: Input(3, dtype="float"),
        TypeError,
        ["Input: dtype must be a torch.dtype", "'float'"],
    ),
    Bad(
        "integer parameter",
        nothing,
        lambda _: Input((2, 3), train=True, dtype=torch.int64),
        TypeError,
        ["Input(2, 3) (parameter)", "floating-point", "torch.int64"],
    ),
    Bad(
        "set a string",
        data_input,
        lambda x: x.set("ab"),
        TypeError,
        ["Input(2, 3).set", "numbers", "str 'ab'"],
        lambda x: [x.output, x.dtype],
    ),
    Bad(
        "set None",
        data_input,
        lambda x: x.set(None),
        TypeError,
        ["Input(2, 3).set", "NoneType"],
        lambda x: [x.output, x.dtype],
    ),
    Bad(
        "set a ragged list",
        data_input,
        lambda x: x.set([[1.0, 2.0, 3.0], [4.0]]),
        TypeError,
        ["Input(2, 3).set", "numbers"],
        lambda x: [x.output, x.dtype],
    ),
    Bad(
        "set booleans",
        data_input,
        lambda x: x.set(torch.ones(2, 3, dtype=torch.bool)),
        TypeError,
        ["real numbers", "torch.bool"],
        lambda x: [x.output, x.dtype],
    ),
    Bad(
        "set complex numbers",
        parameter,
        lambda w: w.set(torch.ones(2, 3, dtype=torch.complex128)),
        TypeError,
        ["(parameter).set", "real numbers", "torch.complex128"],
        lambda w: [w.output, w.dtype],
    ),
    Bad(
        "randomize with a string generator",
        parameter,
        lambda w: w.randomize("g"),
        TypeError,
        ["Input(2, 3) (parameter).randomize", "torch.Generator", "str 'g'"],
        lambda w: w.output,
    ),
    Bad(
        "mlp with an integer dtype",
        nothing,
        lambda _: mlp([2, 3, 2], dtype=torch.int64),
        TypeError,
        ["mlp: dtype must be a floating-point dtype", "torch.int64"],
    ),
    Bad(
        "mlp with a string generator",
        nothing,
        lambda _: mlp([2, 3, 2], generator="seed 0"),
        TypeError,
        ["mlp: generator must be a torch.Generator", "str 'seed 0'"],
    ),
    Bad(
        "backward of a non-scalar output",
        net_without_loss,
        lambda net: net.backward(),
        RuntimeError,
        ["Network.backward", "Linear(2, 2)", "shape (2, 2)", "scalar", "loss layer"],
        net_state,
    ),
)
def test_bad_input_is_refused_before_anything_changes(row):
    check(row)


# ---------------------------------------------------------------- what an Input holds (not errors)


def test_a_float_batch_after_an_integer_batch_stays_float_and_forward_works():
    # issue 30, item 1: the first value's dtype (int64) used to cut every later float batch to integers
    x = Input((2, 2))
    W = Input((1, 2), train=True).set(torch.tensor([[1.0, 1.0]]))
    b = Input((1,), train=True)
    layer = Linear(x, W, b)
    x.set(torch.tensor([[1, 2], [3, 4]]))  # integers: held as they are (labels are integers too)
    expect(x.output.dtype, torch.int64)
    expect(x.dtype, torch.int64)
    x.set(torch.tensor([[0.5, 1.5], [2.5, 3.25]], dtype=F64))
    expect(x.output.dtype, torch.float32)  # the declared float dtype
    expect(x.dtype, torch.float32)
    expect(x.output.tolist(), [[0.5, 1.5], [2.5, 3.25]])
    layer.forward()
    expect(layer.output.tolist(), [[2.0], [5.75]])


def test_train_is_a_flag_as_torch_requires_grad():
    np = pytest.importorskip("numpy")
    assert Input(3, train=np.bool_(True)).train is True  # a NumPy bool (from a mask) is a bool
    assert Input(3, train=False).train is False and Input(3).train is False


def test_integer_labels_in_a_float_input_stay_integers():
    # notebook 04 wires its labels as Input((2,)).set(tensor([2, 0])): a class index is no float
    logits = Input((2, 3)).set(torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]]))
    labels = Input((2,)).set(torch.tensor([2, 0], dtype=torch.int16))
    expect(labels.output.dtype, torch.int64)
    loss = SoftmaxCrossEntropy(logits, labels)
    loss.forward()
    expected = torch.nn.functional.cross_entropy(logits.output, torch.tensor([2, 0]))
    expect(loss.output.item(), expected.item(), atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_labels_of_every_integer_dtype_are_labels(dtype):
    # issue 30, item 5: uint8 and int16 labels passed the check and crashed inside gather
    g = torch.Generator().manual_seed(0)
    net = mlp([3, 4, 5], batch_size=6, generator=g, dtype=F64)
    x, y = torch.randn(6, 3, generator=g, dtype=F64), torch.tensor([0, 4, 2, 1, 3, 4])
    net.x.set(x)
    net.target.set(y.to(dtype))
    assert net.target.output.dtype == torch.int64
    loss = net.forward().item()
    net.clear_grad()
    net.backward()
    grad = net.weights[0].grad.clone()
    net.target.set(y)
    assert net.forward().item() == loss
    net.clear_grad()
    net.backward()
    assert torch.equal(net.weights[0].grad, grad)


def test_a_label_input_declared_int16_holds_int64_from_the_start():
    logits = Input((2, 3)).set(torch.zeros(2, 3))
    target = Input((2,), dtype=torch.int16)
    expect(target.output.dtype, torch.int64)
    loss = SoftmaxCrossEntropy(logits, target)
    loss.forward()  # its zeros are labels: no crash inside gather
    expect(loss.output.item(), torch.log(torch.tensor(3.0)).item(), atol=1e-6)


def test_set_detaches_so_no_autograd_graph_is_kept():
    # issue 30, item 3: a parameter set from a tensor with requires_grad=True (notebook 02's habit)
    # made every step part of torch's graph, and memory grew with the steps
    w = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], requires_grad=True)
    x_value = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    net = Network()
    x = net.add(Input((1, 3)).set(x_value))
    W = net.add(Input((2, 3), train=True).set(w))
    b = net.add(Input((2,), train=True).set(torch.zeros(2, requires_grad=True)))
    z = net.add(Linear(x, W, b))
    target = net.add(Input((1,), dtype=torch.int64).set(torch.tensor([1])))
    net.add(SoftmaxCrossEntropy(z, target))
    assert x.output is not x_value and torch.equal(x.output, x_value.detach())
    for _ in range(3):
        net.forward()
        net.clear_grad()
        net.backward()
        net.step(0.1)
    for layer in net.layers:
        for value in (layer.output, layer.grad):
            assert value is None or (not value.requires_grad and value.grad_fn is None), layer
    assert w.grad is None and x_value.grad is None  # nothing reaches the caller's tensors
    assert w.tolist() == [[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]  # a parameter copies
