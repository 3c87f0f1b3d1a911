"""Helpers for the autograd tests: run the same expression in scratchlib.autograd and in torch."""

import torch

from scratchlib.autograd import AccumulateGrad, Tensor
from scratchlib.autograd.function import Context

ATOL = RTOL = 1e-10  # float64; the largest difference seen in these tests is about 1e-14


def assert_close(actual, expected, what="value"):
    actual = actual.data if isinstance(actual, Tensor) else actual
    assert actual is not None, f"{what}: no gradient"
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} vs {tuple(expected.shape)}"
    torch.testing.assert_close(actual, expected.detach(), atol=ATOL, rtol=RTOL, msg=lambda m: f"{what}: {m}")


def parity(fn, torch_fn, *inputs, grad_output_seed=0):
    """Evaluate ``fn`` on scratchlib Tensors and ``torch_fn`` on torch tensors that require grad.

    Checks the output and the gradient of every input for a random (non-ones)
    output gradient. ``inputs`` are float64 torch tensors (all differentiated).
    """
    ours = [Tensor(x.clone(), requires_grad=True) for x in inputs]
    refs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*ours)
    with torch.enable_grad():
        expected = torch_fn(*refs)
    assert_close(out, expected, "forward")
    g = torch.randn(expected.shape, dtype=expected.dtype, generator=torch.Generator().manual_seed(grad_output_seed))
    out.backward(g)
    expected.backward(g)
    for i, (a, r) in enumerate(zip(ours, refs)):
        assert_close(a.grad, torch.zeros_like(r) if r.grad is None else r.grad, f"grad of input {i}")
    return out


def numerical_gradient(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central differences of the scalar f at x, one element at a time."""
    grad = torch.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.numel()):
        keep = flat[i].item()
        flat[i] = keep + eps
        up = f(x)
        flat[i] = keep - eps
        down = f(x)
        flat[i] = keep
        out[i] = (up - down) / (2 * eps)
    return grad


def node(function, *inputs, **saved):
    """The graph node of one call of ``function`` on ``inputs``, made here by the test.

    A test double of ``Function.apply``: the node is a ``Context`` whose inputs that are Tensors requiring
    grad ask for a gradient (the rest are constants). With ``saved`` given, ``forward`` does not run: the
    test hands the node what that forward would have saved (``tensors=(...)`` for ``save_for_backward``,
    any other ``ctx`` attribute by its name), so a test of a backward runs no forward that is an exercise
    of its own (Sub's, Mul's, Div's). Without it, the Function's own ``forward`` fills the node.
    """
    values = [x.data if isinstance(x, Tensor) else x for x in inputs]
    wanted = [isinstance(x, Tensor) and x.requires_grad for x in inputs]
    children = [AccumulateGrad(x) if wants else None for x, wants in zip(inputs, wanted)]
    made = Context(function, tuple(children), tuple(wanted))
    made.input_shapes = tuple(v.shape if isinstance(v, torch.Tensor) else None for v in values)
    made.input_dtypes = tuple(v.dtype if isinstance(v, torch.Tensor) else None for v in values)
    if not saved:
        function.forward(made, *values)
    for name, value in saved.items():
        if name == "tensors":
            made.save_for_backward(*value)
        else:
            setattr(made, name, value)
    return made


def local_backward(out, grad):
    """Run only the backward of one node, on the upstream gradient ``grad``.

    ``out`` is a node made by the test (``node``) or a Tensor whose ``grad_fn`` is the node. No
    traversal (exercise 6.2), no AccumulateGrad (6.1), no other node: a test of one Function's own
    backward. Returns its gradients, one per forward input (None for a constant).
    """
    if isinstance(out, Tensor):
        return out.grad_fn.run(torch.as_tensor(grad, dtype=out.dtype))
    dtype = next(d for d in out.input_dtypes if d is not None)  # the first tensor input's, as the output's
    return out.run(torch.as_tensor(grad, dtype=dtype))


def assert_like_torch(grads, torch_fn, *inputs, grad):
    """Our gradients ``grads`` (one per input) against torch autograd's in float64, for the same ``grad``."""
    refs = [x.clone().requires_grad_(True) for x in inputs]
    with torch.enable_grad():
        expected = torch.autograd.grad(torch_fn(*refs), refs, grad)
    for i, (ours, theirs) in enumerate(zip(grads, expected)):
        assert_close(ours, theirs, f"grad of input {i}")
