r"""The record of one backward pass, event by event: :class:`Event` and :class:`Replay`.

One type for both libraries: :func:`scratchlib.show.replay.record_backward` fills it from a
Network's tape (the nodes are layers) or from the engine's graph (the nodes are ``Context``
and ``AccumulateGrad`` objects). It
knows nothing of either: it imports no layer and no engine code, only the tensor-to-text
formatter, so both can use it without reaching each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from scratchlib.course.text import tensor_text


@dataclass
class Event:
    """One step of a backward pass: ``kind`` is "seed", "backward", "sum" (or "accumulate", autograd).

    ``node`` is the layer the step happens at and ``grad`` its gradient at that moment
    (for "sum": the total after the addition). ``handed`` lists (input, gradient) for a
    "backward"; ``terms`` the addends of a "sum" and ``source`` the layer whose
    gradient just arrived there.
    """

    kind: str
    node: object
    grad: torch.Tensor
    handed: list = field(default_factory=list)
    terms: list = field(default_factory=list)
    source: object = None


class Replay:
    """The events of one recorded backward pass, with the values and names to show them.

    ``replay[i]`` is the i-th :class:`Event`; ``grads_at(i)`` the gradient every node
    holds once events 0..i have happened (nodes not reached yet are missing). The nodes
    are a Network's layers (``net`` is that Network) or the nodes of an autograd graph.
    """

    def __init__(self, nodes: list, names: dict, values: dict, net: Any = None) -> None:
        self.net = net
        self.nodes = list(nodes)
        self.names = names  # id(node) -> short name
        self.values = values  # id(node) -> its output (None where it was not kept)
        self.events: list[Event] = []
        self.symbol = "J"  # the output's letter, for the seed: dJ/dJ = 1
        self._current: Event | None = None
        self._received: dict[int, torch.Tensor] = {}  # running total per node id

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: int) -> Event:
        return self.events[i]

    def __iter__(self):
        return iter(self.events)

    def name(self, node: object) -> str:
        return self.names.get(id(node), getattr(node, "name", type(node).__name__))

    def describe(self, i: int) -> str:
        """One line for event ``i``, e.g. ``6 backward Linear2: -> ReLU (4, 3), W2 (2, 3), b2 = [0.1, -0.1]``."""
        e, name = self.events[i], self.name
        if e.kind == "seed":
            return f"{i} seed {name(e.node)}: d{self.symbol}/d{self.symbol} = {_numbers(e.grad)}"
        if e.kind == "sum":
            text = f"{i} sum {name(e.node)}: the gradient from {name(e.source)} meets the one already there"
            if e.grad.numel() <= 4:
                return text + ": " + " + ".join(_numbers(t) for t in e.terms) + f" = {_numbers(e.grad)}"
            return text + f", {len(e.terms)} terms of shape {tuple(e.grad.shape)}"
        if e.kind == "accumulate":
            return f"{i} accumulate {name(e.node)}: {name(e.node)}.grad += {_brief(e.grad).lstrip('= ')}"
        handed = ", ".join(f"{name(n)} {_brief(g)}" for n, g in e.handed) or "nothing (no input needs a gradient)"
        return f"{i} backward {name(e.node)}: -> {handed}"

    def grads_at(self, step: int) -> dict:
        """id(node) -> its gradient after events 0..``step`` (only the nodes reached by then)."""
        if not -len(self.events) <= step < len(self.events):
            raise IndexError(f"Replay.grads_at: step must lie in [0, {len(self.events)}), got {step}")
        step %= len(self.events)
        grads = {}
        for e in self.events[: step + 1]:
            if e.kind in ("seed", "sum"):
                grads[id(e.node)] = e.grad
            elif e.kind == "backward":
                for node, g in e.handed:
                    if id(node) not in grads:  # a later arrival is a "sum" event of its own
                        grads[id(node)] = g
        return grads

    def final_grads(self) -> dict:
        """id(node) -> the gradient it holds at the end of the replay."""
        return self.grads_at(len(self.events) - 1) if self.events else {}

    # ------------------------------------------------------------- recording hooks
    def _begin(self, node: Any, grad: torch.Tensor, kind: str = "backward") -> None:
        """``node`` starts its backward with ``grad`` (copied if nobody handed it one: seed or dead end)."""
        if id(node) not in self._received:
            grad = grad.detach().clone()
            self._received[id(node)] = grad
            if not self.events:
                self.events.append(Event("seed", node, grad))
        self._current = Event(kind, node, self._received[id(node)])
        self.events.append(self._current)

    def _end(self) -> None:
        self._current = None

    def _handed(self, node: Any, g: torch.Tensor, total: torch.Tensor | None = None) -> None:
        """``g`` arrived at ``node``; ``total`` is what the node holds now (default: the sum, in arrival order)."""
        source = self._current.node if self._current is not None else None
        if self._current is not None:
            self._current.handed.append((node, g))
        earlier = self._received.get(id(node))
        if total is None:
            total = g if earlier is None else earlier + g
        self._received[id(node)] = total
        if source is None and earlier is None and not self.events:
            # handed in before any node ran: the seed, however the tape's backward gives it (an
            # accumulate_grad of ones, or grad set directly, which _begin records)
            self.events.append(Event("seed", node, total))
        if earlier is not None:
            self.events.append(Event("sum", node, total, terms=[earlier, g], source=source))


def _numbers(t: torch.Tensor) -> str:
    """A small tensor as its rounded numbers, rows kept: ``[[0.1, -2], [3.5, 0]]``."""
    return tensor_text(t, limit=t.numel(), layout="nested")


def _brief(t: torch.Tensor) -> str:
    """``= [numbers]`` for a small tensor, its shape for a big one."""
    text = tensor_text(t, layout="nested", big="{shape}")
    return text if t.numel() > 4 else "= " + text
