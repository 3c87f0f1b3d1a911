"""``show_source``: the notebooks display library code instead of repeating it."""
from __future__ import annotations

import inspect
import textwrap


class Source:
    """Source code that shows highlighted in JupyterLab and as plain text elsewhere."""

    def __init__(self, text: str, name: str):
        self.text, self.name = text, name

    def __repr__(self) -> str:
        return self.text.rstrip("\n")

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        formatter = HtmlFormatter(noclasses=True, nobackground=True)
        return highlight(self.text, PythonLexer(), formatter)


def show_source(obj) -> Source:
    """The source of a scratchlib function, class or method, for display in a notebook."""
    try:
        text = inspect.getsource(obj)
    except (TypeError, OSError) as error:
        raise TypeError(f"show_source needs a function, class, method or module defined in "
                        f"Python source, got {obj!r}") from error
    # methods come indented as in their class; show them flush left
    return Source(textwrap.dedent(text), getattr(obj, "__qualname__", getattr(obj, "__name__", "source")))
