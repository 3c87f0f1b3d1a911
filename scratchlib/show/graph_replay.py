r"""A replay of one backward pass through an autograd graph, node by node.

``record_backward(L)`` runs the engine's own :func:`~scratchlib.autograd.function.backward`
from ``L`` and returns a :class:`scratchlib.show.events.Replay` whose events are

* ``seed``: $\partial L/\partial L = 1$ at the output's node;
* ``backward``: a node (a ``Context``, e.g. ``MulBackward``) ran with the gradient $G$ of
  its output and handed one gradient to each input node (``event.handed``);
* ``sum``: a gradient arrived at a node that already had one: the value is used more than
  once, and the engine adds (``event.terms``, their sum in ``event.grad``);
* ``accumulate``: an ``AccumulateGrad`` node added what arrived into its leaf's ``.grad``.

While recording, ``Context.run`` and ``AccumulateGrad.run`` are wrapped (on the classes,
for the duration of the ``with`` block only) by functions that call the originals and copy
what passes through: the engine computes exactly what it always computes, and outside
a recording there is no wrapper and no check. The engine sums arriving gradients with a
plain ``+`` in arrival order; the replay does the same, so its sums are the engine's, bit
for bit. ``record_backward`` keeps the graph (``retain_graph=True``) and puts every
``.grad`` back as it was.
"""
from __future__ import annotations

from contextlib import contextmanager

from scratchlib.autograd import function as _function
from scratchlib.autograd.function import AccumulateGrad, Context, _node_of
from scratchlib.autograd.tensor import Tensor
from scratchlib.show.events import Replay


def graph_nodes(tensor: Tensor) -> tuple[list, list]:
    """The nodes behind ``tensor`` (the output's first, depth-first, each once) and the edges
    (input node, node) between them, one per use: a value used twice by one op gives two edges.
    """
    if not isinstance(tensor, Tensor) or not tensor.requires_grad:
        raise ValueError("graph_nodes needs a Tensor computed from tensors with requires_grad=True")
    root = _node_of(tensor)
    nodes, edges, seen, stack = [], [], {root}, [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for child in node.next_functions:
            if child is None:
                continue
            edges.append((child, node))
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return nodes, edges


def graph_names(tensor: Tensor, names=None) -> tuple[dict, dict]:
    """(id(node) -> name, id(node) -> value) for the graph behind ``tensor``.

    ``names`` maps names to tensors (as for ``draw_graph``): a named tensor's node takes its
    name and shows its value. Others are called after their Function (Mul1, Mul2, ...) or
    ``leaf1, leaf2, ...``; their values are known for leaves and for the output.
    """
    nodes, _ = graph_nodes(tensor)
    label, value = {}, {id(_node_of(tensor)): tensor.data}
    for name, t in (names or {}).items():
        if isinstance(t, Tensor) and t.requires_grad:
            label[id(_node_of(t))] = str(name)
            value[id(_node_of(t))] = t.data
    kinds = [("leaf" if isinstance(n, AccumulateGrad) else n.function.__name__) for n in nodes]
    seen: dict[str, int] = {}
    for node, kind in zip(nodes, kinds):
        if isinstance(node, AccumulateGrad):
            value.setdefault(id(node), node.variable.data)
        if id(node) in label:
            continue
        seen[kind] = seen.get(kind, 0) + 1
        label[id(node)] = kind + (str(seen[kind]) if kinds.count(kind) > 1 or kind == "leaf" else "")
    return label, value


@contextmanager
def recording(tensor: Tensor, names=None):
    """Record the backward passes that run inside the ``with`` block through ``tensor``'s graph.

    ``with recording(L) as replay: L.backward()`` gives exactly the gradients of ``L.backward()``.
    """
    if not tensor.requires_grad:
        raise ValueError("recording needs a tensor computed from tensors with requires_grad=True")
    label, value = graph_names(tensor, names)
    replay = Replay(graph_nodes(tensor)[0], label, {k: v.detach().clone() for k, v in value.items()})
    replay.symbol = label[id(_node_of(tensor))]
    context_run, accumulate_run = Context.run, AccumulateGrad.run

    def run_context(node, grad):
        replay._begin(node, grad)
        try:
            grads = context_run(node, grad)
            for child, child_grad in zip(node.next_functions, grads):
                if child is not None and child_grad is not None:
                    replay._handed(child, child_grad.clone())  # a copy: the engine's may be shared
            return grads
        finally:
            replay._end()

    def run_accumulate(node, grad):
        replay._begin(node, grad, kind="accumulate")
        try:
            return accumulate_run(node, grad)
        finally:
            replay._end()

    Context.run, AccumulateGrad.run = run_context, run_accumulate
    try:
        yield replay
    finally:
        Context.run, AccumulateGrad.run = context_run, accumulate_run


def record_backward(tensor: Tensor, names=None, gradient=None) -> Replay:
    """Record one backward pass from ``tensor``; every ``.grad`` is left as it was and the graph kept.

    The pass starts with every leaf's ``.grad`` empty, so the replay shows this pass alone.
    """
    if not isinstance(tensor, Tensor) or not tensor.requires_grad:
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


__all__ = ["record_backward", "recording", "graph_nodes", "graph_names"]
