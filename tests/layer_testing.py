"""Shared helpers for the per-layer test files (test_linear.py, test_relu.py, ...).

Each layer test wires the layer to float64 ``Input``s, runs forward, puts an upstream
gradient into ``grad`` with ``accumulate_grad``, runs backward, and compares what the
inputs received with torch autograd on the same numbers.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from scratchlib.layers import Input

TOL = 1e-10  # float64: the largest difference seen over all property tests is 1.1e-13; 1e-10 is the project bound

F64 = torch.float64


def t(values, dtype=F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def inputs(*values, train=False) -> list[Input]:
    """One Input per tensor, holding a copy of it."""
    return [Input(tuple(v.shape), train=train, dtype=v.dtype).set(v.clone()) for v in values]


def run(layer, grad_out: torch.Tensor):
    """forward, then backward with dJ/d(output) = grad_out; returns the output."""
    layer.forward()
    layer.clear_grad()
    layer.accumulate_grad(grad_out)
    layer.backward()
    return layer.output


def backward_alone(layer, output, grad_out, **kept):
    """Run ``layer.backward()`` alone, on a forward given by hand.

    ``output`` (and anything else the forward keeps, e.g. ``diff=P - T``) and ``grad`` =
    dJ/d(output) are set directly: neither the layer's forward nor its ``accumulate_grad``
    runs, and each input receives one gradient, taken as it is (no addition, exercise 4.1).
    So the test needs only the exercise of this backward.
    """
    layer.output = output
    for name, value in kept.items():
        setattr(layer, name, value)
    layer.grad = grad_out
    layer.backward()


def autograd(fn, values, grad_out, differentiable=None):
    """fn(*values) and the gradients autograd finds for each value (None where not differentiable)."""
    if differentiable is None:
        differentiable = [v.is_floating_point() for v in values]
    leaves = [v.clone().requires_grad_(d) for v, d in zip(values, differentiable)]
    out = fn(*leaves)
    wanted = [leaf for leaf in leaves if leaf.requires_grad]
    grads = iter(torch.autograd.grad(out, wanted, grad_out))
    return out.detach(), [next(grads) if leaf.requires_grad else None for leaf in leaves]


def assert_close(actual, expected, tol=TOL):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    err = (actual - expected).abs().max().item() if actual.numel() else 0.0
    assert err <= tol, f"max |error| {err:.3g} > {tol:g}\nactual {actual}\nexpected {expected}"


def check_layer_against_torch(make_layer, torch_fn, values, grad_out=None, seed=0, twice=True):
    """Wire ``make_layer(*Inputs)``, run it, and compare output and every input gradient with autograd.

    ``twice``: a second backward checks that the inputs add up what they receive; it runs
    exercise 4.1 (core), which a test of an optional layer must not need: pass False there.
    """
    ins = inputs(*values)
    layer = make_layer(*ins)
    layer.forward()
    if grad_out is None:
        g = torch.Generator().manual_seed(seed)
        grad_out = torch.randn(tuple(layer.output.shape), generator=g, dtype=F64)
    ref_out, ref_grads = autograd(torch_fn, values, grad_out)
    run(layer, grad_out)
    assert_close(layer.output, ref_out)
    for inp, ref in zip(ins, ref_grads):
        if ref is not None:
            assert_close(inp.grad, ref)
    if not twice:
        return layer
    # a second backward adds to what the inputs already hold (the accumulate path, not the first write)
    layer.backward()
    for inp, ref in zip(ins, ref_grads):
        if ref is not None:
            assert_close(inp.grad, 2 * ref)
    return layer


@st.composite
def tensors(draw, shape):
    """A float64 tensor of ``shape``: normal values at a random scale (seeded by hypothesis)."""
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=F64) * scale


sizes = st.integers(1, 6)
