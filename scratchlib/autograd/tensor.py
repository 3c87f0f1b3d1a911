r"""``Tensor``: a torch tensor that remembers how it was computed.

A ``Tensor`` holds its numbers in ``.data`` (a plain ``torch.Tensor`` that never
requires torch's own grad) and, when it was computed from tensors that require a
gradient, the graph node that made it in ``.grad_fn``. Calling ``.backward()`` on a
scalar walks that graph in reverse and leaves $\partial L / \partial t$ in ``t.grad``
for every leaf ``t`` with ``requires_grad=True``.

Every operator here is one line that hands the work to a :class:`Function` in
``scratchlib.autograd.ops``; the graph bookkeeping lives in ``function.py``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch


class Tensor:
    r"""An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: a ``torch.Tensor`` (used as is, detached from torch's autograd) or
            anything ``torch.as_tensor`` accepts (numbers, nested lists).
        requires_grad: whether ``backward`` should compute $\partial L/\partial$ this.
        is_leaf: ``True`` for tensors the user creates; ``Function.apply`` makes
            results that require grad non-leaves.
        is_parameter: marks the learnable tensors of an ``nn.Module``.

    Attributes:
        grad: a ``torch.Tensor`` of ``data``'s shape and dtype once ``backward`` has reached
            this leaf (``None`` before); gradients are data and never enter the graph. An
            assigned gradient is checked as torch checks it: a torch tensor (or ``None``) of
            this tensor's shape, dtype and device.
        grad_fn: the graph node (a :class:`Context`) that computed this tensor, or
            ``None`` for leaves and for results no gradient flows through.
    """

    __slots__ = ("data", "_grad", "grad_fn", "requires_grad", "is_leaf", "is_parameter", "_accumulator", "__weakref__")
    # numpy arrays and scalars on the left (np.ones(2) + t, np.float32(2) * t) must not
    # turn the Tensor into an array of objects: opting out of ufuncs makes numpy return
    # NotImplemented, so Python calls our reflected operator (__radd__, __rmul__, ...)
    __array_ufunc__ = None
    __array_priority__ = 1000
    # __eq__ below returns a Tensor, which would drop the default hash: tensors are
    # hashed by identity, as torch's are (a set of tensors, a dict keyed by tensor)
    __hash__ = object.__hash__

    def __init__(self, data: object, requires_grad: bool = False, is_leaf: bool = True, is_parameter: bool = False):
        if isinstance(data, Tensor):
            raise TypeError(
                "Tensor(data) needs a torch.Tensor, a number or a list, got a "
                "scratchlib Tensor: use its .data (or .detach())"
            )
        if isinstance(data, torch.Tensor):
            if data.requires_grad:  # the engine keeps torch's autograd out: no history, no grad
                data = data.detach()
        else:
            data = torch.as_tensor(data)
        if requires_grad and not (data.is_floating_point() or data.is_complex()):
            raise TypeError(f"only floating-point tensors can require a gradient, got dtype {data.dtype}")
        self.data = data
        self.requires_grad = bool(requires_grad)
        self.is_leaf = bool(is_leaf)
        self.is_parameter = bool(is_parameter)
        self._grad: torch.Tensor | None = None
        self.grad_fn: Any = None  # the Context that made it (None for a leaf)
        self._accumulator: Any = None  # weak reference to this leaf's AccumulateGrad node

    # ----------------------------------------------------------------- constructors
    # Each takes sizes or one tuple of them, zeros(2, 3) or zeros((2, 3)), as torch's do; torch's type
    # hints name the two forms in separate overloads, and `int | Sequence[int]` matches neither (hence the ignores).
    @classmethod
    def zeros(
        cls,
        *shape: int | Sequence[int],
        requires_grad: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """A tensor of zeros, ``Tensor.zeros(2, 3)`` or ``Tensor.zeros((2, 3))``."""
        data = torch.zeros(*shape, dtype=dtype, device=device)  # type: ignore[arg-type]
        return cls(data, requires_grad=requires_grad)

    @classmethod
    def ones(
        cls,
        *shape: int | Sequence[int],
        requires_grad: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """A tensor of ones, ``Tensor.ones(2, 3)`` or ``Tensor.ones((2, 3))``."""
        data = torch.ones(*shape, dtype=dtype, device=device)  # type: ignore[arg-type]
        return cls(data, requires_grad=requires_grad)

    @classmethod
    def randn(
        cls,
        *shape: int | Sequence[int],
        requires_grad: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Standard normal samples, drawn from ``generator`` (torch's global one if ``None``)."""
        data = torch.randn(*shape, dtype=dtype, device=device, generator=generator)  # type: ignore[arg-type]
        return cls(data, requires_grad=requires_grad)

    # ------------------------------------------------------------------- properties
    @property
    def shape(self) -> torch.Size:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.dim()

    @property
    def dtype(self) -> torch.dtype:
        return self.data.dtype

    @property
    def device(self) -> torch.device:
        return self.data.device

    @property
    def grad(self) -> torch.Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: torch.Tensor | None) -> None:
        # torch's rule for an assigned gradient: an optimizer must never meet one that
        # broadcasts into every entry, promotes the parameter's dtype, or is no tensor at all
        if value is not None:
            if not isinstance(value, torch.Tensor):
                hint = " (assign its .data)" if isinstance(value, Tensor) else ""
                raise TypeError(f"a gradient must be a torch.Tensor or None, got {type(value).__name__}{hint}")
            data = self.data
            if value.shape != data.shape:
                raise RuntimeError(
                    f"cannot assign a gradient of shape {tuple(value.shape)} to a tensor of shape "
                    f"{tuple(data.shape)}: a gradient has its tensor's shape"
                )
            if value.dtype != data.dtype:
                raise RuntimeError(
                    f"cannot assign a gradient of dtype {value.dtype} to a tensor of dtype "
                    f"{data.dtype}: a gradient has its tensor's dtype"
                )
            if value.device != data.device:
                raise RuntimeError(
                    f"cannot assign a gradient on device {value.device} to a tensor on device "
                    f"{data.device}: a gradient lives on its tensor's device"
                )
        self._grad = value

    @property
    def _version(self) -> int:
        """How many times ``.data`` was changed in place (torch's own counter of that tensor).

        A ``Function`` notes the versions of the tensors it saves; ``backward`` refuses to
        use one whose version moved since: its gradient would be computed from new numbers.
        """
        # torch's counter, not one of our own: torch bumps it on every change in place of this
        # storage, whoever makes it (an optimizer, p.data -= ..., p.data[0] = ..., a view, the
        # user's own torch tensor passed to Tensor()), so no path can forget to count. Unlike
        # torch, whose .data is a detached alias that escapes its counter, a write through our
        # .data counts: it is the one storage, and .data writes are the students' usual route.
        return self.data._version

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return self.data.item()

    def __bool__(self) -> bool:
        """The truth of a one-element tensor (``if (a > b):``); torch refuses more elements."""
        if self.data.numel() != 1:
            raise RuntimeError(
                f"the truth value of a Tensor with {self.data.numel()} elements is "
                "ambiguous: use .all() on .data, or .item() on one element"
            )
        return bool(self.data)

    def detach(self) -> Tensor:
        """The same data with no history and no gradient."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        body = repr(self.data)[len("tensor(") : -1]
        if self.grad_fn is not None:
            return f"Tensor({body}, grad_fn=<{self.grad_fn.name()}>)"
        return f"Tensor({body}, requires_grad=True)" if self.requires_grad else f"Tensor({body})"

    # ---------------------------------------------------------------- differentiation
    def backward(self, gradient: Tensor | torch.Tensor | float | None = None, retain_graph: bool = False) -> None:
        r"""Accumulate $\partial\,\mathrm{self}/\partial t$ into ``t.grad`` for every leaf ``t``.

        ``gradient`` is $\partial L/\partial\,\mathrm{self}$ (same shape as ``self``); it may be
        left out only for a scalar, where it is 1. The graph's saved tensors are freed
        on the way unless ``retain_graph=True``.
        """
        _function.backward(self, gradient, retain_graph)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf too (leaves keep theirs anyway)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.grad_fn is not None:
            self.grad_fn.retained = weakref.ref(self)
        return self

    # ------------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return _ops.Add.apply(self, other)

    def __radd__(self, other):
        return _ops.Add.apply(other, self)

    def __sub__(self, other):
        ### BEGIN SOLUTION 6.31: Tensor.__sub__: self - other, through its Function
        return _ops.Sub.apply(self, other)
        ### END SOLUTION

    def __rsub__(self, other):
        return _ops.Sub.apply(other, self)

    def __mul__(self, other):
        ### BEGIN SOLUTION 6.32: Tensor.__mul__: self * other, through its Function
        return _ops.Mul.apply(self, other)
        ### END SOLUTION

    def __rmul__(self, other):
        return _ops.Mul.apply(other, self)

    def __truediv__(self, other):
        ### BEGIN SOLUTION 6.33: Tensor.__truediv__: self / other, through its Function
        return _ops.Div.apply(self, other)
        ### END SOLUTION

    def __rtruediv__(self, other):
        return _ops.Div.apply(other, self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, (Tensor, torch.Tensor)):
            raise TypeError("Tensor ** exponent supports a constant (Python number) exponent only")
        return _ops.Pow.apply(self, exponent)

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(other, self)

    # ------------------------------------------------------------------ comparisons
    # A comparison is a step function: its derivative is zero almost everywhere, so, as
    # in torch, the result is a bool tensor outside the graph (no grad_fn, no gradient).
    def _compare(self, other: object, compare: Callable[[torch.Tensor, Any], torch.Tensor]) -> Tensor:
        other = other.data if isinstance(other, Tensor) else _function.as_operand(other)
        return Tensor(compare(self.data, other))

    def __gt__(self, other):
        return self._compare(other, torch.gt)

    def __lt__(self, other):
        return self._compare(other, torch.lt)

    def __ge__(self, other):
        return self._compare(other, torch.ge)

    def __le__(self, other):
        return self._compare(other, torch.le)

    def __eq__(self, other):
        return self._compare(other, torch.eq)

    def __ne__(self, other):
        return self._compare(other, torch.ne)

    # ------------------------------------------------------------------ other ops
    @property
    def T(self) -> Tensor:
        """The dimensions in reverse order (the transpose of a matrix)."""
        return _shape_ops.Transpose.apply(self)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        """The dimensions reordered: ``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))``.

        Output dimension ``i`` is input dimension ``dims[i]``; ``dims`` must name every
        dimension once (negative numbers count from the end).
        """
        if len(dims) == 1 and isinstance(dims[0], (tuple, list, torch.Size)):
            dims = tuple(dims[0])
        # ints now (one tuple unpacked above); permutation checks each
        return _shape_ops.Permute.apply(self, _shape_ops.permutation(dims, self.ndim))  # type: ignore[arg-type]

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in a new shape, ``x.reshape(2, -1)`` or ``x.reshape((2, -1))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        return _shape_ops.Reshape.apply(self, shape)

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (an int, a tuple of ints, or ``None`` for all)."""
        return _ops.Sum.apply(self, axis, keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """The sum divided by the number of elements summed (built from ``sum`` and ``/``)."""
        if not (self.data.is_floating_point() or self.data.is_complex()):  # torch refuses too
            raise TypeError(
                f"mean() needs a floating-point tensor, got dtype {self.dtype}: "
                "convert it first, e.g. Tensor(t.data.float())"
            )
        total = self.sum(axis, keepdims)
        # the sizes of the summed axes (not numel / numel: an empty result would divide by 0)
        return total / math.prod(self.shape[a] for a in _ops._axes(axis, self.ndim))

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def relu(self) -> Tensor:
        return _ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def logsumexp(self, axis: int | Sequence[int] | None, keepdims: bool = False) -> Tensor:
        r"""$\log \sum_j e^{x_j}$ over ``axis``, computed without overflow."""
        return _ops.LogSumExp.apply(self, axis, keepdims)


# The operators above build on ops, and ops build on Tensor: import them last.
from scratchlib.autograd import function as _function  # noqa: E402
from scratchlib.autograd import ops as _ops  # noqa: E402
from scratchlib.autograd import shape_ops as _shape_ops  # noqa: E402
