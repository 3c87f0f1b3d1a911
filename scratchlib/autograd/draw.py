"""``draw_graph``: the computational graph behind a tensor, drawn with matplotlib alone.

Leaves (tensors that require grad) are round boxes, operations square ones; arrows
point the way the forward pass runs, and backward walks them in reverse. Where a
tensor is named, its value (and gradient, once ``backward`` has run) is shown; with
``step``, the gradients of a replayed backward pass up to that step.
"""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt

from scratchlib.autograd.function import AccumulateGrad, _node_of
from scratchlib.autograd.tensor import Tensor
from scratchlib.plots import summarize


def _describe(tensor: Tensor | None) -> str:
    if tensor is None:
        return ""
    if tensor.data.numel() == 1:
        text = f"{tensor.item():.4g}"
        if tensor.grad is not None:
            text += f"\ngrad {tensor.grad.item():.4g}"
        return text
    return "shape " + "x".join(str(s) for s in tensor.shape)


def graph_nodes(tensor: Tensor) -> tuple[list, list]:
    """The nodes behind ``tensor`` (outputs first) and the edges (input node, node) between them."""
    if not tensor.requires_grad:
        raise ValueError("draw_graph needs a tensor computed from tensors with requires_grad=True")
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


def draw_graph(tensor: Tensor, names: Mapping[str, Tensor] | None = None, ax=None,
               step: int | None = None, replay=None):
    """Draw the graph that ``tensor`` was computed by; ``names`` labels tensors, e.g. ``{"a": a}``.

    With ``step`` (an index into the events of a replayed backward pass; ``replay``
    defaults to one recorded now by :func:`scratchlib.autograd.replay.record_backward`,
    which leaves every ``.grad`` as it was), each node shows its value where it is known
    (the leaves, the output and named tensors) and, once the replayed backward has
    reached it, the gradient it holds then; nodes not reached yet are pale with a dashed
    border, the node of that step is red, the nodes it handed a gradient to orange.
    Returns the matplotlib Axes.
    """
    nodes, edges = graph_nodes(tensor)
    label_of = {}  # node -> (name, tensor) for the named tensors
    for name, t in (names or {}).items():
        if isinstance(t, Tensor) and t.requires_grad:
            label_of[_node_of(t)] = (name, t)
    grads, event, receivers = None, None, set()
    if step is not None:
        if replay is None:
            from scratchlib.autograd.replay import record_backward
            replay = record_backward(tensor, names)
        if not -len(replay) <= step < len(replay):
            raise IndexError(f"draw_graph: step must lie in [0, {len(replay)}) for this replay of "
                             f"{len(replay)} events, got {step}")
        grads, event = replay.grads_at(step), replay[step]
        receivers = {id(n) for n, _ in event.handed}
    # depth: the longest path from the output, so every arrow points to the right
    depth = {nodes[0]: 0}
    for _ in range(len(nodes)):
        changed = False
        for child, parent in edges:
            if depth.get(child, -1) < depth[parent] + 1:
                depth[child] = depth[parent] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list] = {}
    for node in nodes:
        columns.setdefault(depth[node], []).append(node)
    deepest = max(columns)
    position = {}
    for d, column in columns.items():
        for i, node in enumerate(column):
            position[node] = (deepest - d, (len(column) - 1) / 2 - i)

    if ax is None:
        height = max(len(c) for c in columns.values())
        scale = 1.0 if grads is None else 1.25
        _, ax = plt.subplots(figsize=(scale * 1.9 * (deepest + 1) + 0.5, scale * 1.3 * height + 0.6))
    drawn: dict[tuple, int] = {}
    for child, parent in edges:  # a value used twice by one op gets two bent arrows
        k = drawn[child, parent] = drawn.get((child, parent), -1) + 1
        bend = 0.0 if k == 0 and edges.count((child, parent)) == 1 else 0.3 * (1 if k % 2 else -1) * (k // 2 + 1)
        flowing = event is not None and (
            (event.kind == "backward" and parent is event.node and id(child) in receivers)
            or (event.kind == "sum" and child is event.node))  # the paths that meet
        ax.annotate("", xy=position[parent], xytext=position[child],
                    arrowprops=dict(arrowstyle="-|>", color="#cc0000" if flowing else "0.4", shrinkA=24,
                                    shrinkB=24, lw=2.4 if flowing else 1.2, connectionstyle=f"arc3,rad={bend}"))
    for node in nodes:
        name, t = label_of.get(node, (None, None))
        if isinstance(node, AccumulateGrad):
            t = t if t is not None else node.variable
            title, style, colour = name or "leaf", "round,pad=0.4", "#dbe9f6"
        else:
            title = node.function.__name__ + (f"\n= {name}" if name else "")
            style, colour = "square,pad=0.4", "#fdebd0"
        edge, width, line, ink = "0.3", 1.0, "-", "black"
        if grads is None:
            text = title + ("\n" + _describe(t) if t is not None else "")
        else:
            value = replay.values.get(id(node))
            text = title + ("\n" + summarize(value) if value is not None else "")
            if id(node) in grads:
                text += "\ngrad " + summarize(grads[id(node)])
            else:
                text += "\ngrad pending"
                colour, edge, line, ink = "#fafafa", "#999999", "--", "#888888"
            if id(node) in receivers:
                edge, width = "#e69138", 2.5
            if node is event.node:
                edge, width = "#cc0000", 2.5
        ax.text(*position[node], text, ha="center", va="center", fontsize=9, color=ink,
                bbox=dict(boxstyle=style, facecolor=colour, edgecolor=edge, linewidth=width, linestyle=line))
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    if event is not None:
        i = step % len(replay)
        ax.set_title(f"step {i} of {len(replay)}: " + replay.describe(i).split(" ", 1)[1], fontsize=9)
    return ax
