"""``show_source``: the notebooks display library code instead of repeating it."""

from __future__ import annotations

import inspect
import textwrap
from functools import cache
from typing import Any


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

        formatter = HtmlFormatter(noclasses=True, nobackground=True, style=_jupyter_theme_style())
        return highlight(self.text, PythonLexer(), formatter)


#: Token colours from JupyterLab's theme, the ones its own code editor uses, so that the
#: source reads in the light and the dark theme alike; after the comma, the light theme's
#: colour, for renderers without JupyterLab's CSS (nbviewer, GitHub).
THEME_COLOURS = {
    "Keyword": "bold var(--jp-mirror-editor-keyword-color,#008000)",
    "Name.Builtin": "var(--jp-mirror-editor-builtin-color,#008000)",
    "Name.Function": "var(--jp-mirror-editor-def-color,#0000ff)",
    "Name.Class": "bold var(--jp-mirror-editor-def-color,#0000ff)",
    "Name.Decorator": "var(--jp-mirror-editor-meta-color,#aa22ff)",
    "String": "var(--jp-mirror-editor-string-color,#ba2121)",
    "String.Doc": "italic var(--jp-mirror-editor-string-color,#ba2121)",
    "Number": "var(--jp-mirror-editor-number-color,#008800)",
    "Operator": "var(--jp-mirror-editor-operator-color,#7800c2)",
    "Operator.Word": "bold var(--jp-mirror-editor-keyword-color,#008000)",
    "Comment": "italic var(--jp-mirror-editor-comment-color,#408080)",
}


@cache
def _jupyter_theme_style():
    """A pygments style whose colours are THEME_COLOURS (plain text keeps the page's colour)."""
    from pygments.style import Style
    from pygments.token import string_to_tokentype

    return type(
        "JupyterThemeStyle",
        (Style,),
        {
            "background_color": "transparent",
            "styles": {string_to_tokentype(name): rule for name, rule in THEME_COLOURS.items()},
        },
    )


def show_source(obj: Any) -> Source:
    """The source of a scratchlib function, class or method, for display in a notebook."""
    try:
        text = inspect.getsource(obj)
    except (TypeError, OSError) as error:
        raise TypeError(
            f"show_source needs a function, class, method or module defined in Python source, got {obj!r}"
        ) from error
    # methods come indented as in their class; show them flush left
    return Source(textwrap.dedent(text), getattr(obj, "__qualname__", getattr(obj, "__name__", "source")))
