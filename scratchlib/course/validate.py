"""One rule for the numbers, labels and data a user hands the library.

Every public function that takes a learning rate, a size, a strength or class labels
checks it here, so the whole package answers a mistake the same way, before any state
changes:

- a number is a Python ``int`` or ``float``, a NumPy scalar, or a one-element tensor;
  strings and bools are refused with a ``TypeError`` (``lr="0.1"`` and ``lr=True`` are
  mistakes, not numbers);
- a number outside its range (negative, zero where it must be positive, NaN, inf) is a
  ``ValueError`` naming the function, the argument, what is allowed and what was given;
- class labels are integers in ``[0, classes)``, of any integer dtype, handed on as int64;
- a seed is an integer in ``[0, 2**64)``, a generator a ``torch.Generator`` or None, the
  dtype of weights a floating-point one;
- training data is finite: the error names the first rows that are not.

This module sits on the bottom floor: it imports nothing of scratchlib.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import torch


def _as_python(where: str, name: str, value: object, integer: bool) -> Any:
    """``value`` as a Python int or float, or a TypeError saying what it is."""
    if type(value) is (int if integer else float):  # the usual case, without the slower checks below
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.dtype == torch.bool or value.is_complex():
            raise TypeError(
                f"{where}: {name} must be a number, got a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
            )
        value = value.item()
    kind = "an integer" if integer else "a number"
    # bool is an int subclass and np.bool_ is not Real: both end here as mistakes.
    if isinstance(value, bool) or not isinstance(value, Integral if integer else Real):
        raise TypeError(f"{where}: {name} must be {kind}, got {type(value).__name__} {value!r}")
    return int(value) if integer else float(value)


def number(
    where: str,
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> float:
    """``value`` as a Python number, checked to be finite and to lie between ``low`` and ``high``.

    ``low_open``/``high_open`` exclude the bound itself. Returns an ``int`` when
    ``integer`` is set, else a ``float``.
    """
    result = _as_python(where, name, value, integer)
    too_low = low is not None and (result <= low if low_open else result < low)
    too_high = high is not None and (result >= high if high_open else result > high)
    if not math.isfinite(result) or too_low or too_high:
        raise ValueError(f"{where}: {name} must be {_describe(low, high, low_open, high_open)}, got {value!r}")
    return result


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low == 0:
        return "a positive finite number" if low_open else "a finite number >= 0"
    if low is not None:
        return f"a finite number {'>' if low_open else '>='} {low}"
    if high is not None:
        return f"a finite number {'<' if high_open else '<='} {high}"
    return "a finite number"


def positive(where: str, name: str, value: object) -> float:
    """A finite number > 0 (a learning rate, a step size)."""
    return number(where, name, value, low=0, low_open=True)


def non_negative(where: str, name: str, value: object) -> float:
    """A finite number >= 0 (a regularization strength, momentum, noise)."""
    return number(where, name, value, low=0)


def count(where: str, name: str, value: object, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (a size, a number of epochs or samples)."""
    result = _as_python(where, name, value, integer=True)
    if result < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{where}: {name} must be {bound}, got {value!r}")
    return result


def labels(where: str, values: object, classes: int | None, *, whole_floats: bool = False) -> torch.Tensor:
    """Integer class labels in ``[0, classes)`` as int64, or an error naming ``where`` and the values found.

    Any integer dtype is a label (uint8 from an image file, int16, int32): the result is
    int64, the dtype torch indexes and gathers with. Floats are refused (a label 0.7 is a
    mistake) unless ``whole_floats`` allows whole numbers (0.0, 1.0), as a chart may.
    ``classes=None`` checks only that the labels are non-negative integers.
    """
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{where}: class labels must be a tensor of integers, got {type(values).__name__}")
    if values.is_complex() or values.dtype == torch.bool:
        raise ValueError(f"{where}: class labels must be integers, got dtype {values.dtype}")
    meta = values.device.type == "meta"  # meta tensors have shapes, no values
    if values.is_floating_point():
        if not whole_floats:
            raise ValueError(f"{where}: class labels must be integers, got dtype {values.dtype}")
        whole = torch.isfinite(values) & (values == values.round())  # NaN and inf are not whole
        if not meta and not bool(whole.all()):
            odd = values[~whole][0].item()
            raise ValueError(f"{where}: class labels must be whole numbers, got {odd:g} (dtype {values.dtype})")
    if values.dtype != torch.int64:
        values = values.long()
    if values.numel() and not meta:
        low, high = (int(v) for v in torch.aminmax(values))
        if low < 0 or (classes is not None and high >= classes):
            allowed = f"lie in [0, {classes})" if classes is not None else "be >= 0"
            raise ValueError(f"{where}: class labels must {allowed}, got values from {low} to {high}")
    return values


#: torch.Generator.manual_seed takes the integers in [0, 2**64): a seed is one of them.
SEED_LIMIT = 2**64


def seed(where: str, value: object) -> int:
    """A random seed: an integer in [0, 2**64) (what ``torch.Generator.manual_seed`` takes)."""
    result = _as_python(where, "seed", value, integer=True)
    if not 0 <= result < SEED_LIMIT:
        raise ValueError(f"{where}: seed must be an integer in [0, 2**64), got {value!r}")
    return result


def generator(where: str, value: object) -> torch.Generator | None:
    """None (torch's global generator) or a ``torch.Generator``, else a TypeError saying how to make one."""
    if value is None or isinstance(value, torch.Generator):
        return value
    raise TypeError(
        f"{where}: generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) or None, "
        f"got {type(value).__name__} {value!r}"
    )


def float_dtype(where: str, dtype: object) -> torch.dtype | None:
    """None (torch's default) or a floating-point dtype, for weights: integer ones would be cut to whole numbers."""
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(
            f"{where}: dtype must be a floating-point dtype (torch.float32 or torch.float64) or None, got {dtype!r}"
        )
    return dtype


def finite_rows(where: str, name: str, values: torch.Tensor, shown: int = 5, before: str = "before training") -> None:
    """Refuse data with NaN or inf, naming the first rows that hold them (row = first index);
    ``before`` ends the message: what they must be cleaned before."""
    if not values.is_floating_point() or values.device.type == "meta":
        return
    finite = torch.isfinite(values)
    if bool(finite.all()):
        return
    rows = (~finite).reshape(len(values), -1).any(dim=1).nonzero().flatten().tolist()
    listed = ", ".join(map(str, rows[:shown])) + (f" and {len(rows) - shown} more" if len(rows) > shown else "")
    raise ValueError(
        f"{where}: {name} holds NaN or inf in {len(rows)} row"
        f"{'s' if len(rows) > 1 else ''} ({listed}); clean or drop them {before}"
    )


class NonFiniteStep(FloatingPointError):
    """A gradient step would make a parameter NaN or infinite; it was refused, nothing moved."""


# A step no larger than this cannot carry a finite float32 (or float64) weight past the
# largest float: near FLT_MAX the spacing of floats is about 2e31, and an addend below half of
# it rounds away. So a finite weight stays finite under any such step, whatever its size.
HARMLESS_STEP = 1e30


def safe_step(
    where: str,
    weights: list[torch.Tensor],
    grads: list[torch.Tensor],
    step_size: float,
    name_of: Callable[[int], str] = lambda i: f"parameter {i}",
) -> None:
    r"""Refuse the update $W \leftarrow W - \eta\, G$ of every pair of ``weights`` and ``grads`` if one
    entry would turn non-finite; ``name_of(i)`` names the i-th parameter in the error.

    The usual step reads the gradients only: if every $\eta \lVert G \rVert_F$ is finite and at
    most ``HARMLESS_STEP``, no entry of $\eta G$ is NaN, inf or large enough to push a finite weight
    past the largest float, so the step is safe. Only a step that fails this test (a NaN or
    inf gradient, or an enormous step) is tried out of place, entry by entry, to decide for
    sure and name the cause before anything moves. On the usual path the guard reads the
    gradients once and the weights not at all (docs/performance.md gives its cost).
    """
    if not weights or weights[0].is_meta:  # meta tensors have shapes, no values
        return
    norms = [float(torch.linalg.vector_norm(g)) for g in grads]
    if all(math.isfinite(n) and step_size * n <= HARMLESS_STEP for n in norms):
        return
    # the rare path: try each update out of place
    for i, (w, g) in enumerate(zip(weights, grads)):
        if bool(torch.isfinite(w - step_size * g).all()):
            continue
        why = (
            "its gradient holds NaN or inf"
            if not bool(torch.isfinite(g).all())
            else "it already holds NaN or inf"
            if not bool(torch.isfinite(w).all())
            else f"the step (step size {step_size:g} times a gradient of norm {norms[i]:.3g}) overflows"
        )
        raise NonFiniteStep(f"{where}: the update would make {name_of(i)} non-finite: {why}; nothing was moved")
