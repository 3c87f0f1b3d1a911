"""replay: a recorded backward pass changes no result and its events add up to every gradient."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from layer_testing import F64, t
from scratchlib.layers import Input, Linear, MSELoss, Network, Regularization, Sum, mlp
from scratchlib.show.replay import record_backward, recording


def handed_into(replay, node) -> list:
    """Every gradient the replay's backward events handed to ``node``, in the order they arrived."""
    return [g for e in replay if e.kind == "backward" for n, g in e.handed if n is node]


def weight_decay_net(seed=0, sizes=(2, 3, 2), batch=4, activation="relu", loss="cross_entropy"):
    g = torch.Generator().manual_seed(seed)
    net = mlp(
        list(sizes), activation=activation, loss=loss, regularization=0.05, batch_size=batch, generator=g, dtype=F64
    )
    net.x.set(torch.randn(batch, sizes[0], generator=g, dtype=F64))
    if loss == "cross_entropy":
        net.target.set(torch.randint(0, sizes[-1], (batch,), generator=g))
    else:
        net.target.set(torch.randn(batch, sizes[-1], generator=g, dtype=F64))
    for b in net.biases:  # non-zero biases
        b.set(0.3 * torch.randn(b.shape, generator=g, dtype=F64))
    net.forward()
    return net


def grads(net):
    return [layer.grad.clone() for layer in net.layers if layer.needs_grad]


def test_the_seed_handed_in_with_accumulate_grad_replays_as_the_seed_set_directly():
    """Exercise 4.20 may seed dJ/dJ = 1 as ``last.grad = ...`` or as ``last.accumulate_grad(...)`` (the
    Layer docstring allows both): the replay, and so the stepper and the drawings, is the same."""
    net = weight_decay_net()
    direct = record_backward(net)
    net.clear_grad()
    last = net.layers[-1]
    with recording(net) as replay:  # Network.backward's own loop, with the other way of seeding
        last.accumulate_grad(torch.ones_like(last.output))
        for layer in net._backward:
            layer.backward()
    assert [replay.describe(i) for i in range(len(replay))] == [direct.describe(i) for i in range(len(direct))]
    assert replay[0].kind == "seed" and replay[0].node is last


def test_the_events_of_the_weight_decay_network():
    replay = record_backward(weight_decay_net())
    assert [replay.describe(i) for i in range(len(replay))] == [
        "0 seed Sum2: dJ/dJ = 1",
        "1 backward Sum2: -> Sum1 = 1, Regularization2 = 1",
        "2 backward Regularization2: -> W2 (2, 3)",
        "3 backward Sum1: -> SoftmaxCrossEntropy = 1, Regularization1 = 1",
        "4 backward Regularization1: -> W1 (3, 2)",
        "5 backward SoftmaxCrossEntropy: -> Linear2 (4, 2)",
        "6 backward Linear2: -> ReLU (4, 3), W2 (2, 3), b2 = [0.1825, -0.1825]",
        "7 sum W2: the gradient from Linear2 meets the one already there, 2 terms of shape (2, 3)",
        "8 backward ReLU: -> Linear1 (4, 3)",
        "9 backward Linear1: -> W1 (3, 2), b1 = [0, -0.002634, -0.136]",
        "10 sum W1: the gradient from Linear1 meets the one already there, 2 terms of shape (3, 2)",
    ]
    W2 = replay.net.weights[1]
    meet = replay[7]
    assert meet.node is W2 and meet.source is replay.net.linears[1]
    # the two terms: 2 lambda W2 from the Regularization, G^T X from the Linear
    assert torch.equal(meet.terms[0], 2 * 0.05 * W2.output)
    G, X = replay[6].grad, replay.values[id(replay.net.activations[0])]
    assert torch.allclose(meet.terms[1], G.T @ X, rtol=0, atol=1e-15)


@pytest.mark.parametrize("activation,loss", [("relu", "cross_entropy"), ("tanh", "mse"), ("sigmoid", "mse")])
def test_recording_changes_no_result_bit_for_bit(activation, loss):
    plain, recorded = (weight_decay_net(1, (3, 4, 2), 5, activation, loss) for _ in range(2))
    for _ in range(2):  # the second pass takes the accumulate (add) path at the parameters
        plain.backward()
        with recording(recorded) as replay:
            recorded.backward()
        assert all(torch.equal(a, b) for a, b in zip(grads(plain), grads(recorded)))
    assert len(replay) > 0
    for layer in recorded.layers:  # the stand-ins are gone: the hot path is the plain methods again
        assert not {"backward", "accumulate_grad"} & set(vars(layer))


def test_record_backward_leaves_every_grad_as_it_was():
    net = weight_decay_net()
    net.backward()
    net.backward()  # parameters hold two passes
    before = [(layer.grad, None if layer.grad is None else layer.grad.clone()) for layer in net.layers]
    replay = record_backward(net)
    for layer, (grad, values) in zip(net.layers, before):
        # the same tensor (or None, for the data), with the same values
        assert layer.grad is grad and (grad is None or torch.equal(grad, values))
    assert net.x.grad is None and torch.count_nonzero(net.weights[0].grad) > 0
    # ... while the replay shows one pass from cleared gradients
    W1 = net.weights[0]
    assert torch.allclose(replay.final_grads()[id(W1)], W1.grad / 2, rtol=0, atol=1e-15)


@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    batch=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    loss=st.sampled_from(["cross_entropy", "mse"]),
)
def test_the_events_reproduce_every_gradient(sizes, batch, seed, activation, loss):
    net = weight_decay_net(seed, sizes, batch, activation, loss)
    replay = record_backward(net)
    net.clear_grad()
    net.backward()
    final = replay.final_grads()
    for layer in net.layers:
        if not layer.needs_grad:
            assert id(layer) not in final
            continue
        assert torch.equal(final[id(layer)], layer.grad)  # the replay ends on the gradient itself
        handed = handed_into(replay, layer)
        if layer is net.layers[-1]:
            assert handed == [] and layer.grad.item() == 1.0
        elif len(handed) == 1:  # one path: exactly what was handed
            assert torch.equal(handed[0], layer.grad)
        else:  # paths meet: grad is the sum of what was handed, added in arrival order
            total = handed[0]
            for g in handed[1:]:
                total = total + g
            assert torch.equal(total, layer.grad)
    meets = [e for e in replay if e.kind == "sum"]
    assert [e.node for e in meets] == list(reversed(net.weights))  # each W meets its weight decay


def test_replayed_gradients_agree_with_torch_autograd():
    net = weight_decay_net(3, (3, 4, 3), 5)
    replay = record_backward(net)
    leaves = [p.output.clone().requires_grad_() for p in net.parameters()]
    W1, b1, W2, b2 = leaves
    z = torch.relu(net.x.output @ W1.T + b1) @ W2.T + b2
    J = torch.nn.functional.cross_entropy(z, net.target.output) + 0.05 * ((W1**2).sum() + (W2**2).sum())
    J.backward()
    for p, leaf in zip(net.parameters(), leaves):
        assert torch.allclose(torch.stack(handed_into(replay, p)).sum(0), leaf.grad, rtol=0, atol=1e-14)


def test_grads_at_grows_step_by_step():
    replay = record_backward(weight_decay_net())
    reached = [set(replay.grads_at(i)) for i in range(len(replay))]
    assert len(reached[0]) == 1
    assert all(a <= b for a, b in zip(reached, reached[1:]))
    assert len(reached[-1]) == sum(layer.needs_grad for layer in replay.nodes)
    with pytest.raises(IndexError, match=r"step must lie in \[0, 11\), got 11"):
        replay.grads_at(11)


def test_a_hand_built_tape_is_named_and_recorded():
    net = Network()
    x = net.add(Input((2, 2), dtype=F64).set(t([[1, -1], [2, 0.5]])))
    y = net.add(Input((2, 1), dtype=F64).set(t([[2], [3]])))
    W = net.add(Input((1, 2), train=True, dtype=F64).set(t([[0.5, -2]])))
    b = net.add(Input((1,), train=True, dtype=F64).set(t([1])))
    loss = net.add(MSELoss(net.add(Linear(x, W, b)), y))
    net.add(Sum(loss, net.add(Regularization(W, 0.1))))
    net.forward()
    replay = record_backward(net, labels={W: "W", b: "b"})
    assert [replay.name(layer) for layer in net.layers] == [
        "data1",
        "data2",
        "W",
        "b",
        "Linear",
        "MSELoss",
        "Regularization",
        "Sum",
    ]
    # dW = D^T x + 2 (0.1) W = [-2.5, -2.5] + [0.1, -0.4] (tests/test_network.py works it by hand)
    assert handed_into(replay, W)[0].reshape(-1).tolist() == pytest.approx([0.1, -0.4], abs=1e-15)
    assert handed_into(replay, W)[1].tolist() == [[-2.5, -2.5]]


def test_record_before_forward_is_a_clear_error():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(RuntimeError, match="record_backward: run forward first"):
        record_backward(mlp([2, 2], generator=g))
    with pytest.raises(ValueError, match="no layers"):
        record_backward(Network())


def test_a_failing_backward_still_removes_the_wrappers():
    net = weight_decay_net()
    with pytest.raises(
        ValueError, match=r"accumulate_grad: gradient must have the shape of the output \(2, 3\), got \(3, 2\)"
    ):
        with recording(net) as replay:
            net.weights[1].accumulate_grad(torch.zeros(3, 2, dtype=F64))  # a wrong shape: refused, not recorded
    assert replay.events == []
    for layer in net.layers:
        assert not {"backward", "accumulate_grad"} & set(vars(layer))


def test_one_entry_point_records_a_tape_and_an_engine_graph():
    from scratchlib.autograd import Tensor

    net = weight_decay_net()
    a, b = Tensor(2.0, requires_grad=True), Tensor(-3.0, requires_grad=True)
    tape, graph = record_backward(net), record_backward(a * b + a, {"a": a, "b": b})
    assert tape.net is net and graph.net is None
    assert graph.describe(len(graph) - 1) == f"{len(graph) - 1} accumulate a: a.grad += -2"
    with pytest.raises(TypeError, match="record_backward needs a Network or an autograd Tensor, got int"):
        record_backward(42)
