"""Hand-worked numbers against computed ones, as a table that also fails loudly.

``compare`` is what every notebook uses to check a derivation inline: it shows a
table (HTML in JupyterLab, plain text everywhere else) and raises ``AssertionError``
when any row differs by more than ``atol + rtol * |expected|``. The text is stable
from run to run (errors are shown in coarse buckets), so nbval can compare it.

``gradcheck`` runs a function through torch autograd in float64 and compares the
gradients it finds with gradients computed by hand.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable, Sequence

import torch


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    return torch.as_tensor(value, dtype=torch.float64)


def _format_values(t: torch.Tensor, max_numbers: int = 6) -> str:
    """Small tensors as their numbers (5 significant digits), large ones as a shape."""
    if t.numel() == 0:
        return "[]"
    if t.numel() > max_numbers:
        return f"tensor of shape {tuple(t.shape)}"
    numbers = ", ".join(_format_number(v) for v in t.flatten().tolist())
    return numbers if t.dim() == 0 else f"[{numbers}]"


def _format_number(v: float) -> str:
    text = f"{v:.5g}"
    return "0" if text == "-0" else text


def _format_error(err: float) -> str:
    """Coarse buckets, so that float noise does not change the printed text."""
    if err < 1e-12:  # exact zero included: a zero on one CPU can be 1e-17 on another
        return "< 1e-12"
    if err < 1e-9:
        return "< 1e-9"
    if err < 1e-6:
        return "< 1e-6"
    return f"{err:.1e}"


@dataclass
class Row:
    label: str
    expected: torch.Tensor
    actual: torch.Tensor
    error: float  # max absolute difference (inf where the shapes differ)
    ok: bool


#: A row's look in the lab, by whether it matches: a see-through green or red over whatever the
#: theme's background is, and the theme's own text colour (JupyterLab's CSS variable; where
#: it is not defined the colour is inherited), so the table reads in light and dark themes.
ROW_STYLE = {
    True: "background:rgba(76,175,80,0.2);color:var(--jp-content-font-color1)",
    False: "background:rgba(244,67,54,0.25);color:var(--jp-content-font-color1)",
}


class CheckTable:
    """The result of :func:`compare`: one row per checked quantity."""

    columns = ("quantity", "hand", "computed", "max |error|", "pass")

    def __init__(self, rows: list[Row], atol: float, rtol: float):
        self.rows, self.atol, self.rtol = rows, atol, rtol

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def _cells(self) -> list[tuple[str, ...]]:
        cells = []
        for r in self.rows:
            if r.expected.shape != r.actual.shape:
                error = f"shape {tuple(r.expected.shape)} vs {tuple(r.actual.shape)}"
            else:
                error = _format_error(r.error)
            cells.append((r.label, _format_values(r.expected), _format_values(r.actual),
                          error, "yes" if r.ok else "NO"))
        return cells

    def __repr__(self) -> str:
        cells = [self.columns, *self._cells()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        passed = sum(r.ok for r in self.rows)
        lines.append(f"{passed}/{len(self.rows)} match (atol={self.atol:g}, rtol={self.rtol:g})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for cells, r in zip(self._cells(), self.rows):
            tds = "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in cells)
            body.append(f"<tr style='{ROW_STYLE[r.ok]}'>{tds}</tr>")
        passed = sum(r.ok for r in self.rows)
        caption = f"{passed}/{len(self.rows)} match (atol={self.atol:g}, rtol={self.rtol:g})"
        return (f"<table><caption style='caption-side:bottom'>{caption}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _compare_one(label: str, expected, actual, atol: float, rtol: float) -> Row:
    e, a = _as_tensor(expected), _as_tensor(actual)
    if e.shape != a.shape:
        return Row(label, e, a, float("inf"), False)
    if e.numel() == 0:
        return Row(label, e, a, 0.0, True)
    diff = (e - a).abs()
    error = diff.max().item()
    ok = bool((diff <= atol + rtol * e.abs()).all()) and not bool(torch.isnan(a).any() ^ torch.isnan(e).any())
    return Row(label, e, a, error, ok)


def compare(expected, actual, labels: Sequence[str] | None = None,
            atol: float = 1e-6, rtol: float = 1e-5) -> CheckTable:
    r"""Check computed values against expected (hand-worked) ones and show the table.

    With ``labels`` given, ``expected`` and ``actual`` are sequences with one entry
    (a number, list or tensor) per label; without, each is a single entry. A row
    passes where every element satisfies $|e - a| \le \mathrm{atol} + \mathrm{rtol}\,|e|$
    and the shapes agree. Raises ``AssertionError`` (with the table in its message)
    on any mismatch; otherwise returns the table, which the notebook displays.
    """
    if labels is None:
        expected, actual, labels = [expected], [actual], ["value"]
    else:
        labels = list(labels)
        if not (len(labels) == len(expected) == len(actual)):
            raise ValueError(f"compare needs one expected and one actual value per label: got "
                             f"{len(labels)} labels, {len(expected)} expected, {len(actual)} actual")
    if atol < 0 or rtol < 0:
        raise ValueError(f"atol and rtol must be non-negative, got atol={atol}, rtol={rtol}")
    rows = [_compare_one(str(l), e, a, atol, rtol) for l, e, a in zip(labels, expected, actual)]
    table = CheckTable(rows, atol, rtol)
    if not table.ok:
        _display_if_interactive(table)
        failed = ", ".join(r.label for r in rows if not r.ok)
        raise AssertionError(f"mismatch in {failed}:\n{table!r}")
    return table


def _display_if_interactive(table: CheckTable) -> None:
    """In a notebook, show the failing table before the traceback."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with jupyterlab
        return
    if get_ipython() is not None:
        display(table)


def gradcheck(fn: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor],
              grads: Sequence[torch.Tensor], grad_output: torch.Tensor | None = None,
              labels: Sequence[str] | None = None,
              atol: float = 1e-10, rtol: float = 1e-10) -> CheckTable:
    r"""Compare hand-computed gradients with torch autograd, in float64.

    ``fn(*inputs)`` is evaluated on float64 copies of ``inputs`` that require grad;
    autograd then back-propagates ``grad_output`` (the gradient of the objective
    with respect to ``fn``'s output; ones for a scalar output when omitted) and the
    gradient it finds for each input is compared with ``grads`` by :func:`compare`.
    """
    if len(grads) != len(inputs):
        raise ValueError(f"gradcheck needs one gradient per input: got {len(inputs)} inputs, "
                         f"{len(grads)} gradients")
    leaves = [_as_tensor(x).clone().requires_grad_(True) for x in inputs]
    with torch.enable_grad():
        out = fn(*leaves)
        if grad_output is None:
            if out.numel() != 1:
                raise ValueError(f"fn returned shape {tuple(out.shape)}: pass grad_output "
                                 "(dJ/d(output)) for a non-scalar output")
            grad_output = torch.ones_like(out)
        grad_output = _as_tensor(grad_output)
        if grad_output.shape != out.shape:
            raise ValueError(f"grad_output has shape {tuple(grad_output.shape)}, but fn returned "
                             f"shape {tuple(out.shape)}")
        reference = torch.autograd.grad(out, leaves, grad_output, allow_unused=True)
    reference = [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, reference)]
    if labels is None:
        labels = [f"d input {i}" for i in range(len(inputs))]
    return compare(reference, list(grads), labels=labels, atol=atol, rtol=rtol)
