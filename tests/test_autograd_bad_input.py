"""Bad input to the engine, and torch's rules in it (issue 30): one table row per mistake.

Each row of ``BAD_INPUT`` builds fresh objects, makes one call that must fail, and names the
error type, the words its message must hold (what was wrong and what was expected) and the
state that must be the same after the error as before it (``.grad``, ``.data``, running
statistics): the next bad input is one more row. The tests after the table check, against
torch, the behaviours that are no mistake: the dtype of a gradient, NaN through ReLU, the
cumulative BatchNorm average, empty tensors, each leaf's own gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from autograd_parity import assert_close
from expect import expect
from scratchlib.autograd import Tensor, nn, optim
from scratchlib.autograd import functional as F

F32, F64 = torch.float32, torch.float64


def leaf(values, dtype=F32, parameter=False) -> Tensor:
    return Tensor(torch.tensor(values, dtype=dtype), requires_grad=True, is_parameter=parameter)


def mlp(seed=0, batch_norm=False) -> dict[str, Any]:
    """A small network, its optimizer and a batch: what a training loop holds."""
    g = torch.Generator().manual_seed(seed)
    middle = [nn.BatchNorm1d(4)] if batch_norm else []
    model = nn.Sequential(nn.Linear(3, 4, generator=g), *middle, nn.ReLU(), nn.Linear(4, 2, generator=g))
    x = Tensor(torch.randn(5, 3, generator=g))
    y = torch.tensor([0, 1, 1, 0, 1])
    return dict(model=model, opt=optim.SGD(model.parameters(), lr=0.1), x=x, y=y, loss_fn=nn.CrossEntropyLoss())


def forward(o: dict[str, Any]) -> Tensor:
    return o["loss_fn"](o["model"](o["x"]), o["y"])


def model_state(o: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for i, p in enumerate(o["model"].parameters()):
        state[f"p{i}.data"], state[f"p{i}.grad"] = p.data, p.grad
    return state


# ----------------------------------------------------------------- the builders of rows' objects
def stale_square() -> dict[str, Any]:
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.data.sub_(1.0)  # the issue's five lines: torch's .data escapes its counter, ours counts it
    return dict(w=w, loss=loss)


def stale_after_isub() -> dict[str, Any]:
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.data -= 0.5  # notebook 02's update, written before backward
    return dict(w=w, loss=loss)


def step_between_forward_and_backward() -> dict[str, Any]:
    o = mlp()
    forward(o).backward()  # a first, correct iteration leaves gradients behind
    o["loss"] = forward(o)
    o["opt"].step()  # the bug: the weights the forward saved change before its backward
    return o


def zero_grad_forward_step() -> dict[str, Any]:
    o = mlp()
    o["opt"].zero_grad()
    o["loss"] = forward(o)
    return o


def stale_output() -> dict[str, Any]:
    x = leaf([0.5, -1.0])
    y = x.exp()  # Exp saves its output, y's own data
    loss = y.sum()
    y.data.mul_(2.0)
    return dict(x=x, loss=loss)


def stale_branch() -> dict[str, Any]:
    a, b, w = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    loss = (a * b).sum() + (w * w).sum()
    w.data[0] = 0.0  # an indexed write is a change in place too
    return dict(a=a, b=b, w=w, loss=loss)


def cycle() -> dict[str, Any]:
    x = leaf([1.0])
    y = x * 2.0
    z = y * 3.0
    y.grad_fn.next_functions = (z.grad_fn, None)  # by hand: z's node now feeds y's, which feeds z's
    return dict(x=x, z=z)


def assign_grad(value: Callable[[], object]) -> Callable[[dict], object]:
    def call(o: dict[str, Any]) -> None:
        o["p"].grad = value()

    return call


def parameter_with_grad(start: torch.Tensor | None = None) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        p = leaf([1.0, 2.0], parameter=True)
        p.grad = start
        return dict(p=p)

    return make


def batch_norm(eval_mode=False) -> dict[str, Any]:
    bn = nn.BatchNorm1d(3)
    bn(Tensor(torch.randn(4, 3, generator=torch.Generator().manual_seed(0))))  # statistics that are not 0 and 1
    if eval_mode:
        bn.eval()
    return dict(bn=bn)


def bn_state(o: dict[str, Any]) -> dict[str, Any]:
    bn = o["bn"]
    return dict(
        mean=bn.running_mean, var=bn.running_var, n=bn.num_batches_tracked, weight=bn.weight.data, grad=bn.weight.grad
    )


@dataclass(frozen=True)
class Row:
    id: str
    make: Callable[[], dict[str, Any]]  # fresh objects for the call
    call: Callable[[dict[str, Any]], object]  # the bad call
    error: type[BaseException]
    words: tuple[str, ...]  # the message holds each of them
    state: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda o: {})  # unchanged by the call


def nothing() -> dict[str, Any]:
    return {}


def grad_of(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda o: {f"{n}.grad": o[n].grad for n in names} | {f"{n}.data": o[n].data for n in names}


BAD_INPUT = [
    # ---- 4: the version counter
    Row(
        "4 .data changed in place between forward and backward",
        stale_square,
        lambda o: o["loss"].backward(),
        RuntimeError,
        (
            "one of the variables needed for gradient computation has been modified by an inplace operation: ",
            "MulBackward's saved tensor 0",
            "input 0 of Mul: a leaf",
            "is at version 1",
        )
        + ("expected version 0", "before optimizer.step()"),
        grad_of("w"),
    ),
    Row(
        "4 p.data -= ... before backward",
        stale_after_isub,
        lambda o: o["loss"].backward(),
        RuntimeError,
        ("modified by an inplace operation", "MulBackward", "expected version 0"),
        grad_of("w"),
    ),
    Row(
        "4 forward, step, backward (gradients left from the last step)",
        step_between_forward_and_backward,
        lambda o: o["loss"].backward(),
        RuntimeError,
        ("LinearFunctionBackward's saved tensor 1", "(shape (2, 4), torch.float32", "input 1 of LinearFunction")
        + ("a parameter", "is at version 2; expected version 1", "before optimizer.step()"),  # uniform_ was 1
        model_state,
    ),
    Row(
        "4 zero_grad, forward, step, backward (step finds no gradient)",
        zero_grad_forward_step,
        lambda o: (o["opt"].step(), o["loss"].backward()),
        RuntimeError,
        ("SGD.step()", "none of the 4 parameters has a gradient", "would change nothing")
        + ("zero_grad(), forward, loss.backward(), then step()",),
        model_state,
    ),
    Row(
        "4 Adam.step() with no gradient",
        lambda: dict(p=leaf([1.0])),
        lambda o: optim.Adam([o["p"]]).step(),
        RuntimeError,
        ("Adam.step()", "none of the 1 parameters has a gradient"),
        grad_of("p"),
    ),
    Row(
        "4 a saved output changed in place",
        stale_output,
        lambda o: o["loss"].backward(),
        RuntimeError,
        ("ExpBackward's saved tensor 0 (shape (2,), torch.float32)", "version 1; expected version 0"),
        grad_of("x"),
    ),
    Row(
        "4 refused before any leaf gets part of a gradient",
        stale_branch,
        lambda o: o["loss"].backward(),
        RuntimeError,
        ("MulBackward's saved tensor 0", "input 0 of Mul: a leaf", "version 1; expected version 0"),
        grad_of("a", "b", "w"),
    ),
    # ---- 7: dtypes are not mixed where torch refuses to mix them
    Row(
        "7 BatchNorm1d float32 weights, float64 input (training)",
        batch_norm,
        lambda o: o["bn"](Tensor(torch.randn(4, 3, dtype=F64))),
        TypeError,
        ("BatchNorm1d(3)", "input has dtype torch.float64", "weights have torch.float32", "dtype=torch.float64"),
        bn_state,
    ),
    Row(
        "7 BatchNorm1d float32 weights, float64 input (eval)",
        lambda: batch_norm(eval_mode=True),
        lambda o: o["bn"](Tensor(torch.randn(4, 3, dtype=F64))),
        TypeError,
        ("BatchNorm1d(3)", "input has dtype torch.float64", "weights have torch.float32"),
        bn_state,
    ),
    Row(
        "7 Linear float32 weights, float64 input",
        nothing,
        lambda o: nn.Linear(3, 2)(Tensor(torch.randn(4, 3, dtype=F64))),
        TypeError,
        ("Linear(3, 2)", "input has dtype torch.float64", "weights have torch.float32"),
    ),
    # ---- 8: BatchNorm1d's and Linear's settings
    *(
        Row(f"8 BatchNorm1d eps={eps!r}", nothing, lambda o, eps=eps: nn.BatchNorm1d(3, eps=eps), ValueError, words)
        for eps, words in [
            (0, ("BatchNorm1d", "eps must be a positive finite number, got 0")),
            (-1.0, ("eps must be a positive finite number, got -1.0",)),
            (math.nan, ("eps must be a positive finite number, got nan",)),
            (math.inf, ("eps must be a positive finite number, got inf",)),
        ]
    ),
    *(
        Row(f"8 BatchNorm1d momentum={m!r}", nothing, lambda o, m=m: nn.BatchNorm1d(3, momentum=m), ValueError, words)
        for m, words in [
            (math.nan, ("BatchNorm1d", "momentum must be in [0, 1], got nan")),
            (-0.1, ("momentum must be in [0, 1], got -0.1",)),
            (1.5, ("momentum must be in [0, 1], got 1.5",)),
        ]
    ),
    Row(
        "8 BatchNorm1d momentum as text",
        nothing,
        lambda o: nn.BatchNorm1d(3, momentum="0.1"),
        TypeError,
        ("momentum must be a number, got str",),
    ),
    Row("8 BatchNorm1d(True)", nothing, lambda o: nn.BatchNorm1d(True), TypeError, ("num_features", "integer", "bool")),
    Row("8 BatchNorm1d(2.0)", nothing, lambda o: nn.BatchNorm1d(2.0), TypeError, ("num_features must be an integer",)),
    Row("8 BatchNorm1d(0)", nothing, lambda o: nn.BatchNorm1d(0), ValueError, ("num_features must be a positive",)),
    Row("8 Linear(True, 2)", nothing, lambda o: nn.Linear(True, 2), TypeError, ("in_features", "integer", "bool")),
    Row("8 Linear(3, False)", nothing, lambda o: nn.Linear(3, False), TypeError, ("out_features", "integer", "bool")),
    Row("8 Linear(0, 2)", nothing, lambda o: nn.Linear(0, 2), ValueError, ("in_features must be a positive integer",)),
    # ---- 9: gradients assigned by hand, and the optimizers' parameters
    Row(
        "9 .grad of the wrong shape",
        parameter_with_grad(),
        assign_grad(lambda: torch.zeros(3)),
        RuntimeError,
        ("gradient of shape (3,)", "tensor of shape (2,)"),
        grad_of("p"),
    ),
    Row(
        "9 .grad of the wrong shape replaces nothing",
        parameter_with_grad(torch.tensor([0.5, -0.5])),
        assign_grad(lambda: torch.zeros(2, 1)),
        RuntimeError,
        ("gradient of shape (2, 1)", "tensor of shape (2,)"),
        grad_of("p"),
    ),
    Row(
        "9 .grad of the wrong dtype",
        parameter_with_grad(),
        assign_grad(lambda: torch.zeros(2, dtype=F64)),
        RuntimeError,
        ("gradient of dtype torch.float64", "tensor of dtype torch.float32"),
        grad_of("p"),
    ),
    Row(
        "9 .grad of integers",
        parameter_with_grad(),
        assign_grad(lambda: torch.zeros(2, dtype=torch.int64)),
        RuntimeError,
        ("gradient of dtype torch.int64", "tensor of dtype torch.float32"),
        grad_of("p"),
    ),
    Row(
        "9 .grad on another device",
        parameter_with_grad(),
        assign_grad(lambda: torch.zeros(2, device="meta")),
        RuntimeError,
        ("gradient on device meta", "tensor on device cpu"),
        grad_of("p"),
    ),
    Row(
        "9 .grad as a scratchlib Tensor",
        parameter_with_grad(),
        assign_grad(lambda: Tensor(torch.zeros(2))),
        TypeError,
        ("a gradient must be a torch.Tensor or None, got Tensor", "assign its .data"),
        grad_of("p"),
    ),
    Row(
        "9 .grad as a list",
        parameter_with_grad(),
        assign_grad(lambda: [0.0, 0.0]),
        TypeError,
        ("a gradient must be a torch.Tensor or None, got list",),
        grad_of("p"),
    ),
    Row(
        "9 SGD([v, v])",
        lambda: dict(v=leaf([1.0])),
        lambda o: optim.SGD([o["v"], o["v"]], lr=0.1),
        ValueError,
        ("SGD", "parameter at position 1 is the one at position 0 again", "move it twice"),
    ),
    Row(
        "9 Adam([v, w, v])",
        lambda: dict(v=leaf([1.0]), w=leaf([2.0])),
        lambda o: optim.Adam([o["v"], o["w"], o["v"]]),
        ValueError,
        (
            "Adam",
            "position 2 is the one at position 0 again",
        ),
    ),
    *(
        Row(
            f"9 {name}(one Tensor)",
            lambda: dict(v=leaf([1.0, 2.0])),
            lambda o, make=make: make(o["v"]),
            TypeError,
            (f"{name}: params must be an iterable of Tensors", "got one Tensor: write [w]"),
            grad_of("v"),
        )
        for name, make in [("SGD", lambda v: optim.SGD(v, lr=0.1)), ("Adam", lambda v: optim.Adam(v))]
    ),
    Row(
        "9 a non-leaf parameter",
        lambda: dict(v=leaf([1.0])),
        lambda o: optim.SGD([o["v"] * 2.0], lr=0.1),
        ValueError,
        ("SGD", "can't optimize a non-leaf Tensor", "made by MulBackward", "leaves it was computed from"),
    ),
    # ---- 14: misleading errors made clear
    Row(
        "14 F.linear with a 1-D weight",
        nothing,
        lambda o: F.linear(Tensor(torch.zeros(2, 3)), Tensor(torch.zeros(3))),
        ValueError,
        ("linear", "weight must be a matrix of shape (out_features, in_features)", "got shape (3,)"),
    ),
    # ---- 15: torch's refusals
    *(
        Row(f"15 {name} of an integer tensor", nothing, call, TypeError, words)
        for name, call, words in [
            ("softmax", lambda o: F.softmax(Tensor([1, 2]), 0), ("softmax needs a floating-point", "torch.int64")),
            ("log_softmax", lambda o: F.log_softmax(Tensor([1, 2]), 0), ("log_softmax needs a floating-point",)),
            ("nn.Softmax", lambda o: nn.Softmax(0)(Tensor([1, 2])), ("softmax needs a floating-point",)),
            ("mean", lambda o: Tensor([1, 2]).mean(), ("mean() needs a floating-point tensor", "torch.int64")),
            (
                "cross_entropy",
                lambda o: nn.CrossEntropyLoss()(Tensor([[1, 2]]), torch.tensor([0])),
                ("CrossEntropyLoss expects floating-point logits, got dtype torch.int64",),
            ),
        ]
    ),
    *(
        Row(f"15 sum(axis={axis!r})", nothing, lambda o, axis=axis: Tensor([[1.0, 2.0]]).sum(axis=axis), error, words)
        for axis, error, words in [
            (True, TypeError, ("axis must be an integer, a tuple of integers or None, got True",)),
            (1.0, TypeError, ("axis must be an integer", "got 1.0")),
            ((0, False), TypeError, ("axis must be an integer", "got (0, False)")),
            ((1, -1), ValueError, ("axis (1, -1) names a dimension twice",)),
            (2, ValueError, ("axis 2 is out of range for a tensor with 2 dimensions",)),
        ]
    ),
    Row(
        "15 mean(axis=True)",
        nothing,
        lambda o: Tensor([[1.0, 2.0]]).mean(axis=True),
        TypeError,
        ("axis must be an integer", "got True"),
    ),
    Row(
        "15 backward() of a complex scalar",
        lambda: dict(z=Tensor(torch.tensor([1 + 2j]), requires_grad=True)),
        lambda o: (o["z"] * 2.0).sum().backward(),
        RuntimeError,
        ("backward() without a gradient works only for a real scalar output", "torch.complex64", "backward(gradient)"),
        grad_of("z"),
    ),
    Row(
        "15 a cycle made by hand",
        cycle,
        lambda o: o["z"].backward(),
        RuntimeError,
        ("the graph has a cycle: MulBackward -> MulBackward -> MulBackward", "changed by hand"),
        grad_of("x"),
    ),
]


def snapshot(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


@pytest.mark.parametrize("row", BAD_INPUT, ids=[row.id for row in BAD_INPUT])
def test_bad_input_is_refused_clearly_and_changes_nothing(row):
    objects = row.make()
    before = snapshot(row.state(objects))
    with pytest.raises(row.error) as info:
        row.call(objects)
    for words in row.words:
        assert words in str(info.value), f"{words!r} not in: {info.value}"
    after = row.state(objects)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, torch.Tensor):
            assert isinstance(after[key], torch.Tensor), f"{key}: {value} became {after[key]}"
            expect(after[key], value, dtype=True)  # NaN where NaN was
        else:
            assert after[key] is value or after[key] == value, f"{key}: {value!r} became {after[key]!r}"


def test_the_rows_cover_every_engine_item_of_issue_30():
    assert {row.id.split()[0] for row in BAD_INPUT} == {"4", "7", "8", "9", "14", "15"}


# ------------------------------------------------------------------------------- 4: the version counter
def test_a_tensor_counts_its_changes_in_place_as_torch_counts_them():
    t = leaf([1.0, 2.0])
    reference = torch.tensor([1.0, 2.0])
    assert t._version == reference._version == 0
    for change in (lambda d: d.add_(1.0), lambda d: d.__setitem__(0, 5.0), lambda d: d.mul_(2.0)):
        change(t.data)
        change(reference)
        assert t._version == reference._version
    t.data = torch.zeros(2)  # a new tensor, not a change in place: a fresh count
    assert t._version == 0


def test_the_error_opens_with_torchs_words_so_a_search_finds_torchs_answers():
    w, ref = leaf([1.0, 2.0]), torch.tensor([1.0, 2.0], requires_grad=True)
    loss, loss_ref = (w * w).sum(), (ref * ref).sum()
    w.data.sub_(1.0)
    with torch.no_grad():  # torch's .data escapes its counter; an update under no_grad does not
        ref.sub_(1.0)
    with pytest.raises(RuntimeError) as ours:
        loss.backward()
    with pytest.raises(RuntimeError) as torchs:
        loss_ref.backward()
    opening = "one of the variables needed for gradient computation has been modified by an inplace operation:"
    for message in (str(torchs.value), str(ours.value)):  # torch's words (torch 2.x), then ours
        assert message.startswith(opening), message
        assert "is at version 1; expected version 0" in message, message


def test_the_right_order_trains_and_the_graph_kept_for_a_second_backward_is_checked_too():
    o = mlp(batch_norm=True)
    for _ in range(3):  # zero_grad, forward, backward, step: no error
        o["opt"].zero_grad()
        forward(o).backward()
        o["opt"].step()
    loss = forward(o)
    loss.backward(retain_graph=True)
    o["opt"].step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_a_tensor_made_in_inference_mode_has_no_counter_and_still_takes_part():
    with torch.inference_mode():
        data = torch.tensor([1.0, -2.0])
    w = leaf([3.0, 4.0])
    x = Tensor(data, requires_grad=True)  # no version counter: saved unchecked (torch refuses to save one)
    (w * Tensor(data) + x * x).sum().backward()
    assert_close(w.grad, data)
    assert_close(x.grad, 2 * data)


def test_rebinding_data_is_no_change_in_place():
    # p.data = ... hands the parameter a new tensor: the graph keeps the old one, whose numbers
    # did not change, so backward is right about the forward it recorded: d/dw sum(w^2) at
    # w = [1, 2]. (torch's graph holds the leaf itself and reads the new data: [0, 2].)
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.data = w.data - 1.0
    loss.backward()
    assert_close(w.grad, torch.tensor([2.0, 4.0]))


# ------------------------------------------------------------------------- 6: each leaf owns its gradient
def test_each_leaf_and_each_retained_gradient_is_its_own_tensor():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    s = a + b
    s.retain_grad()
    t = s + 0.0  # Add hands G on unchanged: to t's node, to s's node, to a's and b's
    t.retain_grad()
    (t * c).sum().backward()
    grads = [a.grad, b.grad, s.grad, t.grad]
    assert all(g is not h for i, g in enumerate(grads) for h in grads[i + 1 :])
    assert len({g.data_ptr() for g in grads}) == 4  # no two share storage either
    a.grad.clamp_(max=0.0)  # clamping one changes no other
    assert_close(b.grad, torch.tensor([5.0, 6.0]))
    assert_close(s.grad, torch.tensor([5.0, 6.0]))


def test_a_retained_gradient_adds_up_over_backward_calls_as_torch():
    ours, ref = leaf([1.0, -2.0]), torch.tensor([1.0, -2.0], requires_grad=True)
    y, y_ref = ours * 3.0, ref * 3.0
    y.retain_grad()
    y_ref.retain_grad()
    for _ in range(2):
        (y * y).sum().backward(retain_graph=True)
        (y_ref * y_ref).sum().backward(retain_graph=True)
    assert_close(y.grad, y_ref.grad)
    assert_close(ours.grad, ref.grad)


# ---------------------------------------------------------------------- 7: a gradient keeps its tensor's dtype
@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a * b,
        lambda a, b: a + b,
        lambda a, b: a / b,
        lambda a, b: a.reshape(2, 1) * b.reshape(1, 2),  # broadcast: summed back, then cast
        lambda a, b: (a - b).exp() * b,
    ],
    ids=["mul", "add", "div", "outer", "sub-exp-mul"],
)
@pytest.mark.parametrize("dtypes", [(F32, F64), (F64, F32)], ids=["f32-f64", "f64-f32"])
def test_a_gradient_has_the_dtype_of_its_tensor_as_torch(op, dtypes):
    values = ([0.5, -1.5], [2.0, 0.25])
    ours = [leaf(v, dtype=d) for v, d in zip(values, dtypes)]
    refs = [torch.tensor(v, dtype=d, requires_grad=True) for v, d in zip(values, dtypes)]
    op(*ours).sum().backward()
    op(*refs).sum().backward()
    for mine, ref in zip(ours, refs):
        assert mine.grad.dtype == ref.grad.dtype == mine.dtype
        torch.testing.assert_close(mine.grad, ref.grad)


def test_a_constant_of_another_dtype_gives_the_leaf_a_gradient_of_its_own_dtype():
    w = leaf([1.0, 2.0])  # float32
    y = w * torch.tensor([1.0, 2.0], dtype=F64)  # a float64 result, as torch's promotion
    y.retain_grad()
    y.sum().backward()
    assert y.dtype == y.grad.dtype == F64 and w.grad.dtype == F32
    assert_close(w.grad, torch.tensor([1.0, 2.0]))


# ----------------------------------------------------------------- 8: BatchNorm1d's settings, as torch's
@pytest.mark.parametrize("momentum", [None, 0.0, 1.0, 0.3])
def test_batchnorm_running_statistics_match_torch_for_every_momentum(momentum):
    g = torch.Generator().manual_seed(7)
    ours, ref = nn.BatchNorm1d(3, momentum=momentum, dtype=F64), torch.nn.BatchNorm1d(3, momentum=momentum, dtype=F64)
    for _ in range(4):
        x = torch.randn(5, 3, dtype=F64, generator=g) * 3.0 + 1.0
        ours(Tensor(x))
        ref(x)
        assert_close(ours.running_mean, ref.running_mean, "running_mean")
        assert_close(ours.running_var, ref.running_var, "running_var")
        assert int(ours.num_batches_tracked) == int(ref.num_batches_tracked)
    ours.eval()
    ref.eval()
    x = torch.randn(2, 3, dtype=F64, generator=g)
    assert_close(ours(Tensor(x)), ref(x), "eval output")
    assert int(ours.num_batches_tracked) == 4  # eval counts no batch


def test_momentum_none_is_the_plain_mean_of_the_batches_statistics():
    g = torch.Generator().manual_seed(1)
    bn = nn.BatchNorm1d(2, momentum=None, dtype=F64)
    batches = [torch.randn(4, 2, dtype=F64, generator=g) for _ in range(3)]
    for x in batches:
        bn(Tensor(x))
    assert_close(bn.running_mean, torch.stack([x.mean(0) for x in batches]).mean(0))
    assert_close(bn.running_var, torch.stack([x.var(0) for x in batches]).mean(0))  # unbiased, as torch


def test_sizes_may_be_numpy_integers_as_in_torch():
    layer, bn = nn.Linear(np.int64(3), np.int32(2)), nn.BatchNorm1d(np.int64(2))
    assert type(layer.in_features) is int and layer.weight.shape == (2, 3) and bn.weight.shape == (2,)
    assert layer(Tensor(torch.randn(4, 3))).shape == (4, 2)


# ------------------------------------------------------------------ 14: empty tensors answer as torch
@pytest.mark.parametrize("axis", [0, 1, None, (0, 1)])
def test_the_mean_of_an_empty_tensor_is_torchs(axis):
    x = torch.zeros(0, 3, dtype=F64)
    ours, ref = Tensor(x, requires_grad=True), x.clone().requires_grad_(True)
    out, expected = ours.mean(axis=axis), (ref.mean() if axis is None else ref.mean(dim=axis))
    torch.testing.assert_close(out.data, expected.detach(), equal_nan=True)
    out.sum().backward()
    expected.sum().backward()
    assert ours.grad.shape == ref.grad.shape == (0, 3)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((2, 0), 1), ((0, 3), 0), ((0, 3), 1)])
def test_softmax_over_an_empty_tensor_is_empty_as_torch(name, shape, dim):
    x = torch.zeros(shape, dtype=F64)
    ours = Tensor(x, requires_grad=True)
    out = getattr(F, name)(ours, dim)
    assert out.shape == getattr(torch, name)(x, dim).shape == shape
    out.backward(torch.zeros(shape, dtype=F64))
    assert ours.grad.shape == shape


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor_is_torchs(name):
    x = torch.tensor(1.5, dtype=F64)
    ours, ref = Tensor(x, requires_grad=True), x.clone().requires_grad_(True)
    out, expected = getattr(F, name)(ours, 0), getattr(torch, name)(ref, 0)
    assert out.shape == expected.shape == ()
    assert_close(out.data, torch.tensor(1.0 if name == "softmax" else 0.0, dtype=F64))  # one entry: s = 1
    g = torch.tensor(0.75, dtype=F64)
    out.backward(g)
    expected.backward(g)
    assert_close(ours.grad, ref.grad)
    assert_close(ours.grad, torch.tensor(0.0, dtype=F64))  # d/dx of a constant 1 (log: 0)


# ------------------------------------------------------------------------- 15: NaN through ReLU, as torch
def test_relu_passes_the_gradient_on_at_nan_as_torch():
    x = torch.tensor([math.nan, 1.0, -1.0, 0.0, math.nan], dtype=F64)
    g = torch.tensor([2.0, 3.0, 4.0, 5.0, math.nan], dtype=F64)
    ours, ref = Tensor(x, requires_grad=True), x.clone().requires_grad_(True)
    ours.relu().backward(g)
    torch.relu(ref).backward(g)
    torch.testing.assert_close(ours.grad, ref.grad, equal_nan=True)
    torch.testing.assert_close(ours.grad, torch.tensor([2.0, 3.0, 0.0, 0.0, math.nan], dtype=F64), equal_nan=True)


def test_a_complex_scalar_backward_with_a_gradient_given_still_runs():
    z = Tensor(torch.tensor([1 + 2j]), requires_grad=True)
    (z * 2.0).sum().backward(torch.tensor(1 + 0j))
    assert z.grad.dtype == torch.complex64
