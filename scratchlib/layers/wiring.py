"""The checks made when layers are wired together, one function per layer that needs one.

Each names the layer, what it expected and what it was given, and raises before any state
changes, so a layer's own code (:mod:`scratchlib.layers`) is only its formulas, and the
per-step work is plain tensor arithmetic. Numbers and labels go through
:mod:`scratchlib.course.validate`, the package's one rule for them.

Layers are recognised by their attributes (``shape``, ``device``, ``output``), so this
module imports nothing of the layer code.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import torch

from scratchlib.course import validate


def input_shape(shape: object) -> tuple[int, ...]:
    """An Input's shape: a size or a sequence of sizes (integers >= 0), as a tuple."""
    if isinstance(shape, (str, bytes)) or not (isinstance(shape, Integral) or hasattr(shape, "__iter__")):
        raise TypeError(
            f"Input: shape must be a size or a sequence of sizes such as (batch, features), "
            f"got {type(shape).__name__} {shape!r}"
        )
    sizes = (shape,) if isinstance(shape, Integral) else tuple(shape)
    result = tuple(int(validate.number("Input", f"shape[{i}]", size, integer=True)) for i, size in enumerate(sizes))
    if any(size < 0 for size in result):
        raise ValueError(f"Input: shape must have non-negative sizes, got {result}")
    for i, size in enumerate(result):
        if size >= 2**63:  # torch's sizes are int64
            raise ValueError(f"Input: shape[{i}] must be an integer in [0, 2**63), got {size}")
    return result


def input_train(train: object) -> bool:
    """An Input's ``train`` flag: a bool, as torch's ``requires_grad`` (``bool("no")`` is True)."""
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(
            f"Input: train must be True (a parameter) or False (data), got {type(train).__name__} {train!r}"
        )
    return bool(train)


def input_dtype(shape: tuple, train: bool, dtype: object) -> torch.dtype:
    """An Input's dtype: torch's default float when not given; a parameter's is a float dtype."""
    if train:
        validate.float_dtype(f"Input{shape} (parameter)", dtype)
    if dtype is None:
        return torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"Input: dtype must be a torch.dtype such as torch.float64, got {type(dtype).__name__} {dtype!r}"
        )
    return dtype


def input_value(where: str, value: object) -> torch.Tensor:
    """What ``Input.set`` stores: numbers as a tensor, out of any autograd graph (as the engine's Tensor)."""
    if not isinstance(value, torch.Tensor):
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(
                f"{where}: value must be numbers (a tensor or a list of numbers), got {type(value).__name__} {value!r}"
            )
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as error:  # a ragged list, objects that are not numbers
            raise TypeError(f"{where}: value must be numbers (a tensor or a list of numbers): {error}") from None
    if value.dtype == torch.bool or value.is_complex():
        raise TypeError(f"{where}: value must be real numbers, got dtype {value.dtype}")
    # a tensor that requires grad (notebook 02's habit) would make every step part of its graph
    return value.detach() if value.requires_grad else value


def check_inputs(owner: str, inputs: tuple, layer_type: type) -> None:
    """Every input is a Layer, and all of them live on one device."""
    for i, layer in enumerate(inputs):
        if not isinstance(layer, layer_type):
            raise TypeError(f"{owner}: input {i} must be a Layer (e.g. an Input), got {type(layer).__name__}")
    if len({str(layer.device) for layer in inputs}) > 1:
        raise ValueError(
            f"{owner}: inputs live on different devices: "
            + ", ".join(f"{layer!r} on {layer.device}" for layer in inputs)
        )


def linear(x: Any, W: Any, b: Any) -> None:
    """W (out, in), x (batch, in), b (out,)."""
    if len(W.shape) != 2:
        raise ValueError(f"Linear: W must be 2-D (out_features, in_features), got shape {W.shape}")
    out_features, in_features = W.shape
    if len(x.shape) != 2 or x.shape[1] != in_features:
        raise ValueError(
            f"Linear: x must have shape (batch, {in_features}) to match W of shape {W.shape}, got {x.shape}"
        )
    if b.shape != (out_features,):
        raise ValueError(f"Linear: b must have shape ({out_features},) to match W of shape {W.shape}, got {b.shape}")


def same_shape(owner: str, names: tuple, a: Any, b: Any) -> None:
    """Two inputs of one shape (Sum's a and b, MSELoss's pred and target)."""
    if a.shape != b.shape:
        raise ValueError(f"{owner}: {names[0]} and {names[1]} must have the same shape, got {a.shape} and {b.shape}")


def same_values_shape(owner: str, names: tuple, a: Any, b: Any) -> None:
    """At forward time: the values still agree (a batch-size change on one side only is an error)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{owner}.forward: {names[0]} has shape {tuple(a.shape)} but {names[1]} has shape {tuple(b.shape)}"
        )


def two_d(owner: str, x: Any, what: str = "input") -> None:
    """A (batch, classes) input."""
    if len(x.shape) != 2:
        raise ValueError(f"{owner}: {what} must be 2-D (batch, classes), got shape {x.shape}")


def factor(owner: str, name: str, value: float) -> float:
    """A finite number (Scale's factor)."""
    return validate.number(owner, name, value)


def strength(owner: str, value: float) -> float:
    """A finite number >= 0 (Regularization's strength)."""
    return validate.non_negative(owner, "strength", value)


def softmax_cross_entropy(logits: Any, target: Any, input_type: type[Any]) -> int:
    """logits (batch, classes), target (batch,) integer labels in [0, classes); returns classes.

    A target ``Input`` is checked now (unless it still holds its initial zeros) and
    remembers the range, so every later ``set`` is checked too.
    """
    two_d("SoftmaxCrossEntropy", logits, "logits")
    if target.shape != logits.shape[:1]:
        raise ValueError(
            f"SoftmaxCrossEntropy: target must have shape ({logits.shape[0]},) "
            f"to match logits of shape {logits.shape}, got {target.shape}"
        )
    classes = logits.shape[1]
    if isinstance(target, input_type):
        if not target.dtype.is_floating_point or target.output.any():
            validate.labels("SoftmaxCrossEntropy", target.output, classes)
        target.label_range = classes
    return classes


def labels_at_forward(logits: Any, target: Any, classes: int, target_checked_on_set: bool) -> Any:
    """At forward time: one label per row, labels in range (an ``Input`` checks them on ``set``), rows > 0.

    Returns the labels as int64 (what ``gather`` takes), whatever integer dtype they came in.
    """
    if target.shape[0] != logits.shape[0]:  # a batch-size change on one side only
        raise ValueError(f"SoftmaxCrossEntropy.forward: {logits.shape[0]} rows of logits but {target.shape[0]} labels")
    if target.dtype != torch.int64 or not target_checked_on_set:
        target = validate.labels("SoftmaxCrossEntropy.forward", target, classes)
    if logits.shape[0] == 0:
        raise ValueError(
            "SoftmaxCrossEntropy.forward: the batch is empty (0 rows), so there is no mean loss to compute"
        )
    return target
