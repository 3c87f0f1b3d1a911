r"""A replay of one backward pass of a :class:`~scratchlib.network.Network`, event by event.

``record_backward(net)`` runs one backward pass of the network's last forward and
returns a :class:`Replay`: the list of what happened, in order,

* ``seed``: the last layer's gradient is set, $\partial J/\partial J = 1$;
* ``backward``: a layer's backward ran with its ``grad`` $G$ and handed a gradient to
  each input that needs one (``event.handed``: (input, gradient) pairs);
* ``sum``: a gradient arrived at a layer that already had one, where two paths of the
  graph meet (``event.terms``: the earlier total and the new gradient; ``event.grad``:
  the layer's ``grad`` after the addition).

Recording changes no result. While recording, each layer of the network gets
*instance* attributes that wrap its ``backward`` and ``accumulate_*`` methods; they call
the layer's own methods (the same arithmetic, bit for bit) and copy what passes through.
They are removed afterwards, so a network that is not being recorded runs exactly the
code it always runs, with no check and no overhead. ``record_backward`` also puts every
``grad`` back as it found it: drawing a replay never disturbs training.

The gradient handed over is the one the consumer computes (what its accumulation would
write into an empty buffer). Where paths meet, the library *fuses* the product into the
addition (``grad.addmm_(a, b)``, ``grad.addcmul_(a, b)``: one rounding instead of two),
so the handed gradients add up to the final ``grad`` to float64 rounding, while the
``sum`` events carry the buffer itself: the replay ends on every layer's ``grad`` exactly.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from scratchlib.layers import Input, Layer

_WRAPPED = ("backward", "accumulate_grad")


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


def tape_labels(net) -> dict:
    """Names for the Inputs of an ``mlp`` network (x, y, W1, b1, ...); generic ones otherwise."""
    labels = {}
    for attr, label in (("x", "x"), ("target", "y")):
        layer = getattr(net, attr, None)
        if layer is not None:
            labels[id(layer)] = label
    for attr, letter in (("weights", "W"), ("biases", "b")):
        for i, layer in enumerate(getattr(net, attr, []) or [], start=1):
            labels[id(layer)] = f"{letter}{i}"
    return labels


def node_names(net, labels=None) -> dict:
    """A short, unique name for every layer: x, y, W1, b1, ... for an ``mlp``; Linear1, ReLU, ... otherwise."""
    names = tape_labels(net)
    for layer, label in (labels or {}).items():
        names[id(layer)] = str(label)
    counts: dict[str, int] = {}
    for layer in net.layers:
        counts[layer.name] = counts.get(layer.name, 0) + 1
    seen: dict[str, int] = {}
    for layer in net.layers:
        if id(layer) in names:
            continue
        kind = "param" if isinstance(layer, Input) and layer.train else (
            "data" if isinstance(layer, Input) else layer.name)
        seen[kind] = seen.get(kind, 0) + 1
        names[id(layer)] = kind + (str(seen[kind]) if counts[layer.name] > 1 or kind in ("param", "data") else "")
    return names


class Replay:
    """The events of one recorded backward pass, with the values and names to show them.

    ``replay[i]`` is the i-th :class:`Event`; ``grads_at(i)`` the gradient every node
    holds once events 0..i have happened (nodes not reached yet are missing). The nodes
    are a Network's layers (:func:`record_backward`) or the nodes of an autograd graph
    (:func:`scratchlib.autograd.replay.record_backward`).
    """

    def __init__(self, nodes, names: dict, values: dict, net=None):
        self.net = net
        self.nodes = list(nodes)
        self.names = names    # id(node) -> short name
        self.values = values  # id(node) -> its output (None where it was not kept)
        self.events: list[Event] = []
        self.symbol = "J"     # the output's letter, for the seed: dJ/dJ = 1
        self._current: Event | None = None
        self._received: dict[int, torch.Tensor] = {}  # running total per node id

    @classmethod
    def for_network(cls, net, labels=None) -> "Replay":
        values = {id(l): (l.output.detach().clone() if l.output is not None else None) for l in net.layers}
        return cls(net.layers, node_names(net, labels), values, net=net)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i) -> Event:
        return self.events[i]

    def __iter__(self):
        return iter(self.events)

    def name(self, node) -> str:
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
        for e in self.events[:step + 1]:
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
    def _begin(self, node, grad: torch.Tensor, kind: str = "backward") -> None:
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

    def _handed(self, node, g: torch.Tensor, total: torch.Tensor | None = None) -> None:
        """``g`` arrived at ``node``; ``total`` is what the node holds now (default: the sum, in arrival order)."""
        source = self._current.node if self._current is not None else None
        if self._current is not None:
            self._current.handed.append((node, g))
        earlier = self._received.get(id(node))
        if total is None:
            total = g if earlier is None else earlier + g
        self._received[id(node)] = total
        if earlier is not None:
            self.events.append(Event("sum", node, total, terms=[earlier, g], source=source))


def _alone(layer: Layer, method: str, *args, **kwargs) -> torch.Tensor:
    """What ``layer.<method>(*args)`` writes into an empty grad buffer, computed by the layer's own code."""
    scratch = Layer.__new__(Layer)
    scratch.output, scratch.shape = None, tuple(layer._grad.shape)
    scratch._grad = torch.empty_like(layer._grad)
    scratch._grad_is_zero = True
    getattr(type(layer), method)(scratch, *args, **kwargs)
    return scratch._grad


def _wrap_backward(replay: Replay, layer: Layer, original):
    def backward():
        replay._begin(layer, layer.grad)
        try:
            original()
        finally:
            replay._end()
    return backward


def _wrap_accumulate(replay: Replay, layer: Layer, method: str, original):
    def accumulate(*args, **kwargs):
        original(*args, **kwargs)  # the real work first: a bad shape raises before anything is recorded
        if not layer.needs_grad:   # dropped: inside a Network, nothing upstream needs it
            return
        replay._handed(layer, _alone(layer, method, *args, **kwargs), layer.grad.detach().clone())
    return accumulate


@contextmanager
def recording(net, labels=None):
    """Record every backward that runs inside the ``with`` block; yields the :class:`Replay`.

    ``with recording(net) as replay: net.backward()`` gives the same gradients as
    ``net.backward()`` alone, bit for bit; the wrappers are gone after the block.
    """
    replay = Replay.for_network(net, labels)
    saved = []
    for layer in net.layers:
        for method in _WRAPPED:
            saved.append((layer, method, layer.__dict__.get(method)))
            original = getattr(layer, method)
            layer.__dict__[method] = (_wrap_backward(replay, layer, original) if method == "backward"
                                      else _wrap_accumulate(replay, layer, method, original))
    try:
        yield replay
    finally:
        for layer, method, before in reversed(saved):
            if before is None:
                del layer.__dict__[method]
            else:
                layer.__dict__[method] = before


def record_backward(net, labels=None) -> Replay:
    """Record one backward pass of ``net``'s last forward, leaving every ``grad`` as it was.

    The pass starts from cleared gradients (so parameter gradients show this pass only);
    afterwards each layer's gradient buffer holds what it held before.
    """
    if not net.layers:
        raise ValueError("record_backward: the network has no layers yet")
    last = net.layers[-1]
    if last.output is None:
        raise RuntimeError(f"record_backward: run forward first (the last layer {last!r} has no output yet)")
    saved = [(layer, layer._grad, layer._grad.clone(), layer._grad_is_zero) for layer in net.layers]
    try:
        net.clear_grad()
        with recording(net, labels) as replay:
            net.backward()
    finally:
        for layer, buffer, contents, is_zero in saved:
            buffer.copy_(contents)
            layer._grad, layer._grad_is_zero = buffer, is_zero
    return replay


def _brief(t: torch.Tensor) -> str:
    """``= [numbers]`` for a small tensor, its shape for a big one."""
    return f"= {_numbers(t)}" if t.numel() <= 4 else str(tuple(t.shape))


def _numbers(t: torch.Tensor, digits: int = 4) -> str:
    """Small tensors as their rounded numbers, e.g. ``[[0.1, -2.0], [3.5, 0.0]]``."""
    values = t.detach().cpu().tolist()

    def fmt(v):
        if isinstance(v, list):
            return "[" + ", ".join(fmt(u) for u in v) + "]"
        text = f"{v:.{digits}g}"
        return "0" if text in ("-0", "0") else text
    return fmt(values)
