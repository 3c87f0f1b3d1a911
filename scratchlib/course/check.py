"""Hand-worked numbers against computed ones, as a table that also fails loudly.

``compare`` is what every notebook uses to check a derivation inline: it shows a
table (HTML in JupyterLab, plain text everywhere else) and raises ``AssertionError``
when any row differs by more than ``atol + rtol * |expected|``. The text is stable
from run to run (errors are shown in coarse buckets), so nbval can compare it.

``gradcheck`` runs a function through torch autograd in float64 and compares the
gradients it finds with gradients computed by hand; ``numgrad`` finds them without any
autograd, by central differences, the first check of a derivative in notebook 03.

A prediction exercise hands ``compare`` the student's numbers with ``exercise="k.m"``: left
at ``...`` they raise "exercise k.m is not done yet", and wrong ones are named entry by entry
with how they are wrong (sign, factor, shape, transposed) but never the computed value: the
full table appears once every entry matches, so a second try is not a copy of the first.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from . import validate
from .runner import ExerciseNotDone
from .text import number_text, tensor_text


def _as_tensor(value: object) -> torch.Tensor:
    """``value`` as a float64 CPU tensor: a tensor, the engine's Tensor (its ``.data``), numbers, lists.

    A complex number with a non-zero imaginary part is refused: converting it would drop that part.
    """
    data = getattr(value, "data", None)
    if not isinstance(value, torch.Tensor) and isinstance(data, torch.Tensor):
        value = data  # the engine's Tensor (notebook 06), known by its torch tensor: this floor imports no engine
    if not isinstance(value, torch.Tensor):
        try:  # complex128 holds every real number as float64 does, and complex ones too
            value = torch.as_tensor(value, dtype=torch.complex128)
        except (TypeError, ValueError, RuntimeError) as error:  # a string, a ragged list, an object
            raise TypeError(
                f"compare: values must be numbers, lists of numbers or tensors, got {value!r} ({error})"
            ) from None
    if value.is_complex():
        if bool(value.imag.any()):
            shown = tensor_text(value) if value.numel() <= 4 else f"dtype {value.dtype}, shape {tuple(value.shape)}"
            raise TypeError(
                f"compare: complex numbers are not compared (got {shown}); "
                "compare the real and imaginary parts as two rows"
            )
        value = value.real
    return value.detach().to("cpu", torch.float64)


def _format_values(t: torch.Tensor, max_numbers: int = 6) -> str:
    """Small tensors as their numbers (5 significant digits), large ones as a shape."""
    return tensor_text(t, digits=5, limit=max_numbers, big="tensor of shape {shape}")


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
    wrong: tuple[str, ...] = ()  # one line per entry outside the tolerance, "label[i, j]: ..."


#: A row's look in the lab, by whether it matches: a see-through green or red over whatever the
#: theme's background is, and the theme's own text colour (JupyterLab's CSS variable; where
#: it is not defined the colour is inherited), so the table reads in light and dark themes.
ROW_STYLE = {
    True: "background:rgba(76,175,80,0.2);color:var(--jp-content-font-color1)",
    False: "background:rgba(244,67,54,0.25);color:var(--jp-content-font-color1)",
}


class CheckTable:
    """The result of :func:`compare`: one row per checked quantity."""

    def __init__(self, rows: list[Row], atol: float, rtol: float, source: str = "hand"):
        self.rows, self.atol, self.rtol = rows, atol, rtol
        # the expected column is titled by where its numbers come from: hand, torch, target, ...
        self.columns = ("quantity", source, "computed", "max |error|", "pass")

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def _cells(self) -> list[tuple[str, ...]]:
        cells: list[tuple[str, ...]] = []
        for r in self.rows:
            if r.expected.shape != r.actual.shape:
                error = f"shape {tuple(r.expected.shape)} vs {tuple(r.actual.shape)}"
            else:
                error = _format_error(r.error)
            cells.append(
                (r.label, _format_values(r.expected), _format_values(r.actual), error, "yes" if r.ok else "NO")
            )
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
        return (
            f"<table><caption style='caption-side:bottom'>{caption}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )


#: At most this many wrong entries are spelled out per row; the rest are counted.
MAX_WRONG_SHOWN = 8


def _compare_one(label: str, expected: object, actual: object, atol: float, rtol: float, source: str = "hand") -> Row:
    e, a = _as_tensor(expected), _as_tensor(actual)
    if e.shape != a.shape:
        return Row(
            label,
            e,
            a,
            float("inf"),
            False,
            (f"{label}: {source} has shape {tuple(e.shape)}, computed has shape {tuple(a.shape)}",),
        )
    if e.numel() == 0:
        return Row(label, e, a, 0.0, True)
    # equal entries are right (an inf where that inf is expected, NaN where NaN is); otherwise only a
    # finite expected value has a tolerance (rtol * |inf| would let inf pass against any number)
    same = (e == a) | (torch.isnan(e) & torch.isnan(a))
    diff = torch.where(same, 0.0, (e - a).abs())
    bad = ~(same | (torch.isfinite(e) & (diff <= atol + rtol * e.abs())))
    error = diff.nan_to_num(nan=float("inf"), posinf=float("inf")).max().item()
    return Row(label, e, a, error, not bool(bad.any()), _wrong_entries(label, e, a, bad, source))


def _wrong_entries(label: str, e: torch.Tensor, a: torch.Tensor, bad: torch.Tensor, source: str) -> tuple[str, ...]:
    """'label[i, j]: hand 0.5, computed 0.25, off by 0.25' for each wrong entry (the first few)."""
    where = bad.nonzero().tolist()
    lines = []
    for index in where[:MAX_WRONG_SHOWN]:
        name = f"{label}[{', '.join(map(str, index))}]" if index else label
        ev, av = e[tuple(index)].item(), a[tuple(index)].item()
        lines.append(
            f"{name}: {source} {number_text(ev, 5)}, computed {number_text(av, 5)}, "
            f"off by {number_text(abs(ev - av), 5)}"
        )
    if len(where) > MAX_WRONG_SHOWN:
        lines.append(f"{label}: and {len(where) - MAX_WRONG_SHOWN} more wrong entries")
    return tuple(lines)


#: The factors a wrong answer is recognised to be off by (the usual slips: a 2 from a square,
#: a batch size B, a mean over a few entries); larger ones read as plain "wrong".
FACTORS = tuple(range(2, 101))


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= 1e-6 + 1e-4 * abs(y)


def _how_wrong(ev: float, av: float) -> str:
    """How the student's ``ev`` differs from the right ``av``, in words that do not give ``av``."""
    if ev != ev or av != av or abs(ev) == float("inf") or abs(av) == float("inf"):
        return "wrong"
    if av != 0 and _close(ev, -av):
        return "sign flipped"
    if av != 0 and ev != 0:
        ratio = ev / av
        sign = ", and its sign is flipped" if ratio < 0 else ""
        for k in FACTORS:
            if _close(abs(ratio), k):
                return f"off by a factor of {k} (yours is {k} times too large{sign})"
            if _close(abs(ratio), 1 / k):
                return f"off by a factor of 1/{k} (yours is {k} times too small{sign})"
    return "wrong"


def _hidden_wrong_entries(label: str, e: torch.Tensor, a: torch.Tensor, atol: float, rtol: float) -> tuple[str, ...]:
    """Exercise mode: each wrong entry and how it is wrong, with no computed value in the text."""
    if e.shape != a.shape:
        if e.dim() == 2 and e.T.shape == a.shape and bool(torch.allclose(e.T, a, atol=atol, rtol=rtol)):
            return (f"{label}: transposed: your {tuple(e.shape)} answer is the transpose of the right one",)
        return (f"{label}: wrong shape: yours is {tuple(e.shape)}, the right one is {tuple(a.shape)}",)
    same = (e == a) | (torch.isnan(e) & torch.isnan(a))
    bad = ~(same | (torch.isfinite(e) & ((e - a).abs() <= atol + rtol * e.abs())))
    where = bad.nonzero().tolist()
    lines = []
    for index in where[:MAX_WRONG_SHOWN]:
        name = f"{label}[{', '.join(map(str, index))}]" if index else label
        lines.append(f"{name}: {_how_wrong(e[tuple(index)].item(), a[tuple(index)].item())}")
    if len(where) > MAX_WRONG_SHOWN:
        lines.append(f"{label}: and {len(where) - MAX_WRONG_SHOWN} more wrong entries")
    right = e.numel() - len(where)
    if right:
        lines.append(f"{label}: {right} of {e.numel()} entries are right")
    return tuple(lines)


def _holds_ellipsis(value: object) -> bool:
    """True for ``...`` itself or a list/tuple with ``...`` somewhere inside (an unfinished exercise)."""
    if value is Ellipsis:
        return True
    return isinstance(value, (list, tuple)) and any(_holds_ellipsis(v) for v in value)


def compare(
    expected: Any,
    actual: Any,
    labels: Sequence[str] | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    source: str = "hand",
    exercise: str | None = None,
) -> CheckTable:
    r"""Check computed values against expected ones and show the table.

    With ``labels`` given, ``expected`` and ``actual`` are sequences with one entry
    (a number, list or tensor) per label; without, each is a single entry. A row
    passes where every element satisfies $|e - a| \le \mathrm{atol} + \mathrm{rtol}\,|e|$
    and the shapes agree. ``source`` says where the expected numbers come from
    (``"hand"``, ``"torch"``, ``"target"``, ...) and titles their column.

    With ``exercise="k.m"`` the expected values are a student's answer to that exercise:
    an answer still ``...`` raises ``ExerciseNotDone("exercise k.m is not done yet: ...")``.
    Raises ``AssertionError`` on any mismatch, naming each wrong entry and by how much,
    with the table; otherwise returns the table, which the notebook displays. In exercise
    mode the mismatch names each wrong entry and how it is wrong (sign flipped, off by a
    factor, wrong shape, transposed) without the computed values and without the table.
    """
    if not isinstance(source, str) or not source:
        raise TypeError(f"compare: source must be a non-empty string such as 'hand' or 'torch', got {source!r}")
    if exercise is not None and not isinstance(exercise, str):
        raise TypeError(f"compare: exercise must be an id such as '3.6', got {exercise!r}")
    if _holds_ellipsis(expected):
        if exercise is not None:
            raise ExerciseNotDone(f"exercise {exercise} is not done yet: replace ... with your numbers")
        raise ValueError("compare: the expected values hold ... (Ellipsis): fill in the numbers")
    if labels is None:
        expected, actual, labels = [expected], [actual], ["value"]
    else:
        labels = list(labels)
        if not (len(labels) == len(expected) == len(actual)):
            raise ValueError(
                f"compare needs one expected and one actual value per label: got "
                f"{len(labels)} labels, {len(expected)} expected, {len(actual)} actual"
            )
    atol = validate.non_negative("compare", "atol", atol)
    rtol = validate.non_negative("compare", "rtol", rtol)
    rows = [_compare_one(str(label), e, a, atol, rtol, source) for label, e, a in zip(labels, expected, actual)]
    table = CheckTable(rows, atol, rtol, source)
    if not table.ok and exercise is not None:
        failed = ", ".join(r.label for r in rows if not r.ok)
        wrong = "\n".join(
            f"  {line}"
            for r in rows
            if not r.ok
            for line in _hidden_wrong_entries(r.label, r.expected, r.actual, atol, rtol)
        )
        raise AssertionError(
            f"exercise {exercise}: mismatch in {failed}:\n{wrong}\n"
            "(the right values are shown once every entry matches)"
        )
    if not table.ok:
        _display_if_interactive(table)
        failed = ", ".join(r.label for r in rows if not r.ok)
        whose = f"exercise {exercise}: " if exercise is not None else ""
        wrong = "\n".join(f"  {line}" for r in rows for line in r.wrong)
        raise AssertionError(f"{whose}mismatch in {failed}:\n{wrong}\n{table!r}")
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


def gradcheck(
    fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    grads: Sequence[torch.Tensor],
    grad_output: torch.Tensor | None = None,
    labels: Sequence[str] | None = None,
    atol: float = 1e-10,
    rtol: float = 1e-10,
    source: str = "hand",
) -> CheckTable:
    r"""Compare hand-computed gradients with torch autograd, in float64.

    ``fn(*inputs)`` is evaluated on float64 copies of ``inputs`` that require grad;
    autograd then back-propagates ``grad_output`` (the gradient of the objective
    with respect to ``fn``'s output; ones for a scalar output when omitted) and the
    gradient it finds for each input is compared with ``grads`` by :func:`compare`;
    ``source`` titles autograd's column (pass ``"torch"``).
    """
    if len(grads) != len(inputs):
        raise ValueError(f"gradcheck needs one gradient per input: got {len(inputs)} inputs, {len(grads)} gradients")
    leaves = [_as_tensor(x).clone().requires_grad_(True) for x in inputs]
    with torch.enable_grad():
        out = fn(*leaves)
        if grad_output is None:
            if out.numel() != 1:
                raise ValueError(
                    f"fn returned shape {tuple(out.shape)}: pass grad_output (dJ/d(output)) for a non-scalar output"
                )
            grad_output = torch.ones_like(out)
        grad_output = _as_tensor(grad_output)
        if grad_output.shape != out.shape:
            raise ValueError(
                f"grad_output has shape {tuple(grad_output.shape)}, but fn returned shape {tuple(out.shape)}"
            )
        reference = torch.autograd.grad(out, leaves, grad_output, allow_unused=True)
    # autograd gives None for an input fn does not use: its gradient is zero
    expected = [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, reference)]
    if labels is None:
        labels = [f"d input {i}" for i in range(len(inputs))]
    return compare(expected, list(grads), labels=labels, atol=atol, rtol=rtol, source=source)


def numgrad(
    f: Callable[..., torch.Tensor], *tensors: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    r"""The gradient of the scalar ``f(*tensors)`` by central differences, in float64.

    Each entry $a$ of each tensor is moved to $a \pm \varepsilon$ in turn, the others held,
    and $\partial f / \partial a \approx \big(f(a + \varepsilon) - f(a - \varepsilon)\big) / (2\varepsilon)$.
    The error is of order $\varepsilon^2$ (truncation) plus $10^{-16}/\varepsilon$ (rounding),
    about $10^{-10}$ at the default step. No autograd is involved: ``f`` may be any code.
    Returns one gradient per tensor, each of that tensor's shape: a tensor when one
    tensor is given, else a tuple.
    """
    eps = validate.positive("numgrad", "eps", eps)
    if not tensors:
        raise ValueError("numgrad: give at least one tensor to differentiate with respect to")
    points = [_as_tensor(t).clone() for t in tensors]

    def value() -> float:
        out = _as_tensor(f(*points))
        if out.numel() != 1:
            raise ValueError(f"numgrad: f must return one number, got shape {tuple(out.shape)}")
        return out.item()

    value()  # a non-scalar f fails here, before any work
    grads = []
    for point in points:
        grad = torch.zeros_like(point)
        flat, flat_grad = point.view(-1), grad.view(-1)
        for i in range(flat.numel()):
            kept = flat[i].item()
            flat[i] = kept + eps
            up = value()
            flat[i] = kept - eps
            down = value()
            flat[i] = kept
            flat_grad[i] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads[0] if len(grads) == 1 else tuple(grads)
