"""Pictures of the two graphs of the course, drawn with matplotlib alone.

:func:`draw_network` draws a Network's tape (notebook 04), :func:`draw_graph` the graph
the autograd engine recorded behind a Tensor (notebook 06). Both can show one step of a
replayed backward pass (``step=``): every node then carries its value and, once the
pass has reached it, its gradient; nodes not reached yet are pale with a dashed border,
the node of that step is red and the nodes it handed a gradient to orange, with the
arrows the gradient flows along. That part is written once (:class:`_Frame`) for both.

Sizes are for JupyterLab at 100% zoom: the notebooks draw at 72 dpi, where a point of font
size is a pixel, and the figure grows with its labels instead of squeezing them. This
module sits above both libraries; neither imports it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Patch

from scratchlib.autograd.function import AccumulateGrad, _node_of
from scratchlib.autograd.tensor import Tensor
from scratchlib.course import validate
from scratchlib.course.text import number_text, tensor_text
from scratchlib.show.graph import graph_nodes
from scratchlib.show.replay import record_backward, tape_labels

FONT = 12  # node labels, in points (= pixels at the notebooks' 72 dpi)
FONT_STEP = 11  # node labels with a replay step: two more lines per node
RED, ORANGE, PALE, PALE_EDGE, PALE_INK = "#cc0000", "#e69138", "#fafafa", "#999999", "#888888"
# colours of the tape: data, parameters, operations, losses, the weight-decay branch
KIND_COLOURS = {
    "data": "#cfe2f3",
    "parameter": "#fce5cd",
    "operation": "#eeeeee",
    "loss": "#f4cccc",
    "weight decay": "#d9ead3",
}


def summarize(t: object) -> str:
    """A value on a node: its numbers when it has at most 4 (3 digits), else its range."""
    return tensor_text(t, digits=3)


@dataclass
class _Frame:
    """One step of a replayed backward pass, as the drawing needs it (or no step at all).

    This is the one place that resolves ``step``/``replay`` and decides the look of a
    node or an arrow at that step, for the tape and for the engine's graph alike.
    """

    replay: object = None
    grads: dict = field(default_factory=dict)  # id(node) -> gradient held at this step
    event: object = None
    marked: set = field(default_factory=set)  # id(node): the node of this step, and highlights
    receivers: set = field(default_factory=set)  # id(node): the nodes it handed a gradient to

    @classmethod
    def at(cls, caller: str, step: int | None, replay: Any, record: Callable, highlight: Any = ()) -> _Frame:
        """The frame of ``step`` in ``replay`` (recorded by ``record()`` when not given)."""
        marked = {id(n) for n in highlight}
        if step is None:
            return cls(marked=marked)
        step = int(validate.number(caller, "step", step, integer=True))  # 1.5 or "2" is no index
        replay = record() if replay is None else replay
        if not -len(replay) <= step < len(replay):
            raise IndexError(
                f"{caller}: step must lie in [0, {len(replay)}) for this replay of {len(replay)} events, got {step}"
            )
        event = replay[step]
        return cls(replay, replay.grads_at(step), event, marked | {id(event.node)}, {id(n) for n, _ in event.handed})

    @property
    def stepping(self) -> bool:
        return self.event is not None

    def flowing(self, source: Any, consumer: Any) -> bool:
        """Does this step's gradient run along the arrow ``source`` -> ``consumer``?"""
        e = self.event
        return e is not None and (
            (e.kind == "backward" and consumer is e.node and id(source) in self.receivers)
            or (e.kind == "sum" and source is e.node)
        )  # the paths that meet

    def state(self, node: Any, needs_grad: bool = True) -> tuple[str, bool]:
        """The lines a node shows at this step (value, gradient) and whether it is still pending."""
        value = self.replay.values.get(id(node))
        text = "\n" + summarize(value) if value is not None else ""
        if id(node) in self.grads:
            return text + "\ngrad " + summarize(self.grads[id(node)]), False
        if not needs_grad:
            return text + "\n(no grad needed)", False
        return text + "\ngrad pending", True

    def box(self, node: Any, face: str, shape: str, pending: bool = False) -> tuple[dict, str]:
        """The node's box (matplotlib bbox properties) and ink colour: the one highlighting rule."""
        edge, width, line, ink = "#444444", 1.0, "-", "black"
        if pending:
            face, edge, line, ink = PALE, PALE_EDGE, "--", PALE_INK
        if id(node) in self.receivers:
            edge, width = ORANGE, 2.8
        if id(node) in self.marked:
            edge, width = RED, 2.8
        return dict(boxstyle=f"{shape},pad=0.35", facecolor=face, edgecolor=edge, linewidth=width, linestyle=line), ink

    def heading(self, title: str | None) -> str:
        """The title given, else (at a step) what happens at this step."""
        if title or not self.stepping:
            return title or ""
        i = self.replay.events.index(self.event)
        return f"step {i} of {len(self.replay)}: " + self.replay.describe(i).split(" ", 1)[1]


def _place(cells: dict, texts: dict, fontsize: float, gap: float) -> tuple[dict, float, float]:
    """Node -> (x, y) in inches from its (column, row), each column as wide as its widest label;
    and the width and height of the drawing."""
    char, line = 0.62 * fontsize / 72, 1.3 * fontsize / 72  # a character's width, a line's height
    widths: dict[float, float] = {}
    for node, (column, _) in cells.items():
        longest = max(len(part) for part in texts[node].split("\n"))
        widths[column] = max(widths.get(column, 0.0), longest * char + gap)
    left, x = {}, 0.0
    for column in sorted(widths):
        left[column], x = x, x + widths[column]
    row = (max(t.count("\n") for t in texts.values()) + 2.2) * line
    rows = [r for _, r in cells.values()]
    xy = {node: (left[c] + widths[c] / 2, (r - min(rows)) * row + row / 2) for node, (c, r) in cells.items()}
    return xy, x, (max(rows) - min(rows) + 1) * row


def _render(
    ax: Any,
    frame: _Frame,
    cells: dict,
    texts: dict,
    looks: dict,
    arrows: list,
    title: str | None,
    gap: float,
    legend_space: float = 0.0,
) -> Any:
    """Draw the boxes (``looks[node]`` = face colour, box shape, pending) and the arrows
    (source, consumer, colour, dashed, bend) at their places; a new figure unless ``ax`` is given."""
    fontsize = FONT_STEP if frame.stepping else FONT
    xy, width, height = _place(cells, texts, fontsize, gap)
    heading = textwrap.fill(frame.heading(title), max(int(width / (0.6 * FONT / 72)), 40))
    if ax is None:
        top = 0.2 + (heading.count("\n") + 1.6) * FONT / 60 if heading else 0.15
        fig, ax = plt.subplots(figsize=(width + 0.3, height + top + legend_space))
        fig.subplots_adjust(
            left=0.15 / (width + 0.3),
            right=1 - 0.15 / (width + 0.3),
            bottom=legend_space / fig.get_figheight(),
            top=1 - top / fig.get_figheight(),
        )
    boxes = {}
    for node, text in texts.items():
        face, shape, pending = looks[node]
        bbox, ink = frame.box(node, face, shape, pending)
        boxes[node] = ax.text(
            *xy[node], text, ha="center", va="center", zorder=3, color=ink, fontsize=fontsize, bbox=bbox
        )
    for source, consumer, colour, dashed, bend in arrows:  # after the boxes: they end at their edges
        flowing = frame.flowing(source, consumer)
        ax.annotate(
            "",
            xy=xy[consumer],
            xytext=xy[source],
            zorder=4,
            arrowprops=dict(
                arrowstyle="-|>",
                color=RED if flowing else colour,
                lw=2.6 if flowing else 1.3,
                linestyle="--" if dashed else "-",
                patchA=boxes[source].get_bbox_patch(),
                patchB=boxes[consumer].get_bbox_patch(),
                shrinkA=2,
                shrinkB=2,
                connectionstyle=f"arc3,rad={bend}",
                mutation_scale=14,
            ),
        )
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    if heading:
        ax.set_title(heading, fontsize=FONT)
    return ax


# ------------------------------------------------------------------ the tape (notebook 04)
def node_kind(layer: object) -> str:
    """data, parameter, operation, loss or weight decay: a tape node's colour in :func:`draw_network`."""
    name = type(layer).__name__
    if name == "Input":
        return "parameter" if getattr(layer, "train", False) else "data"
    if name == "Regularization":
        return "weight decay"
    if name in ("MSELoss", "SoftmaxCrossEntropy", "Sum"):
        return "loss"
    return "operation"


def network_layout(net: Any) -> dict:
    """Positions (column, row) of every layer on the tape, for :func:`draw_network`.

    Columns follow the tape: an operation sits one column right of its deepest input, and
    each Input or side branch is pulled right, next to the first layer that reads it. The
    main path (back from the last layer through first inputs) runs along row 0; Inputs
    stack above it (those read by fewer layers nearer), and side branches such as weight
    decay's Regularization layers run along a row of their own at the top.
    """
    layers = list(net.layers)
    consumers = {id(layer): [] for layer in layers}
    for layer in layers:
        for source in layer.inputs:
            consumers[id(source)].append(layer)
    column = {}
    for layer in layers:  # as early as possible
        column[id(layer)] = 1 + max((column[id(s)] for s in layer.inputs), default=-1)
    for layer in reversed(layers):  # then as late as its consumers allow
        used_by = consumers[id(layer)]
        if used_by:
            column[id(layer)] = min(column[id(c)] for c in used_by) - 1
    main, layer = set(), layers[-1]
    while True:
        main.add(id(layer))
        if not layer.inputs:
            break
        layer = layer.inputs[0]
    stacks: dict[int, list] = {}
    branches: dict[int, list] = {}
    for i, layer in enumerate(layers):
        if id(layer) in main:
            continue
        if type(layer).__name__ == "Input":
            stacks.setdefault(column[id(layer)], []).append((len(consumers[id(layer)]), i, layer))
        else:
            branches.setdefault(column[id(layer)], []).append(layer)
    positions = {id(layer): (float(column[id(layer)]), 0.0) for layer in layers if id(layer) in main}
    for c, members in stacks.items():
        for r, (_, _, layer) in enumerate(sorted(members, key=lambda m: m[:2]), start=1):
            positions[id(layer)] = (float(c), float(r))
    top = max((len(m) for m in stacks.values()), default=0) + 1
    for c, members in branches.items():
        for r, layer in enumerate(members):
            positions[id(layer)] = (float(c), float(top + r))
    return positions


def _tape_label(layer: Any, names: dict) -> str:
    kind = node_kind(layer)
    name = names.get(id(layer), type(layer).__name__)
    if kind == "weight decay":
        return f"{name}\n$\\lambda$={layer.strength:g}"
    shape = "x".join(str(s) for s in layer.shape) or "scalar"
    if kind in ("data", "parameter") and id(layer) not in names:
        name = "param" if kind == "parameter" else "data"
    return f"{name}\n{shape}"


def draw_network(
    net: Any,
    ax: plt.Axes | None = None,
    labels: Mapping | None = None,
    highlight: Any = None,
    title: str | None = None,
    step: int | None = None,
    replay: Any = None,
) -> plt.Axes:
    """Draw a Network's tape as a graph, from the Network object itself; returns the Axes.

    Nodes are the layers (name and output shape), arrows run from each input to the
    layer that reads it. Data Inputs, parameters (``train=True``), operations, losses
    and the weight-decay branch (Regularization layers, dashed green arrows) have
    their own colours, with a legend. ``labels`` maps layers to names (an ``mlp``
    network is named x, y, W1, b1, ... by default); ``highlight`` is a layer or a list
    of layers drawn with a thick red border.

    With ``step`` (an index into the events of a replayed backward pass, see
    :mod:`scratchlib.show.replay`; ``replay`` defaults to one recorded now, which leaves the
    network's gradients as they are), every node also shows a summary of its value and,
    once the backward pass has reached it, of its gradient (see the module's docstring).
    """
    if not hasattr(net, "layers"):
        raise TypeError(
            f"draw_network: net must be a library Network (notebook 04), got {type(net).__name__}; "
            "an engine Tensor's graph is drawn by draw_graph"
        )
    layers = list(net.layers)
    if not layers:
        raise ValueError("draw_network: the network has no layers yet")
    highlight = [] if highlight is None else highlight if isinstance(highlight, (list, tuple)) else [highlight]
    frame = _Frame.at("draw_network", step, replay, lambda: record_backward(net, labels), highlight)
    names = {**(frame.replay.names if frame.stepping else {}), **tape_labels(net)}
    names.update({id(layer): str(label) for layer, label in (labels or {}).items()})
    texts, looks = {}, {}
    for layer in layers:
        texts[layer], pending = _tape_label(layer, names), False
        if frame.stepping:
            lines, pending = frame.state(layer, getattr(layer, "needs_grad", True))
            texts[layer] += lines
        kind = node_kind(layer)
        looks[layer] = (KIND_COLOURS[kind], "square" if kind == "data" else "round", pending)
    arrows = []
    for layer in layers:
        for source in layer.inputs:
            branch = "weight decay" in (node_kind(layer), node_kind(source))
            arrows.append((source, layer, "#38761d" if branch else "0.35", branch, 0.08))
    layout = network_layout(net)
    ax = _render(
        ax,
        frame,
        {layer: layout[id(layer)] for layer in layers},
        texts,
        looks,
        arrows,
        title,
        gap=0.55,
        legend_space=0.45,
    )
    used = {node_kind(layer) for layer in layers}
    legend = [Patch(facecolor=c, edgecolor="#444444", label=k) for k, c in KIND_COLOURS.items() if k in used]
    if frame.stepping:
        legend.append(Patch(facecolor=PALE, edgecolor=PALE_EDGE, linestyle="--", label="grad pending"))
    ax.legend(
        handles=legend,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=len(legend),
        fontsize=FONT - 1,
        frameon=False,
    )
    return ax


# ------------------------------------------------------------ the engine's graph (notebook 06)
def _graph_layout(nodes: list, edges: list) -> dict:
    """node -> (column, row): a node's column is its longest path from the output, so arrows point right."""
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
    return {
        node: (deepest - d, (len(column) - 1) / 2 - i) for d, column in columns.items() for i, node in enumerate(column)
    }


def _known_value(t: Any) -> str:
    """Without a step: the value (and gradient) of a named scalar or a leaf, the shape of a bigger one."""
    if t is None:
        return ""
    if t.data.numel() > 1:
        return "\nshape " + "x".join(str(s) for s in t.shape)
    return "\n" + number_text(t.item()) + ("\ngrad " + number_text(t.grad.item()) if t.grad is not None else "")


def draw_graph(
    tensor: Tensor,
    names: Mapping[str, Tensor] | None = None,
    ax: plt.Axes | None = None,
    step: int | None = None,
    replay: Any = None,
    title: str | None = None,
) -> plt.Axes:
    """Draw the graph that ``tensor`` was computed by; ``names`` labels tensors, e.g. ``{"a": a}``.

    Leaves (tensors that require grad) are round boxes, operations square ones; arrows
    point the way the forward pass runs, and backward walks them in reverse. A named
    scalar shows its value (and gradient, once ``backward`` has run). With ``step`` (an
    index into the events of a replayed backward pass; ``replay`` defaults to one
    recorded now by :func:`scratchlib.show.replay.record_backward`, which leaves
    every ``.grad`` as it was), nodes show the values and gradients of that step.
    Returns the matplotlib Axes.
    """
    if not isinstance(tensor, Tensor):
        what = "torch.Tensor" if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise TypeError(f"draw_graph: tensor must be the engine's Tensor (scratchlib.autograd), got {what}")
    if not tensor.requires_grad:
        raise ValueError("draw_graph needs a tensor computed from tensors with requires_grad=True")
    nodes, edges = graph_nodes(tensor)
    frame = _Frame.at("draw_graph", step, replay, lambda: record_backward(tensor, names))
    named = {_node_of(t): (name, t) for name, t in (names or {}).items() if isinstance(t, Tensor) and t.requires_grad}
    texts, looks = {}, {}
    for node in nodes:
        name, t = named.get(node, (None, None))
        leaf, pending = isinstance(node, AccumulateGrad), False
        texts[node] = (name or "leaf") if leaf else node.function.__name__ + (f"\n= {name}" if name else "")
        if frame.stepping:
            lines, pending = frame.state(node)
        else:
            lines = _known_value(node.variable if leaf and t is None else t)
        texts[node] += lines
        looks[node] = ("#dbe9f6" if leaf else "#fdebd0", "round" if leaf else "square", pending)
    cells, arrows, drawn = _graph_layout(nodes, edges), [], {}
    for child, parent in edges:  # a value used twice by one op gets two bent arrows
        k = drawn[child, parent] = drawn.get((child, parent), -1) + 1
        bend = 0.0 if k == 0 and edges.count((child, parent)) == 1 else 0.3 * (1 if k % 2 else -1) * (k // 2 + 1)
        if bend == 0.0 and cells[parent][0] - cells[child][0] > 1:
            bend = -0.25  # an arrow past a column bows around the boxes in between
        arrows.append((child, parent, "0.35", False, bend))
    return _render(ax, frame, cells, texts, looks, arrows, title, gap=1.0)


__all__ = ["draw_network", "draw_graph", "network_layout", "node_kind", "summarize"]
