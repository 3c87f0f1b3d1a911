"""replay on the engine's graph: a recorded backward changes nothing and adds up exactly."""

import matplotlib.pyplot as plt
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from scratchlib.autograd import Tensor, nn
from scratchlib.autograd.function import AccumulateGrad, Context
from scratchlib.show.draw import draw_graph
from scratchlib.show.replay import record_backward, recording
from scratchlib.show.stepper import BackwardStepper, backward_stepper


def used_twice():
    """f = a b + a with a = 2, b = -3: df/da = b + 1 = -2 (two paths), df/db = a = 2."""
    a = Tensor(2.0, requires_grad=True)
    b = Tensor(-3.0, requires_grad=True)
    ab = a * b
    f = ab + a
    return f, dict(a=a, b=b, ab=ab, f=f)


def test_the_events_of_a_value_used_twice():
    f, names = used_twice()
    replay = record_backward(f, names)
    assert [replay.describe(i) for i in range(len(replay))] == [
        "0 seed f: df/df = 1",
        "1 backward f: -> ab = 1, a = 1",
        "2 backward ab: -> a = -3, b = 2",
        "3 sum a: the gradient from ab meets the one already there: 1 + -3 = -2",
        "4 accumulate b: b.grad += 2",
        "5 accumulate a: a.grad += -2",
    ]
    assert names["a"].grad is None and names["b"].grad is None  # recording left .grad alone
    f.backward()  # the graph was kept: the real backward still runs, with the same numbers
    final = replay.final_grads()  # leaf Tensor -> what its AccumulateGrad node received
    grads = {id(n.variable): final[id(n)] for n in replay.nodes if isinstance(n, AccumulateGrad) and id(n) in final}
    assert torch.equal(grads[id(names["a"])], names["a"].grad) and names["a"].grad.item() == -2.0
    assert torch.equal(grads[id(names["b"])], names["b"].grad) and names["b"].grad.item() == 2.0


def mlp_loss(seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
    for p in model.parameters():
        p.data = p.data.double()
    x = Tensor(torch.randn(5, 3, generator=g, dtype=torch.float64))
    y = torch.randint(0, 3, (5,), generator=g)
    W = model.parameters()[0]
    loss = nn.CrossEntropyLoss()(model(x), y) + (W * W).sum() * 0.05  # W is used twice (and W * W)
    return loss, model


@given(seed=st.integers(0, 2**16))
def test_recording_changes_nothing_and_the_sums_are_the_engines(seed):
    plain, plain_model = mlp_loss(seed)
    recorded, recorded_model = mlp_loss(seed)
    plain.backward()
    with recording(recorded) as replay:
        recorded.backward()
    for p, q in zip(plain_model.parameters(), recorded_model.parameters()):
        assert torch.equal(p.grad, q.grad)
    for node in replay.nodes:  # the stand-ins are gone: each node runs its class's own method again
        assert "run" not in vars(node) and node.run.__func__ in (Context.run, AccumulateGrad.run)
    # the events reproduce every leaf's gradient exactly: the handed gradients, added in order
    for node in replay.nodes:
        if isinstance(node, AccumulateGrad):
            handed = [g for e in replay if e.kind == "backward" for n, g in e.handed if n is node]
            total = handed[0]
            for g in handed[1:]:
                total = total + g
            assert torch.equal(total, node.variable.grad)
    assert any(e.kind == "sum" for e in replay)  # W's paths meet


def test_draw_graph_at_every_step_headless():
    f, names = used_twice()
    replay = record_backward(f, names)
    pending = []
    for step in range(len(replay)):
        ax = draw_graph(f, names, step=step, replay=replay)
        texts = [t.get_text() for t in ax.texts if t.get_text()]
        assert len(texts) == 4
        pending.append(sum("grad pending" in t for t in texts))
        plt.close(ax.figure)
    assert pending == [3, 1, 0, 0, 0, 0]
    ax = draw_graph(f, names, step=3)  # records its own replay; .grad untouched
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    assert "a\n2\ngrad -2" in texts and "Mul\n= ab\n-6\ngrad 1" in texts
    assert "sum a" in ax.get_title() and names["a"].grad is None
    with pytest.raises(IndexError, match=r"step must lie in \[0, 6\)"):
        draw_graph(f, names, step=6)
    plt.close("all")


def test_the_stepper_on_a_tensor_and_its_slider():
    f, names = used_twice()
    stepper = BackwardStepper(f, names)
    assert len(stepper) == 6
    assert stepper.rule(2).startswith("ab: Mul.backward, G = df/dab:\n    1\ninputs: a = a, b = b\n")
    assert (
        "df/da = G * b, summed to a's shape  (input 0):\n    -3\n\n"
        "df/db = G * a, summed to b's shape  (input 1):\n    2"
    ) in stepper.rule(2)
    assert stepper.rule(1).startswith("f: Add.backward, G = df/df:\n    1\ninputs: a = ab, b = a\n")
    assert stepper.rule(3).endswith("= df/da:\n    -2")
    box = backward_stepper(f, names)
    box.slider.value = 3
    assert box.stepper.step == 3 and "3 sum a" in box.caption.value
    plt.close("all")


def test_record_needs_a_live_graph():
    f, names = used_twice()
    f.backward()  # frees the saved tensors
    with pytest.raises(RuntimeError, match="record_backward: trying to run backward through MulBackward a second"):
        record_backward(f, names)
    assert names["a"].grad.item() == -2.0  # put back after the failure
    with pytest.raises(ValueError, match="requires_grad=True"):
        record_backward(Tensor(1.0))
