r"""The operations that move entries without computing new ones: each a ``Function``.

Their backward moves $G$ back the way the entries came: the inverse transpose, the
inverse reshape, the inverse permutation. (The computing operations are in ops.py.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from scratchlib.autograd.function import Context, Function


class Transpose(Function):
    r"""The dimensions reversed ($X^\top$ for a matrix).

    Backward (exercise 6.11): $dX$, of $X$'s shape.
    BEGIN TEACHER ONLY
    $dX = G^\top$.
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor) -> torch.Tensor:
        return x.permute(tuple(reversed(range(x.dim()))))

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "G^T  (the dimensions reversed back)",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION 6.11: Transpose.backward
        return grad.permute(tuple(reversed(range(grad.dim()))))
        ### END SOLUTION


class Reshape(Function):
    r"""The same elements in another shape.

    Backward (exercise 6.12): $dX$, of the input's shape.
    BEGIN TEACHER ONLY
    $G$ reshaped to the input's shape.
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        ctx.input_shape = x.shape
        return x.reshape(shape)

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "G reshaped to x's shape",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        ### BEGIN SOLUTION 6.12: Reshape.backward
        return grad.reshape(ctx.input_shape), None
        ### END SOLUTION


def permutation(dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    """``dims`` as non-negative ints after checking that they name each of ``ndim`` dimensions once."""
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int):
            raise TypeError(f"permute: dims must be integers, got {type(d).__name__} {d!r} in {tuple(dims)}")
    if len(dims) != ndim:
        raise ValueError(f"permute: a tensor with {ndim} dimensions needs {ndim} dims, got {len(dims)}: {tuple(dims)}")
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise ValueError(f"permute: dim {d} is out of range for a tensor with {ndim} dimensions")
    result = tuple(d % max(ndim, 1) for d in dims)
    if len(set(result)) != ndim:
        raise ValueError(f"permute: dims {tuple(dims)} repeat a dimension; each of 0..{ndim - 1} must appear once")
    return result


class Permute(Function):
    r"""The dimensions reordered: output dimension $i$ is input dimension $\pi_i$.

    Backward (exercise 6.52): $dX$, of the input's shape, and no gradient for ``dims``.
    BEGIN TEACHER ONLY
    $G$ permuted by the inverse permutation $\pi^{-1}$ (input dimension $\pi_i$ comes back from
    output dimension $i$).
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        ctx.dims = dims
        return x.permute(dims)

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "G permuted back by the inverse of {dims}",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        ### BEGIN SOLUTION 6.52: Permute.backward: undo the permutation
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return grad.permute(inverse), None
        ### END SOLUTION
