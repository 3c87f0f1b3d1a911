"""The graph and the engine (scratchlib.autograd.function): traversal, accumulation, freeing, errors."""

import gc
import re
import weakref

import pytest
import torch

from autograd_parity import ATOL, RTOL, assert_close, parity
from expect import expect
from scratchlib.autograd import AccumulateGrad, Function, Tensor
from scratchlib.autograd import function as engine
from scratchlib.autograd.function import Context

F64 = torch.float64


def leaf(values):
    return Tensor(torch.tensor(values, dtype=F64), requires_grad=True)


def test_chain_rule_on_a_scalar_expression_by_hand():
    # L = (a * b + c) ** 2 with a = 2, b = -3, c = 10: u = a b + c = 4, L = 16
    # dL/du = 2u = 8; dL/da = 8 b = -24; dL/db = 8 a = 16; dL/dc = 8
    a, b, c = leaf(2.0), leaf(-3.0), leaf(10.0)
    u = a * b + c
    u.retain_grad()
    loss = u**2
    loss.backward()
    assert loss.item() == 16.0
    assert (u.grad.item(), a.grad.item(), b.grad.item(), c.grad.item()) == (8.0, -24.0, 16.0, 8.0)


def test_fan_out_adds_the_gradients_of_every_use():
    # y = x * x + x: dy/dx = 2x + 1, summed over uses (the early tinygrad bug gave x or 1)
    x = leaf([[1.5, -2.0, 0.25], [3.0, -0.5, 1.0]])
    g = torch.tensor([[1.0, -2.0, 0.5], [2.0, 1.0, -1.0]], dtype=F64)
    (x * x + x).backward(g)
    assert_close(x.grad, g * (2 * x.data + 1))


def test_a_diamond_runs_each_node_once_and_matches_torch():
    calls = []

    class Counted(Function):  # the top of the diamond: identity that counts its backward calls
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            calls.append(grad.clone())
            return grad

    def ours(x):
        top = Counted.apply(x)
        left, right = top * 2.0, top.exp()
        return (left * right + left).sum(1)

    def theirs(x):
        left, right = x * 2.0, x.exp()
        return (left * right + left).sum(1)

    x = torch.randn(3, 4, dtype=F64, generator=torch.Generator().manual_seed(1))
    parity(ours, theirs, x, grad_output_seed=2)
    assert len(calls) == 1, "the shared node ran more than once"
    # ...and it received the sum of both branches at once: 2 e^x (1 + x) + 2 (times the output grad)


def test_a_chain_of_ten_thousand_ops_needs_no_recursion():
    x = leaf(0.5)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)
    # and the chain is freed again without recursion trouble
    ref = weakref.ref(y.grad_fn)
    del y
    assert ref() is None


def test_accumulate_grad_alone_sets_then_adds_by_hand():
    """Runs only exercise 6.1 (AccumulateGrad.run), called directly on a leaf's node."""
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    node = AccumulateGrad(x)
    expect(node.run(torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=F64)), ())
    expect(
        x.grad, torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True
    )  # .grad was None: G
    node.run(torch.tensor([[0.5, 2.0, -1.0], [-3.0, 4.0, 0.25]], dtype=F64))
    expect(
        x.grad, torch.tensor([[1.5, 0.0, -0.5], [0.0, 5.0, -0.75]], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True
    )  # then summed


class ThreeXPlusB(Function):
    """A Function written by the test: y = 3 x + b for a constant b; forward notes what it received."""

    @staticmethod
    def forward(ctx, x, b):
        ctx.received = (x, b)
        return 3 * x + b

    @staticmethod
    def backward(ctx, grad):
        return 3 * grad, None


def test_apply_alone_runs_forward_on_the_data_and_records_the_node():
    """Runs only exercise 6.34 (Function.apply), on a Function written by the test."""
    x = leaf([1.0, -2.0])
    y = ThreeXPlusB.apply(x, 0.5)
    expect(y, torch.tensor([3.5, -5.5], dtype=F64), atol=ATOL, rtol=RTOL, dtype=True)  # 3 [1, -2] + 0.5
    expect([type(y).__name__, y.requires_grad, y.is_leaf], ["Tensor", True, False])
    node = y.grad_fn  # the ctx forward filled is the result's node
    expect([type(node).__name__, node.function.__name__], ["Context", "ThreeXPlusB"])
    expect([node.received[0] is x.data, node.received[1]], [True, 0.5])  # forward got the data, and b as given
    expect(list(node.needs_input_grad), [True, False])
    expect([type(child).__name__ for child in node.next_functions], ["AccumulateGrad", "NoneType"])
    expect(node.next_functions[0].variable is x, True)  # x's gradient goes to x's own accumulator
    z = ThreeXPlusB.apply(y, Tensor(torch.tensor(1.0, dtype=F64)))  # a non-leaf input, a Tensor constant
    expect([z.grad_fn.next_functions[0] is node, z.grad_fn.next_functions[1]], [True, None])
    expect(list(z.grad_fn.needs_input_grad), [True, False])
    expect(z.grad_fn.received[1], torch.tensor(1.0, dtype=F64), dtype=True)  # the constant's data
    constant = ThreeXPlusB.apply(Tensor(torch.tensor([1.0, 2.0], dtype=F64)), 0.0)  # nothing requires grad
    expect([constant.requires_grad, constant.is_leaf, constant.grad_fn], [False, True, None])
    expect(constant, torch.tensor([3.0, 6.0], dtype=F64), dtype=True)


def hand_made_output(values, dtype=F64):
    """A non-leaf Tensor whose node is made by the test (no Function ran)."""
    out = Tensor(torch.tensor(values, dtype=dtype), requires_grad=True, is_leaf=False)
    out.grad_fn = Context(ThreeXPlusB, (None, None), (False, False))
    return out


def test_backward_alone_seeds_the_gradient_and_starts_at_the_outputs_node(monkeypatch):
    """Runs only exercise 6.35 (Tensor.backward's seed and start), with the traversal (6.2) recorded."""
    started = []

    def traverse(root, gradient, retain_graph=False):  # records where the traversal would start, with what
        started.append((root, gradient, retain_graph))

    monkeypatch.setattr(engine, "traverse", traverse)
    loss = hand_made_output(2.5)
    loss.backward()  # a scalar: dL/dL = 1, of its shape and dtype
    root, seed, retain = started[-1]
    expect([root is loss.grad_fn, retain], [True, False])
    expect(seed, torch.tensor(1.0, dtype=F64), dtype=True)
    square = hand_made_output([[4.0]], dtype=torch.float32)  # one element, shape (1, 1)
    square.backward(retain_graph=True)
    root, seed, retain = started[-1]
    expect([root is square.grad_fn, retain], [True, True])
    expect(seed, torch.tensor([[1.0]]), dtype=True)
    out = hand_made_output([1.0, 2.0])
    given = torch.tensor([0.5, -2.0], dtype=F64)
    out.backward(given)  # dL/d(out) given: passed on as it is (a copy of it)
    root, seed, retain = started[-1]
    expect([root is out.grad_fn, retain], [True, False])
    expect(seed, given, dtype=True)
    x = leaf(1.5)
    x.backward()  # a leaf: its own AccumulateGrad node is the start
    root, seed, _ = started[-1]
    expect([type(root).__name__, root.variable is x], ["AccumulateGrad", True])
    expect(seed, torch.tensor(1.0, dtype=F64), dtype=True)


class HandNode:
    """A graph node written by the test: hands child i the gradient times factors[i], logs each run."""

    def __init__(self, label, children, factors, log):
        self.label, self.next_functions, self.factors, self.log = label, tuple(children), factors, log
        self.released = False

    def run(self, grad):
        self.log.append((self.label, grad.item()))
        return tuple(None if factor is None else grad * factor for factor in self.factors)

    def release(self):
        self.released = True

    def check_saved(self):
        pass

    def name(self):
        return self.label


def hand_made_diamond(log):
    """root -> (left, right, a constant); left and right -> top -> sink: top is reached along two paths."""
    sink = HandNode("sink", [], [], log)
    top = HandNode("top", [sink], [2.0], log)
    left = HandNode("left", [top], [-1.0], log)
    right = HandNode("right", [top], [3.0], log)
    root = HandNode("root", [left, right, None], [1.0, 0.5, None], log)
    return root, [root, left, right, top, sink]


def test_traversal_alone_runs_each_node_once_after_all_its_uses_by_hand():
    """Runs only exercise 6.2 (the traversal), on a graph of nodes written by the test."""
    log = []
    root, nodes = hand_made_diamond(log)
    engine.traverse(root, torch.tensor(2.0, dtype=F64))
    # root gets G = 2: left 2, right 1; top then holds -1 * 2 + 3 * 1 = 1, once; sink 2 * 1 = 2
    expect(log[0], ("root", 2.0))
    expect(sorted(log[1:3]), [("left", 2.0), ("right", 1.0)])  # the two uses of top, in either order
    expect(log[3:], [("top", 1.0), ("sink", 2.0)])
    expect([node.released for node in nodes], [True] * 5)  # each node's buffers freed once it ran
    log.clear()
    root, nodes = hand_made_diamond(log)
    engine.traverse(root, torch.tensor(-1.0, dtype=F64), retain_graph=True)
    expect([entry for entry in log if entry[0] in ("top", "sink")], [("top", -0.5), ("sink", -1.0)])
    expect([node.released for node in nodes], [False] * 5)


def test_gradients_accumulate_over_backward_calls():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    assert_close(x.grad, 2 * x.data + 3.0)


def test_a_leaf_used_in_two_graphs_with_shared_first_gradient_is_not_aliased():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()  # the same ones reach a and b
    (a * 5.0).sum().backward()
    assert_close(a.grad, torch.tensor([6.0, 6.0], dtype=F64))
    assert_close(b.grad, torch.tensor([1.0, 1.0], dtype=F64))


def test_each_leaf_owns_a_contiguous_grad():
    # Add hands the same G to both inputs and Sum's backward expands G (a stride-0 view):
    # the engine gives each leaf its own contiguous tensor, as torch does, before 6.1 keeps it
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([[5.0, 6.0], [7.0, 8.0]])
    u = a + b
    u.retain_grad()
    g = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=F64)
    u.backward(g)
    assert len({a.grad.data_ptr(), b.grad.data_ptr(), u.grad.data_ptr()}) == 3
    a.grad.mul_(10.0)  # in place on one leaf's gradient: nobody else sees it
    assert_close(b.grad, g)
    assert_close(u.grad, g)
    c = leaf([[1.0, 2.0, 3.0]])
    c.sum().backward()
    assert c.grad.is_contiguous() and c.grad.stride() == (3, 1)
    c.grad.add_(1.0)  # an expanded view would refuse this
    assert_close(c.grad, torch.full((1, 3), 2.0, dtype=F64))


def test_second_backward_through_freed_buffers_is_a_clear_error():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"MulBackward a second time.*retain_graph=True"):
        loss.backward()


def test_retain_graph_keeps_the_buffers_for_a_second_backward():
    x = leaf([1.0, -2.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert_close(x.grad, 4 * x.data)


def test_saved_tensors_are_freed_and_the_graph_dies_with_its_output():
    x = leaf([1.0, 2.0])
    loss = (x.exp() * x).sum()
    mul = loss.grad_fn.next_functions[0]
    loss.backward()
    assert mul._saved == ()
    nodes = [weakref.ref(loss.grad_fn), weakref.ref(mul)]
    accumulator = weakref.ref(mul.next_functions[1])
    gc.disable()  # no reference cycles: plain reference counting frees the graph
    try:
        del loss, mul
        assert all(ref() is None for ref in nodes)
        assert accumulator() is None
    finally:
        gc.enable()


def test_a_leaf_has_one_accumulate_grad_node_per_graph():
    x = leaf([1.0, 2.0])
    y = x * 2.0 + x
    mul_node, add_node = y.grad_fn.next_functions
    accumulators = {mul_node.next_functions[0], y.grad_fn.next_functions[1]}
    assert len(accumulators) == 1 and isinstance(accumulators.pop(), AccumulateGrad)


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    with pytest.raises(RuntimeError, match=r"only for a scalar.*shape \(2, 3\).*backward\(gradient\)"):
        (x * 2.0).backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*output has shape \(2, 3\)"):
        (x * 2.0).backward(torch.ones(3, dtype=F64))
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(torch.ones(2)).sum().backward()


def test_a_backward_returning_a_wrong_shape_or_count_is_named():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad  # should be expanded to the input's shape

    class BadCount(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = leaf([1.0, 2.0, 3.0])
    # the engine checks what a backward returns (Context.run), so the traversal need not
    with pytest.raises(
        RuntimeError,
        match=r"BadShape.backward returned a gradient of shape \(\) for input 0, "
        r"expected \(3,\) \(the shape of input 0\)",
    ):
        BadShape.apply(x).backward()
    with pytest.raises(RuntimeError, match=r"BadShape.backward returned a gradient of shape \(\) for input 0"):
        BadShape.apply(x).grad_fn.run(torch.tensor(1.0, dtype=F64))
    with pytest.raises(RuntimeError, match=re.escape("BadCount.backward returned 1 gradients, expected 2")):
        BadCount.apply(x, x).sum().backward()


def test_the_user_gradient_is_copied_not_kept():
    x = leaf([1.0, 2.0])
    g = torch.tensor([3.0, -1.0], dtype=F64)
    x.backward(g)
    x.grad.mul_(0)
    assert g.tolist() == [3.0, -1.0]


def test_only_inputs_that_require_grad_get_gradients():
    w = leaf([[1.0, -1.0], [0.5, 2.0]])
    x = Tensor(torch.tensor([[3.0, 4.0]], dtype=F64))
    out = x @ w
    assert out.requires_grad and not out.is_leaf and out.grad_fn.needs_input_grad == (False, True)
    out.sum().backward()
    assert x.grad is None
    assert_close(w.grad, torch.tensor([[3.0, 3.0], [4.0, 4.0]], dtype=F64))
    constant = x * 2.0
    assert constant.grad_fn is None and constant.is_leaf and not constant.requires_grad


def test_a_branch_that_carries_no_gradient_does_not_block_the_rest():
    class NoGrad(Function):  # passes the value on, but no gradient back
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            return None

    x = leaf([1.0, 2.0])
    y = x * 3.0
    (NoGrad.apply(y) + y).sum().backward()
    assert_close(x.grad, torch.tensor([3.0, 3.0], dtype=F64))


def test_torch_autograd_is_never_used(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("torch autograd was called")

    monkeypatch.setattr(torch.autograd, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "grad", forbidden)
    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    # data created with torch's requires_grad is detached on the way in
    x = Tensor(torch.randn(4, 3, dtype=F64, requires_grad=True), requires_grad=True)
    w = Tensor(torch.randn(3, 2, dtype=F64), requires_grad=True)
    out = ((x @ w).relu() - 1.0).exp().sum()
    assert not any(t.data.requires_grad for t in (x, w, out))
    out.backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    # and the same numbers come out with torch's grad mode switched off
    with torch.no_grad():
        x2 = Tensor(x.data, requires_grad=True)
        w2 = Tensor(w.data, requires_grad=True)
        ((x2 @ w2).relu() - 1.0).exp().sum().backward()
    assert_close(x2.grad, x.grad)
    assert_close(w2.grad, w.grad)


def test_tensor_constructors_and_properties():
    z, o = Tensor.zeros(2, 3), Tensor.ones((2, 3), dtype=F64, requires_grad=True)
    assert z.shape == (2, 3) and z.data.sum().item() == 0 and not z.requires_grad
    assert o.dtype == F64 and o.requires_grad and o.is_leaf and o.ndim == 2 and len(o) == 2
    g = torch.Generator().manual_seed(3)
    r = Tensor.randn(4, generator=g)
    assert torch.equal(r.data, torch.randn(4, generator=torch.Generator().manual_seed(3)))
    assert Tensor([1.0, 2.0]).data.tolist() == [1.0, 2.0]
    assert "grad_fn=<AddBackward>" in repr(o + 1.0)
    assert repr(Tensor(torch.tensor([1.0]))) == "Tensor([1.])"
    assert repr(Tensor(torch.tensor([1.0]), requires_grad=True)) == "Tensor([1.], requires_grad=True)"
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(torch.tensor([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="scratchlib Tensor"):
        Tensor(o)
    d = (o * 2.0).detach()
    assert d.grad_fn is None and not d.requires_grad


@pytest.mark.parametrize("make", [Tensor.zeros, Tensor.ones, Tensor.randn])
def test_each_constructor_passes_on_dtype_device_and_requires_grad(make):
    plain = make(2, 3)
    assert plain.dtype == torch.get_default_dtype() and not plain.requires_grad and plain.is_leaf
    # the meta device holds shapes and dtypes without memory: it shows the device is passed on
    made = make((2, 3), dtype=F64, device="meta", requires_grad=True)
    assert (made.shape, made.dtype, made.data.device.type, made.requires_grad) == ((2, 3), F64, "meta", True)


def test_retain_grad_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match=r"^retain_grad\(\) on a tensor that does not require grad$"):
        Tensor(torch.ones(2)).retain_grad()


@pytest.mark.parametrize("is_parameter, kind", [(True, "a parameter"), (False, "a leaf")])
def test_the_step_before_backward_bug_is_explained_in_full(is_parameter, kind):
    """The version counter's error: torch's opening words, which saved tensor, whose data, and the fix."""
    w = Tensor(torch.tensor([1.0, 2.0]), requires_grad=True, is_parameter=is_parameter)
    loss = (w * w).sum()
    w.data.sub_(1.0)  # an optimizer step between the forward and its backward
    with pytest.raises(RuntimeError) as error:
        loss.backward()
    assert str(error.value) == (
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"MulBackward's saved tensor 0 (shape (2,), torch.float32, the data of input 0 of Mul: {kind}) is at "
        "version 1; expected version 0, as when Mul.forward saved it. An optimizer's step() or a p.data -= ... "
        "between a forward and its backward does this: call loss.backward() before optimizer.step(), and run a "
        "new forward after the step"
    )


def test_a_cycle_made_by_hand_is_named_node_by_node():
    x = Tensor(torch.tensor([1.0]), requires_grad=True)
    y = x * 2.0
    z = y * 3.0
    y.grad_fn.next_functions = (z.grad_fn, None)  # z's node now feeds y's, which feeds z's
    with pytest.raises(RuntimeError) as error:
        z.backward()
    assert str(error.value) == (
        "backward: the graph has a cycle: MulBackward -> MulBackward -> MulBackward. "
        "Function.apply never makes one: a grad_fn or next_functions was changed by hand"
    )


def test_a_leaf_is_reached_through_its_accumulate_grad_node():
    x = Tensor(torch.tensor([1.0]), requires_grad=True)
    node = (x * 2.0).grad_fn.next_functions[0]
    assert isinstance(node, AccumulateGrad) and node.variable is x
    assert (node.name(), repr(node)) == ("AccumulateGrad", "<AccumulateGrad>")


def test_a_node_no_gradient_reached_passes_none_on():
    """A backward may return None for an input (torch allows it): the nodes behind it get nothing,
    the traversal still visits them once, and a leaf reached only that way keeps grad None."""

    class Stop(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            return None

    a = Tensor(torch.tensor([1.0, 2.0]), requires_grad=True)
    (Stop.apply(a * 3.0).sum() + (a * a).sum()).backward()
    assert a.grad.tolist() == [2.0, 4.0]  # only the path through a * a carried a gradient
    b = Tensor(torch.tensor([1.0, 2.0]), requires_grad=True)
    Stop.apply(b * 3.0).sum().backward()
    assert b.grad is None


def test_backward_without_a_usable_gradient_is_named_in_full():
    with pytest.raises(RuntimeError) as error:
        Tensor(torch.ones(2)).backward()
    assert str(error.value) == (
        "backward() on a tensor that does not require grad: no input of the computation was created with "
        "requires_grad=True"
    )
    with pytest.raises(RuntimeError) as error:
        (Tensor(torch.ones(2), requires_grad=True) * 2.0).backward()
    assert str(error.value) == (
        "backward() without a gradient works only for a scalar output; this output has shape (2,): pass "
        "backward(gradient) with dL/d(output) of that shape"
    )


def test_backward_takes_a_gradient_as_a_tensor_a_list_or_an_engine_tensor_in_the_outputs_dtype():
    for gradient in ([1.0, -2.0], torch.tensor([1.0, -2.0], dtype=torch.float64), Tensor(torch.tensor([1.0, -2.0]))):
        x = Tensor(torch.tensor([3.0, 4.0]), requires_grad=True)
        (x * 2.0).backward(gradient)
        assert x.grad.tolist() == [2.0, -4.0] and x.grad.dtype == torch.float32


def test_the_engines_backward_frees_the_graph_unless_asked_as_torch():
    """engine.backward called directly (not through Tensor.backward): retain_graph defaults to False."""
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    engine.backward(loss)
    with pytest.raises(RuntimeError, match=r"MulBackward a second time.*retain_graph=True"):
        engine.backward(loss)
    assert x.grad.tolist() == [2.0, 4.0]


def test_the_root_gradient_is_our_copy_in_the_outputs_dtype():
    """The given gradient is converted to the output's dtype and copied: a leaf's and a retained .grad get
    float32 from a float64 gradient, and a backward that works in place on G leaves the caller's alone."""
    x = Tensor(torch.tensor([3.0, 4.0]), requires_grad=True)
    x.backward(torch.tensor([1.0, -2.0], dtype=F64))  # the root is the leaf itself
    assert x.grad.tolist() == [1.0, -2.0] and x.grad.dtype == torch.float32
    y = x * 2.0
    y.retain_grad()
    y.backward(torch.tensor([0.5, 1.0], dtype=F64))
    assert y.grad.tolist() == [0.5, 1.0] and y.grad.dtype == torch.float32

    class DoubleInPlace(Function):  # y = 2 x, its backward doubling G where it lies
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return grad.mul_(2)

    z = leaf([1.0, 2.0])
    given = torch.tensor([1.0, -1.0], dtype=F64)
    DoubleInPlace.apply(z).backward(given)
    assert given.tolist() == [1.0, -1.0] and z.grad.tolist() == [2.0, -2.0]


def test_a_saved_tensor_changed_in_place_is_caught_beside_an_inference_tensor():
    """save_for_backward records the versions at save time even when one saved tensor, made in
    torch.inference_mode, has no counter: the others are still checked."""
    with torch.inference_mode():
        constant = torch.tensor([2.0, 3.0], dtype=F64)

    class TimesConstant(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, constant)
            return x * constant

        @staticmethod
        def backward(ctx, grad):
            x, c = ctx.saved_tensors
            return grad * c

    w = leaf([1.0, 1.0])
    TimesConstant.apply(w).sum().backward()  # unchanged: runs
    assert w.grad.tolist() == [2.0, 3.0]
    loss = TimesConstant.apply(w).sum()
    w.data.add_(1.0)
    with pytest.raises(RuntimeError, match=r"saved tensor 0 .* is at version \d+; expected version \d+"):
        loss.backward()
