"""Tensors as short text: the one formatter behind every table, caption and label.

``compare``'s tables, a replay's event lines, the stepper's local rule and the labels of
the graph drawings all write numbers the same way (:func:`number_text`) and lay out small
tensors the same way (:func:`tensor_text`); what differs between them is only how many
digits, how many numbers before a tensor is summed up, and the layout. This module
imports nothing of scratchlib, so every floor can use it.
"""

from __future__ import annotations

from typing import Any

import torch

LAYOUTS = ("flat", "nested", "rows")


def number_text(v: float, digits: int = 4) -> str:
    """``v`` rounded to ``digits`` significant digits; a rounded negative zero prints as 0."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)  # labels and counts stay whole
    text = f"{v:.{digits}g}"
    return "0" if text == "-0" else text


def tensor_text(
    t: Any, digits: int = 4, limit: int = 4, layout: str = "flat", big: str = "{low} .. {high}", indent: str = ""
) -> str:
    """A tensor in a few characters: its numbers when it has at most ``limit``, else ``big``.

    ``layout``: "flat" writes ``[1, -2.5, 3]`` whatever the shape (a 0-d tensor bare);
    "nested" keeps the rows, ``[[1, -2.5], [3, 0]]``; "rows" writes one aligned row per
    line, each prefixed by ``indent``. ``big`` is the text for a larger tensor, a format
    string with the fields ``shape`` (a tuple), ``low`` and ``high`` (its range).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"tensor_text: layout must be one of {LAYOUTS}, got {layout!r}")
    t = torch.as_tensor(t).detach().cpu()
    if t.numel() == 0:
        return indent + "[]"
    if t.numel() > limit:
        low, high = (number_text(v.item(), digits) for v in (t.min(), t.max()))
        return indent + big.format(shape=tuple(t.shape), low=low, high=high)
    if t.dim() == 0:
        return indent + number_text(t.item(), digits)
    if layout == "flat":
        return indent + "[" + ", ".join(number_text(v, digits) for v in t.reshape(-1).tolist()) + "]"
    if layout == "nested":
        return indent + _nested(t.tolist(), digits)
    rows = [[number_text(v, digits) for v in row] for row in t.reshape(-1, t.shape[-1]).tolist()]
    width = max((len(c) for row in rows for c in row), default=0)
    return "\n".join(indent + "[" + " ".join(c.rjust(width) for c in row) + "]" for row in rows)


def _nested(values: float | list, digits: int) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v, digits) for v in values) + "]"
    return number_text(values, digits)
