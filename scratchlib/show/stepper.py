r"""Step through a recorded backward pass: the graph at each step, and the local rule with its numbers.

:class:`BackwardStepper` is the plain, headless logic (``.step``, ``.frame(i)``,
``.rule(i)``); :func:`backward_stepper` puts an ipywidgets slider and Play button on
it for JupyterLab. The replay comes from :func:`scratchlib.show.replay.record_backward`,
which leaves the network's gradients untouched.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from scratchlib.course import validate
from scratchlib.course.text import tensor_text
from scratchlib.show import draw
from scratchlib.show.events import Event
from scratchlib.show.replay import Replay, record_backward

if TYPE_CHECKING:  # for annotations only: the widgets load when a stepper is shown
    import ipywidgets

    from scratchlib.autograd.tensor import Tensor
    from scratchlib.layers.network import Network


def matrix_text(t: torch.Tensor, indent: str = "    ", max_numbers: int = 30) -> str:
    """A tensor as aligned rows of rounded numbers (its shape and range for a big one)."""
    return tensor_text(t, limit=max_numbers, layout="rows", big="{shape}, values {low} .. {high}", indent=indent)


def local_rule(replay: Replay, i: int) -> str:
    """The local rule applied at event ``i`` of ``replay``, written out with its numbers."""
    e = replay[i]
    name, J = replay.name, replay.symbol
    if e.kind == "seed":
        head = f"d{J}/d{J}" if name(e.node) == J else f"d{J}/d{name(e.node)} = d{J}/d{J}"
        return f"seed: {head} = 1\n" + matrix_text(e.grad)
    if e.kind == "sum":
        earlier, new = e.terms
        return (
            f"paths meet at {name(e.node)}: its gradient is the sum\n"
            f"d{J}/d{name(e.node)} = (what was there) + (from {name(e.source)})\n\n"
            f"what was there:\n{matrix_text(earlier)}\n+ from {name(e.source)}:\n{matrix_text(new)}\n"
            f"= d{J}/d{name(e.node)}:\n{matrix_text(e.grad)}"
        )
    if e.kind == "accumulate":  # an AccumulateGrad node: its rule names the leaf's field it writes
        field, formula = next(iter(e.node.rule.items()))
        return f"{name(e.node)}.{field} = {formula}  (AccumulateGrad adds what arrives)\nG:\n" + matrix_text(e.grad)
    if hasattr(e.node, "function"):  # a node of an autograd graph
        return _autograd_rule(replay, e)
    layer = e.node
    lines = [f"{name(layer)}.backward, G = dJ/d{name(layer)} {tuple(e.grad.shape)}:", matrix_text(e.grad)]
    if not e.handed:
        lines.append("no input needs a gradient: nothing to hand on")
    rules = layer.rule  # each layer class writes its rule beside its backward
    for node, g in e.handed:
        role = next((r for r in rules if getattr(layer, r, None) is node), None)
        if role is None:
            lines.append(f"\ndJ/d{name(node)} {tuple(g.shape)}:")
        else:
            formula, operands = rules[role]
            lines.append(f"\ndJ/d{name(node)} = {formula.format(**vars(layer))}")
            for operand in operands:
                if operand == "output":
                    lines.append(f"  Y = {name(layer)}:\n{matrix_text(replay.values[id(layer)])}")
                else:
                    attr, _, letter = operand.partition(":")
                    source = getattr(layer, attr)
                    lines.append(f"  {letter or attr} = {name(source)}:\n{matrix_text(replay.values[id(source)])}")
            lines.append("  =")
        lines.append(matrix_text(g))
    return "\n".join(lines)


def _autograd_rule(replay: Replay, e: Event) -> str:
    name, node, symbol = replay.name, e.node, replay.symbol
    function = node.function
    lines = [f"{name(node)}: {function.__name__}.backward, G = d{symbol}/d{name(node)}:", matrix_text(e.grad)]
    inputs = list(inspect.signature(function.forward).parameters)[1:]  # forward's inputs, after ctx
    known = [f"{argument} = {name(child)}" for argument, child in zip(inputs, node.next_functions) if child is not None]
    if known:  # the rule speaks of forward's inputs: which node is which
        lines.append("inputs: " + ", ".join(known))
    saved = [t for t in getattr(node, "_saved", ()) if isinstance(t, torch.Tensor)]
    if saved:
        lines.append(
            "saved by forward: "
            + ", ".join(
                f"{tuple(t.shape)}" if t.numel() > 4 else matrix_text(t, indent="").replace("\n", " ") for t in saved
            )
        )
    rules = function.rule  # each Function writes its rule beside its backward
    handed, k = e.handed, 0
    for i, child in enumerate(node.next_functions):  # handed follows the inputs' order
        if k < len(handed) and child is handed[k][0]:
            argument = inputs[i] if i < len(inputs) else None
            head = f"d{symbol}/d{name(child)}"
            if argument in rules:
                head += f" = {rules[argument].format(**vars(node))}"
            lines += [f"\n{head}  (input {i}):", matrix_text(handed[k][1])]
            k += 1
    return "\n".join(lines)


RULE_FONT = 11  # the rule's monospace text, in points (= pixels at 72 dpi)


class BackwardStepper:
    """The logic of the backward stepper, no widgets: a replay, a current ``step``, its pictures.

    ``BackwardStepper(net)`` records one backward pass of the network's last forward,
    ``BackwardStepper(L, names)`` one through the autograd graph behind the Tensor ``L``
    (every gradient stays as it was). ``frame(i)`` is a matplotlib Figure: the graph
    at step ``i`` and, below it, the local rule of that step with its numbers.
    """

    def __init__(self, net_or_tensor: Network | Tensor, labels: Mapping | None = None):
        self.net = net_or_tensor
        self.labels = labels
        self._step = 0
        self.replay = record_backward(net_or_tensor, labels)  # for a Tensor, labels maps names to tensors

    def _index(self, where: str, i: int | None) -> int:
        """Step ``i`` (the current step when None), checked: an integer in [-len, len), as frame's."""
        if i is None:
            return self.step
        i = int(validate.number(f"BackwardStepper.{where}", "step", i, integer=True))
        if not -len(self.replay) <= i < len(self.replay):
            raise IndexError(
                f"BackwardStepper.{where}: step must lie in [0, {len(self.replay)}) "
                f"for this replay of {len(self.replay)} events, got {i}"
            )
        return i

    def draw(self, i: int | None = None, ax: plt.Axes | None = None) -> plt.Axes:
        """The graph at step ``i`` (default: the current step); returns the Axes."""
        i = self._index("draw", i)
        if self.replay.net is not None:
            return draw.draw_network(self.net, ax=ax, labels=self.labels, step=i, replay=self.replay)
        return draw.draw_graph(self.net, self.labels, ax=ax, step=i, replay=self.replay)

    def __len__(self) -> int:
        return len(self.replay)

    @property
    def step(self) -> int:
        return self._step

    @step.setter
    def step(self, value: int) -> None:
        value = int(validate.number("BackwardStepper.step", "step", value, integer=True))
        if not 0 <= value < len(self.replay):
            raise IndexError(f"BackwardStepper.step must lie in [0, {len(self.replay)}), got {value}")
        self._step = value

    def describe(self, i: int | None = None) -> str:
        return self.replay.describe(self._index("describe", i))

    def rule(self, i: int | None = None) -> str:
        return local_rule(self.replay, self._index("rule", i))

    def frame(self, i: int | None = None) -> Figure:
        """The Figure for step ``i`` (default: the current step): the graph, the rule below it.

        The graph keeps the size :mod:`scratchlib.show.draw` gives it (its labels readable at
        100% zoom); the rule's text goes underneath, where a notebook has room to spare.
        """
        i = self._index("frame", i)
        graph = self.draw(i)
        fig = graph.figure
        width, height = fig.get_size_inches()
        char, line = 0.6 * RULE_FONT / 72, 1.25 * RULE_FONT / 72  # monospace: a character, a line
        (graph_width, graph_height), (columns, rows) = self._room()
        below = (rows + 2.5) * line
        total, tall = max(graph_width, columns * char + 0.4), graph_height + below
        fig.set_size_inches(total, tall)
        box = graph.get_position()  # keep the graph's size in inches, centred in its room
        graph.set_position(
            [
                (box.x0 * width + (total - width) / 2) / total,
                (box.y0 * height + below + (graph_height - height) / 2) / tall,
                box.width * width / total,
                box.height * height / tall,
            ]
        )
        text = fig.add_axes([0.2 / total, 0.0, 1.0 - 0.4 / total, (below - 2 * line) / tall])
        text.axis("off")
        text.text(
            0.0,
            1.0,
            self.rule(i),
            family="monospace",
            fontsize=RULE_FONT,
            va="top",
            ha="left",
            transform=text.transAxes,
        )
        text.set_title("the local rule at this step", fontsize=RULE_FONT + 1, loc="left")
        return fig  # type: ignore[return-value,unused-ignore]  # draw() puts its Axes on a Figure, never a SubFigure

    def _room(self) -> tuple[tuple[float, float], tuple[int, int]]:
        """The largest graph (inches) and rule (characters, lines) of any step: every frame gets
        the same size, so the picture does not jump while the slider moves."""
        if not hasattr(self, "_room_needed"):
            sizes = []
            for k in range(len(self.replay)):
                ax = self.draw(k)
                sizes.append(ax.figure.get_size_inches())
                plt.close(ax.figure)
            rules = [self.rule(k) for k in range(len(self.replay))]
            self._room_needed = (
                (max(w for w, _ in sizes), max(h for _, h in sizes)),
                (max(len(row) for r in rules for row in r.splitlines()), max(r.count("\n") + 1 for r in rules)),
            )
        return self._room_needed

    def png(self, i: int | None = None, dpi: int = 72) -> bytes:
        """``frame(i)`` as PNG bytes (the figure is closed again)."""
        fig = self.frame(i)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        plt.close(fig)
        return buffer.getvalue()


def backward_stepper(
    net_or_tensor: Network | Tensor, labels: Mapping | None = None, interval_ms: int = 1200
) -> ipywidgets.VBox:
    """A slider and Play button over one recorded backward pass, drawn on the graph.

    ``net_or_tensor`` is a Network (after its forward; ``labels`` maps layers to names) or
    an autograd Tensor (``labels`` maps names to tensors, as for ``draw_graph``).

    Returns an ipywidgets VBox; its ``stepper`` (the :class:`BackwardStepper`), ``slider``,
    ``play``, ``caption`` and ``image`` attributes are there for tests and tinkering.
    """
    import ipywidgets as widgets

    stepper = BackwardStepper(net_or_tensor, labels)
    last = len(stepper) - 1
    play = widgets.Play(value=0, min=0, max=last, step=1, interval=interval_ms, description="play")
    slider = widgets.IntSlider(value=0, min=0, max=last, step=1, description="step", continuous_update=False)
    widgets.jslink((play, "value"), (slider, "value"))
    caption = widgets.HTML()
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))  # shrinks to a narrow output area
    cache: dict[int, bytes] = {}

    def show(i: int) -> None:
        stepper.step = i
        if i not in cache:
            cache[i] = stepper.png(i)
        image.value = cache[i]
        caption.value = f"<code>{stepper.describe(i)}</code>"

    slider.observe(lambda change: show(change["new"]), names="value")
    show(0)
    box = widgets.VBox([widgets.HBox([play, slider]), caption, image])
    box.stepper, box.slider, box.play, box.caption, box.image = stepper, slider, play, caption, image
    return box
