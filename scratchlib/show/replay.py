r"""A replay of one backward pass, event by event: through a Network's tape or the engine's graph.

``record_backward(net)`` runs one backward pass of a :class:`~scratchlib.layers.Network`'s
last forward (notebook 04); ``record_backward(loss, names)`` runs the engine's own backward
from the :class:`~scratchlib.autograd.tensor.Tensor` ``loss`` (notebook 06). Both return a
:class:`~scratchlib.show.events.Replay`: the list of what happened, in order,

* ``seed``: the output's gradient is set, $\partial J/\partial J = 1$;
* ``backward``: a node (a layer, or an engine node such as ``MulBackward``) ran with the
  gradient $G$ of its output and handed a gradient to each input that needs one
  (``event.handed``: (input, gradient) pairs);
* ``sum``: a gradient arrived at a node that already had one, where two paths of the graph
  meet (``event.terms``: the earlier total and the new gradient; ``event.grad``: the total);
* ``accumulate`` (engine only): an ``AccumulateGrad`` node added what arrived into its
  leaf's ``.grad``.

Both are recorded one way. While recording, every node the backward walk visits gets
*instance* attributes that stand in for the methods the walk calls on it: a layer's
``backward`` and ``accumulate_grad``, an engine node's ``run``. Each calls the node's own
method (the same arithmetic, bit for bit) and tells the replay what passed through. They are
removed afterwards, so code that is not being recorded runs exactly as it always does, with no
check and no overhead. ``record_backward`` also puts every gradient back as it found it:
drawing a replay never disturbs training.

On the tape, the sum where paths meet is the layer's own ``grad`` after the addition, so the
replay ends on every layer's ``grad`` exactly; in the graph, the engine sums arriving
gradients with a plain ``+`` in arrival order and the replay does the same, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from scratchlib.autograd import function as _function
from scratchlib.autograd.function import AccumulateGrad, _node_of
from scratchlib.autograd.tensor import Tensor
from scratchlib.layers import Input, Network
from scratchlib.show.events import Event, Replay
from scratchlib.show.graph import graph_names, graph_nodes


def tape_labels(net: Network) -> dict:
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


def node_names(net: Network, labels: Mapping | None = None) -> dict:
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
        kind = (
            "param"
            if isinstance(layer, Input) and layer.train
            else ("data" if isinstance(layer, Input) else layer.name)
        )
        seen[kind] = seen.get(kind, 0) + 1
        names[id(layer)] = kind + (str(seen[kind]) if counts[layer.name] > 1 or kind in ("param", "data") else "")
    return names


def for_network(net: Network, labels: Mapping | None = None) -> Replay:
    """An empty :class:`Replay` of ``net``: its layers, their names and a copy of their outputs."""
    values = {id(layer): (layer.output.detach().clone() if layer.output is not None else None) for layer in net.layers}
    return Replay(net.layers, node_names(net, labels), values, net=net)


def for_graph(tensor: Tensor, names: Mapping[str, Tensor] | None = None) -> Replay:
    """An empty :class:`Replay` of the graph behind ``tensor``: its nodes, their names, the values known."""
    label, value = graph_names(tensor, names)
    replay = Replay(graph_nodes(tensor)[0], label, {k: v.detach().clone() for k, v in value.items()})
    replay.symbol = label[id(_node_of(tensor))]
    return replay


# ------------------------------------------------------------------ the stand-ins
def _backward_of(replay: Replay, node: Any, original: Callable) -> Callable:
    """A layer's ``backward``: the event opens with the layer's gradient and closes when it returns."""

    def backward():
        replay._begin(node, node.grad)
        try:
            original()
        finally:
            replay._end()

    return backward


def _accumulate_of(replay: Replay, node: Any, original: Callable) -> Callable:
    """A layer's ``accumulate_grad``: the gradient handed in, and the layer's ``grad`` after adding it."""

    def accumulate_grad(g):
        original(g)  # the real work first: a wrong shape raises before anything is recorded
        if node.needs_grad:  # else dropped: inside a Network, nothing upstream needs it
            replay._handed(node, g.detach().clone(), node.grad.detach().clone())

    return accumulate_grad


def _run_of(replay: Replay, node: Any, original: Callable) -> Callable:
    """An engine node's ``run``: the gradient it ran with, and the one it returned for each input."""

    def run(grad):
        replay._begin(node, grad)
        try:
            grads = original(grad)
            for child, child_grad in zip(node.next_functions, grads):
                if child is not None and child_grad is not None:
                    replay._handed(child, child_grad.clone())  # a copy: the engine's may be shared
            return grads
        finally:
            replay._end()

    return run


def _accumulate_run_of(replay: Replay, node: Any, original: Callable) -> Callable:
    """An ``AccumulateGrad`` node's ``run``: what arrived at the leaf."""

    def run(grad):
        replay._begin(node, grad, kind="accumulate")
        try:
            return original(grad)
        finally:
            replay._end()

    return run


def _stand_ins(source: Network | Tensor, replay: Replay) -> list:
    """(node, method name, stand-in) for every method the backward walk calls on a node of ``source``."""
    stand_ins = []
    for node in replay.nodes:
        if isinstance(source, Tensor):  # an engine node: Context or AccumulateGrad
            make = _accumulate_run_of if isinstance(node, AccumulateGrad) else _run_of
            stand_ins.append((node, "run", make(replay, node, node.run)))
        else:  # a layer of the tape
            stand_ins.append((node, "backward", _backward_of(replay, node, node.backward)))
            stand_ins.append((node, "accumulate_grad", _accumulate_of(replay, node, node.accumulate_grad)))
    return stand_ins


_NOTHING = object()


@contextmanager
def recording(source: Network | Tensor, labels: Mapping | None = None) -> Iterator[Replay]:
    """Record every backward pass that runs inside the ``with`` block; yields the :class:`Replay`.

    ``source`` is a Network (``labels`` maps layers to names) or an engine Tensor computed from
    tensors with ``requires_grad=True`` (``labels`` maps names to tensors, as for ``draw_graph``).
    ``with recording(net) as replay: net.backward()`` gives the same gradients as
    ``net.backward()`` alone, bit for bit; the stand-ins are gone after the block.
    """
    if isinstance(source, Tensor):
        if not source.requires_grad:
            raise ValueError("recording needs a tensor computed from tensors with requires_grad=True")
        replay = for_graph(source, labels)
    else:
        replay = for_network(source, labels)
    installed = []
    try:
        for node, name, stand_in in _stand_ins(source, replay):
            installed.append((node, name, vars(node).get(name, _NOTHING)))
            setattr(node, name, stand_in)
        yield replay
    finally:
        for node, name, before in reversed(installed):
            if before is _NOTHING:
                delattr(node, name)
            else:
                setattr(node, name, before)


def _kind(value: object) -> str:
    """What ``value`` is, in an error: torch's tensor is not told apart from the engine's by name alone."""
    if isinstance(value, torch.Tensor):
        return "torch.Tensor (the engine's Tensor is scratchlib.autograd.Tensor)"
    return type(value).__name__


def record_backward(
    source: Network | Tensor, labels: Mapping | None = None, gradient: torch.Tensor | None = None
) -> Replay:
    """Record one backward pass, leaving every gradient as it was; returns the :class:`Replay`.

    ``source`` is a Network (its last forward; ``labels`` maps layers to names) or an engine
    Tensor (``labels`` maps names to tensors; ``gradient`` as for ``backward``; the graph is
    kept). The pass starts from cleared gradients, so the replay shows this pass alone.
    """
    if isinstance(source, Tensor):
        return _record_graph(source, labels, gradient)
    if not hasattr(source, "layers"):
        raise TypeError(f"record_backward needs a Network or an autograd Tensor, got {_kind(source)}")
    return _record_tape(source, labels)


def _record_tape(net: Network, labels: Mapping | None) -> Replay:
    if not net.layers:
        raise ValueError("record_backward: the network has no layers yet")
    last = net.layers[-1]
    if last.output is None:
        raise RuntimeError(f"record_backward: run forward first (the last layer {last!r} has no output yet)")
    saved = [(layer, layer.grad) for layer in net.layers]  # nothing writes into a gradient: keeping it is enough
    try:
        net.clear_grad()
        with recording(net, labels) as replay:
            net.backward()
    finally:
        for layer, grad in saved:
            layer.grad = grad
    return replay


def _record_graph(tensor: Tensor, names: Mapping | None, gradient: torch.Tensor | None) -> Replay:
    if not tensor.requires_grad:
        raise ValueError("record_backward needs a Tensor computed from tensors with requires_grad=True")
    nodes, _ = graph_nodes(tensor)
    leaves = [n.variable for n in nodes if isinstance(n, AccumulateGrad)]
    retained = [n.retained() for n in nodes if n.retained is not None and n.retained() is not None]
    saved = [(t, t.grad) for t in leaves + retained]
    try:
        for t in leaves:
            t.grad = None
        with recording(tensor, names) as replay:
            _function.backward(tensor, gradient, retain_graph=True)
    except RuntimeError as error:
        raise RuntimeError(f"record_backward: {error}") from None
    finally:
        for t, grad in saved:
            t.grad = grad
    return replay


__all__ = ["Event", "Replay", "record_backward", "recording", "node_names", "tape_labels", "for_network", "for_graph"]
