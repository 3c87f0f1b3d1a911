"""Outputs read in JupyterLab's light and dark themes: colours come from the theme's CSS variables."""

import re
from pathlib import Path

from nbval.plugin import get_sanitize_patterns

from scratchlib.course import check
from scratchlib.course.source import show_source

ROOT = Path(__file__).resolve().parents[1]


def colours(html: str) -> list[str]:
    """Every colour value set in ``html``'s inline styles (color and background)."""
    return re.findall(r"(?:color|background)\s*:\s*([^;'\"]+)", html)


def test_compare_rows_take_their_text_colour_from_the_theme_over_a_see_through_background():
    table = check.CheckTable(
        [check._compare_one("a", 1.0, 1.0, 1e-6, 0.0), check._compare_one("b", 2.0, 2.5, 1e-6, 0.0)], 1e-6, 0.0
    )
    assert [r.ok for r in table.rows] == [True, False]
    html = table._repr_html_()
    rows = re.findall(r"<tr style='([^']*)'>", html)
    assert rows == [check.ROW_STYLE[True], check.ROW_STYLE[False]]
    assert all("color:var(--jp-content-font-color1)" in r for r in rows)
    assert all(re.search(r"background:rgba\(\d+,\d+,\d+,0\.\d+\)", r) for r in rows)
    assert check.ROW_STYLE[True] != check.ROW_STYLE[False]
    for style in check.ROW_STYLE.values():  # no opaque colour a dark theme could not read
        assert "#" not in style


def test_show_source_colours_are_jupyterlab_editor_variables():
    html = show_source(check.compare)._repr_html_()
    found = colours(html)
    assert len(found) > 10
    assert all(c.strip().startswith("var(--jp-mirror-editor-") for c in found), set(found)
    assert "def" in re.sub(r"<[^>]+>", "", html)


def test_nbval_compares_the_html_without_its_styling():
    """The committed outputs' light colours and today's theme colours compare equal under
    tests/nbval_sanitize.cfg, so a change of look never fails nbval; the text still counts."""
    patterns = get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())

    def sanitize(s):
        for regex, replace in patterns:
            s = re.sub(regex, replace, s)
        return s

    old = (
        '<div class="highlight"><pre style="line-height: 125%;"><span></span><span style="color: #008000;'
        ' font-weight: bold">def</span><span style="color: #BBB"> </span><span style="color: #00F">f'
        "</span>(x):</pre></div>\n<tr style='background:#e6f4ea'><td style='text-align:left'>1</td></tr>"
    )
    new = (
        '<div class="highlight"><pre style="line-height: 125%;"><span></span><span style="color: '
        'var(--jp-mirror-editor-keyword-color,#008000); font-weight: bold">def</span> <span style="color: '
        'var(--jp-mirror-editor-def-color,#0000ff)">f</span>(x):</pre></div>\n'
        f"<tr style='{check.ROW_STYLE[True]}'><td style='text-align:left'>1</td></tr>"
    )
    assert sanitize(old) == sanitize(new) == ('<div class="highlight"><pre>def f(x):</pre></div>\n<tr><td>1</td></tr>')
    assert sanitize(new.replace(">1<", ">2<")) != sanitize(new)
