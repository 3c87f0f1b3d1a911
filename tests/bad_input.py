"""The table behind the bad-input suites (tests/test_bad_input_*.py): one row per bad input.

A row names the call, the error it must raise, words its message must hold, and the state
that must be the same afterwards (DESIGN: an error names what was wrong and what was
expected, and comes before any state changes). The next bad input is one more row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import pytest
import torch


@dataclass
class Bad:
    """One bad input: ``call(thing)`` on ``thing = make()`` raises ``error`` with ``words`` in its
    message, and ``state(thing)`` (tensors, numbers, lists of them) is the same before and after."""

    id: str
    make: Callable[[], Any]
    call: Callable[[Any], Any]
    error: type[BaseException]
    words: Sequence[str]
    state: Callable[[Any], Any] = field(default=lambda thing: None)


def snapshot(value: Any) -> Any:
    """A copy of ``value`` that later changes to it cannot reach."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return [snapshot(v) for v in value]
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(torch.equal(a, b) or torch.isclose(a, b, rtol=0, atol=0, equal_nan=True).all())
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def check(row: Bad) -> None:
    """Run one row: the error, its words, the state unchanged (and no figure left open)."""
    thing = row.make()
    before, figures = snapshot(row.state(thing)), plt.get_fignums()
    with pytest.raises(row.error) as raised:
        row.call(thing)
    message = str(raised.value)
    for words in row.words:
        assert words in message, f"{row.id}: {words!r} is not in the message {message!r}"
    assert "Traceback" not in message
    assert same(snapshot(row.state(thing)), before), f"{row.id}: the state changed"
    assert plt.get_fignums() == figures, f"{row.id}: a figure was left open"


def rows(*table: Bad) -> Any:
    """The table as pytest parameters, each named by its id."""
    return pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in table])
