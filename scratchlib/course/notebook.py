"""The one setup call at the top of every notebook."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # IPython is there in a kernel; setup() works without it
    from IPython.core.interactiveshell import InteractiveShell


def setup(seed: int = 0, threads: int = 1) -> None:
    """Make a notebook repeatable, its figures visible and its printed numbers short.

    - Seeds torch's global generator (data sets use their own generators).
    - Runs torch on ``threads`` threads. One by default: the course's matrices are
      small, so a second thread mostly adds overhead (on a busy machine, a lot of
      it), and one thread adds up every floating-point sum in the same order on any
      machine, so the printed numbers that nbval compares repeat everywhere.
    - Shows figures inline even where MPLBACKEND names a non-interactive backend.
    - Prints tensors with 4 decimals; keeps inline figures small so the committed
      notebooks stay light.
    - Turns on IPython's autoreload: an edit saved in ``scratchlib/`` (an exercise
      done in the editor) is picked up by the next cell run, with no kernel restart.
    """
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.set_printoptions(precision=4, sci_mode=False)
    import matplotlib

    matplotlib.rcParams.update(
        {"figure.dpi": 72, "figure.figsize": (5.0, 3.6), "axes.spines.top": False, "axes.spines.right": False}
    )
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with jupyterlab
        return
    shell = get_ipython()
    if shell is None:
        return
    _autoreload(shell)
    if shell.__class__.__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")


def _autoreload(shell: InteractiveShell) -> None:
    """Reload changed modules before each cell (once per kernel: a second setup() changes nothing)."""
    loaded = shell.extension_manager.loaded  # type: ignore[union-attr]  # a running shell has its manager
    if not {"autoreload", "IPython.extensions.autoreload"} & set(loaded):
        shell.run_line_magic("load_ext", "autoreload")
    shell.run_line_magic("autoreload", "2")
