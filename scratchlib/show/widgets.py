"""An interactive explorer: pick a toy data set and the metaparameters, watch the network learn.

``Explorer()`` in a notebook cell shows the controls (data set, hidden sizes, learning
rate, regularization, epochs, batch size, seed) above the decision boundary and the
loss curve; every change (or the "train" button) trains a fresh library network and
redraws. The logic lives in :meth:`Explorer.run`, so tests drive it without a browser:
set the widgets' values, call ``run()`` (or ``train_button.click()``), read
``history``, ``net`` and ``status``. The backward stepper is in :mod:`scratchlib.show.stepper`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as w
import matplotlib.pyplot as plt
import torch

from scratchlib.course import validate
from scratchlib.course.runner import ExerciseNotDone
from scratchlib.layers import mlp
from scratchlib.show import plots
from scratchlib.training import data, train

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from scratchlib.layers.network import MLP

#: name -> (function making (x, y) from a seed, whether a second seed gives a held-out set)
DATASETS = {
    "five points": (lambda seed: data.five_points(), False),
    "xor": (lambda seed: data.xor(n=200, seed=seed), True),
    "circles": (lambda seed: data.circles(n=200, seed=seed), True),
    "spirals": (lambda seed: data.spirals(n=300, seed=seed), True),
}
REGULARIZATION = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)


class TrainButton(w.Button):
    """ipywidgets' Button, except that ``click()`` lets what its callbacks raise through.

    ipywidgets runs a button's callbacks through a dispatcher that logs every Exception and
    swallows it: a test (or a cell) that clicks would go on as if the run had happened, an
    exercise's stub hidden behind a later, unrelated error. A click from the browser still goes
    through ipywidgets, which shows the error in the lab.
    """

    def click(self) -> None:
        for callback in list(self._click_handlers.callbacks):
            callback(self)


def parse_hidden(text: str) -> list[int]:
    """ "16, 8" -> [16, 8]; "" -> [] (no hidden layer); anything else is a ValueError."""
    parts = text.replace(",", " ").split()
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"hidden sizes must be whole numbers separated by commas, got {text!r}") from None
    if any(s < 1 or s > 512 for s in sizes):
        raise ValueError(f"hidden sizes must lie between 1 and 512, got {text!r}")
    return sizes


class Explorer:
    """Controls + a picture; ``run()`` trains a fresh network from the current values and redraws."""

    #: the ranges of the sliders; a start value outside them is refused, never clamped silently
    LR_RANGE, EPOCHS_RANGE, BATCH_RANGE = (1e-3, 10.0), (1, 500), (1, 100)

    @classmethod
    def _check_arguments(cls, dataset, hidden, lr, regularization, epochs, batch_size, activation, seed):
        if dataset not in DATASETS:
            raise ValueError(f"Explorer: dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
        if activation not in ("tanh", "relu", "sigmoid"):
            raise ValueError(f"Explorer: activation must be 'tanh', 'relu' or 'sigmoid', got {activation!r}")
        parse_hidden(hidden)
        validate.number("Explorer", "lr", lr, low=cls.LR_RANGE[0], high=cls.LR_RANGE[1])
        validate.number("Explorer", "epochs", epochs, low=cls.EPOCHS_RANGE[0], high=cls.EPOCHS_RANGE[1], integer=True)
        validate.number(
            "Explorer", "batch_size", batch_size, low=cls.BATCH_RANGE[0], high=cls.BATCH_RANGE[1], integer=True
        )
        if regularization not in REGULARIZATION:
            raise ValueError(f"Explorer: regularization must be one of {list(REGULARIZATION)}, got {regularization!r}")
        validate.number("Explorer", "seed", seed, low=0, integer=True)

    def __init__(
        self,
        dataset: str = "circles",
        hidden: str = "16",
        lr: float = 0.3,
        regularization: float = 0.0,
        epochs: int = 100,
        batch_size: int = 20,
        activation: str = "tanh",
        seed: int = 0,
        auto: bool = True,
    ):
        self._check_arguments(dataset, hidden, lr, regularization, epochs, batch_size, activation, seed)
        style = {"description_width": "110px"}
        self.dataset = w.Dropdown(options=list(DATASETS), value=dataset, description="data set", style=style)
        self.hidden = w.Text(value=hidden, description="hidden sizes", continuous_update=False, style=style)
        self.activation = w.Dropdown(
            options=["tanh", "relu", "sigmoid"], value=activation, description="activation", style=style
        )
        self.lr = w.FloatLogSlider(
            value=lr,
            base=10,
            min=-3,
            max=1,
            step=0.25,
            description="learning rate",
            continuous_update=False,
            readout_format=".3g",
            style=style,
        )
        self.regularization = w.SelectionSlider(
            options=REGULARIZATION,
            value=regularization,
            description="regularization",
            continuous_update=False,
            style=style,
        )
        self.epochs = w.IntSlider(
            value=epochs, min=1, max=500, step=1, description="epochs", continuous_update=False, style=style
        )
        self.batch_size = w.IntSlider(
            value=batch_size, min=1, max=100, description="batch size", continuous_update=False, style=style
        )
        self.seed = w.IntText(value=seed, description="seed", style=style)
        self.auto = w.Checkbox(value=auto, description="retrain on every change")
        self.train_button = TrainButton(description="train", button_style="primary")
        self.status = w.HTML()
        self.output = w.Output()
        self.controls = [
            self.dataset,
            self.hidden,
            self.activation,
            self.lr,
            self.regularization,
            self.epochs,
            self.batch_size,
            self.seed,
        ]
        self.train_button.on_click(self.run)
        for control in self.controls:
            control.observe(self._changed, names="value")
        self.net: MLP | None = None
        self.history: train.History | None = None
        self.figure: Figure | None = None
        self.runs = 0

    @property
    def widget(self) -> w.Widget:
        """The whole explorer as one widget."""
        left = w.VBox(self.controls[:4])
        right = w.VBox(self.controls[4:] + [w.HBox([self.train_button, self.auto])])
        return w.VBox([w.HBox([left, right]), self.status, self.output])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
        if self.history is None:
            self.run()

    def _changed(self, change: dict) -> None:
        if self.auto.value:
            self.run()

    def run(self, _button: object = None) -> train.History | None:
        """Train a fresh network with the current values, redraw, and return its History (None on an error).

        An exercise the explorer runs that is still a stub says so in the status line, and its
        ExerciseNotDone goes on up to the caller, untouched.
        """
        try:
            return self._run()
        except ExerciseNotDone as stub:
            self.status.value = f"<b>waiting for an exercise:</b> {html.escape(str(stub))}"
            raise

    def _run(self) -> train.History | None:
        self.runs += 1
        try:
            hidden = parse_hidden(self.hidden.value)
        except ValueError as err:
            self.status.value = f"<b>error:</b> {err}"
            return None
        make, has_held_out = DATASETS[self.dataset.value]
        x, y = make(self.seed.value)
        x_val, y_val = make(self.seed.value + 1) if has_held_out else (None, None)
        classes = int(y.max()) + 1
        strength = float(self.regularization.value)
        generator = torch.Generator().manual_seed(self.seed.value)
        self.net = mlp(
            [2, *hidden, classes], activation=self.activation.value, regularization=strength, generator=generator
        )
        try:
            self.history = train.train(
                self.net,
                x,
                y,
                epochs=self.epochs.value,
                lr=self.lr.value,
                batch_size=min(self.batch_size.value, len(x)),
                x_val=x_val,
                y_val=y_val,
                seed=self.seed.value,
                progress=False,
            )
        except train.TrainingDiverged as err:
            self.history = err.history
            self.status.value = f"<b>diverged:</b> {err}"
            return None
        except ValueError as err:  # data train refuses (NaN or inf rows, bad labels)
            self.history = None
            self.status.value = f"<b>error:</b> {err}"
            return None
        self.status.value = self.describe()
        self._draw(x, y)
        return self.history

    def describe(self) -> str:
        """The last run in one line, numbers rounded."""
        h = self.history
        assert h is not None, "describe: no run yet"
        text = (
            f"{self.dataset.value}: hidden {parse_hidden(self.hidden.value)}, lr {self.lr.value:.3g}, "
            f"regularization {self.regularization.value:g}, {h.epochs} epochs: "
            f"train accuracy {100 * h.epoch_accuracy[-1]:.1f}%"
        )
        if h.val_accuracy:
            text += f", held-out {100 * h.val_accuracy[-1]:.1f}%"
        return text

    def _draw(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self.figure is not None:
            plt.close(self.figure)
        net, history = self.net, self.history
        assert net is not None and history is not None  # run draws after a finished training
        figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
        self.figure = figure
        plots.plot_decision_boundary(net.predict, x, y, ax=left, resolution=100, title=self.dataset.value)
        curves = {"train": history.epoch_loss}
        if history.val_loss:
            curves["held-out"] = history.val_loss
        plots.plot_losses(curves, ax=right, xlabel="epoch", title="loss")
        figure.tight_layout()
        with self.output:
            self.output.clear_output(wait=True)
            from IPython.display import display

            display(self.figure)
        plt.close(self.figure)
