"""Helpers for the autograd tests: run the same expression in scratchlib.autograd and in torch."""

import torch

from scratchlib.autograd import Tensor

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


def local_backward(out, grad):
    """Run only the backward of the node that made ``out``, on the upstream gradient ``grad``.

    No traversal (exercise 6.2), no AccumulateGrad (6.1), no other node: a test of one
    Function's own backward. Returns its gradients, one per forward input (None for a constant).
    """
    return out.grad_fn.run(torch.as_tensor(grad, dtype=out.dtype))


def assert_like_torch(grads, torch_fn, *inputs, grad):
    """Our gradients ``grads`` (one per input) against torch autograd's in float64, for the same ``grad``."""
    refs = [x.clone().requires_grad_(True) for x in inputs]
    with torch.enable_grad():
        expected = torch.autograd.grad(torch_fn(*refs), refs, grad)
    for i, (ours, theirs) in enumerate(zip(grads, expected)):
        assert_close(ours, theirs, f"grad of input {i}")
