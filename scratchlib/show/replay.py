r"""A replay of one backward pass of a :class:`~scratchlib.layers.Network`, event by event.

``record_backward(net)`` runs one backward pass of the network's last forward and
returns a :class:`~scratchlib.show.events.Replay`: the list of what happened, in order,

* ``seed``: the last layer's gradient is set, $\partial J/\partial J = 1$;
* ``backward``: a layer's backward ran with its ``grad`` $G$ and handed a gradient to
  each input that needs one (``event.handed``: (input, gradient) pairs);
* ``sum``: a gradient arrived at a layer that already had one, where two paths of the
  graph meet (``event.terms``: the earlier total and the new gradient; ``event.grad``:
  the layer's ``grad`` after the addition).

Recording changes no result. While recording, each layer of the network gets
*instance* attributes that wrap its ``backward`` and ``accumulate_grad`` methods; they call
the layer's own methods (the same arithmetic, bit for bit) and copy what passes through.
They are removed afterwards, so a network that is not being recorded runs exactly the
code it always runs, with no check and no overhead. ``record_backward`` also puts every
``grad`` back as it found it: drawing a replay never disturbs training.

The gradient handed over is the one the consumer computes; where paths meet, the ``sum``
event holds the earlier total and that gradient, and the layer's ``grad`` after the
addition, so the replay ends on every layer's ``grad`` exactly.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

from scratchlib.show.events import Event, Replay
from scratchlib.layers import Input, Layer

_WRAPPED = ("backward", "accumulate_grad")


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


def for_network(net, labels=None) -> Replay:
    """An empty :class:`Replay` of ``net``: its layers, their names and a copy of their outputs."""
    values = {id(l): (l.output.detach().clone() if l.output is not None else None) for l in net.layers}
    return Replay(net.layers, node_names(net, labels), values, net=net)


def _alone(layer: Layer, method: str, *args, **kwargs) -> torch.Tensor:
    """What ``layer.<method>(*args)`` writes into an empty grad buffer, computed by the layer's own code."""
    scratch = Layer.__new__(Layer)
    scratch.output, scratch.shape = None, tuple(layer._grad_shape())
    scratch._grad_dtype, scratch.device = layer._grad_dtype, layer.device
    scratch._grad, scratch._grad_is_zero = None, True
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
    replay = for_network(net, labels)
    saved = []
    for layer in net.layers:
        for method in _WRAPPED:
            if not hasattr(layer, method):
                continue
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
    saved = [(layer, layer._grad, None if layer._grad is None else layer._grad.clone(), layer._grad_is_zero)
             for layer in net.layers]
    try:
        net.clear_grad()
        with recording(net, labels) as replay:
            net.backward()
    finally:
        for layer, buffer, contents, is_zero in saved:
            if buffer is not None:
                buffer.copy_(contents)
            layer._grad, layer._grad_is_zero = buffer, is_zero
    return replay


__all__ = ["Event", "Replay", "record_backward", "recording", "node_names", "tape_labels", "for_network"]
