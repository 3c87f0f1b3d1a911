r"""The graph behind a Tensor as a replay and a drawing read it: its nodes, edges and names.

:func:`graph_nodes` walks the nodes behind a tensor (the ``Context`` of each operation and
an ``AccumulateGrad`` for each leaf), :func:`graph_names` names them. A backward pass through
them is recorded by :func:`scratchlib.show.replay.record_backward`, the one recorder for the
engine's graph and the layers' tape alike; this module only reads the graph.
"""

from __future__ import annotations

from collections.abc import Mapping

from scratchlib.autograd.function import AccumulateGrad, _node_of
from scratchlib.autograd.tensor import Tensor


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


def graph_names(tensor: Tensor, names: Mapping[str, Tensor] | None = None) -> tuple[dict, dict]:
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


__all__ = ["graph_nodes", "graph_names"]
