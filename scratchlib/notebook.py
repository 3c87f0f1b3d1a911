"""The one setup call at the top of every notebook."""
from __future__ import annotations

import torch


def setup(seed: int = 0) -> None:
    """Make a notebook repeatable and its printed numbers short.

    Seeds torch's global generator (data sets use their own generators), prints
    tensors with 4 decimals, and keeps inline figures small so the committed
    notebooks stay light.
    """
    torch.manual_seed(seed)
    torch.set_printoptions(precision=4, sci_mode=False)
    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": 72, "figure.figsize": (5.0, 3.6),
                                "axes.spines.top": False, "axes.spines.right": False})
