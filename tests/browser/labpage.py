"""Driving one notebook through the JupyterLab UI in a real browser, and reading what it shows.

Cells are run the way a student runs them (the Run menu); what the test asserts on is read
from the page: the DOM for what is visible (images, widget controls), and the notebook model
behind it (window.jupyterapp, exposed by the server's expose_app_in_browser) for what the DOM
cannot tell apart, e.g. an exception's traceback from a warning (both are red text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the chromium_path fixture skips (or fails) with the reason
    PlaywrightTimeout = TimeoutError

# The open notebook as plain data: the kernel's status and, per cell, its outputs as the
# model holds them plus what the page shows of them.
STATE_JS = r"""() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext || !panel.content.widgets) return null;
  const session = panel.sessionContext.session;
  const kernel = session && session.kernel;
  const cells = panel.content.widgets.map((cell, index) => {
    const m = cell.model;
    const info = {index, type: m.type, source: m.sharedModel.getSource()};
    if (m.type !== 'code') return info;
    info.count = m.executionCount;
    const prompt = cell.promptNode ? cell.promptNode.textContent : '';
    info.pending = prompt.includes('*') || m.executionState === 'running';
    info.outputs = m.outputs.toJSON().map(o => ({
      type: o.output_type,
      name: o.name || null,
      text: (o.output_type === 'stream' ? [].concat(o.text).join('')
             : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : '').slice(0, 3000),
      mimes: Object.keys(o.data || {}),
    }));
    const area = cell.node.querySelector('.jp-OutputArea');
    const imgs = area ? [...area.querySelectorAll('img')] : [];
    info.images = imgs.length;
    info.loaded_images = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
    info.image_srcs = imgs.map(i => i.src);
    info.widgets = area ? area.querySelectorAll('.jupyter-widgets').length : 0;
    info.sliders = area ? area.querySelectorAll('.widget-slider').length : 0;
    info.widget_text = area ? [...area.querySelectorAll('.jp-OutputArea-output')]
        .map(n => n.innerText).filter(t => /Error displaying widget|Loading widget/.test(t)) : [];
    return info;
  });
  return {kernel: kernel ? kernel.status : null, path: panel.context.path, cells,
          restarts: panel.__kernelRestarts || 0};
}"""

# Count the kernel's deaths and restarts from now on (a crashed kernel comes back idle, with
# the rest of the cells unrun: without this the test would wait for them until its timeout).
WATCH_JS = r"""() => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.__kernelRestarts = 0;
  panel.sessionContext.statusChanged.connect((_, status) => {
    if (['restarting', 'autorestarting', 'dead'].includes(status)) panel.__kernelRestarts += 1;
  });
}"""

# True once Run All has finished: the kernel is idle, no cell waits ([*]), and every code cell
# has run, or one raised (JupyterLab then stops and leaves the rest unrun); or the kernel died
# (and maybe restarted).
DONE_JS = (
    "() => { const s = ("
    + STATE_JS
    + r""")();
  if (s && (s.kernel === 'dead' || (s.restarts && s.kernel === 'idle'))) return true;
  if (!s || s.kernel !== 'idle') return false;
  const code = s.cells.filter(c => c.type === 'code' && c.source.trim());
  if (code.some(c => c.pending)) return false;
  if (code.some(c => c.outputs.some(o => o.type === 'error'))) return true;
  return code.every(c => c.count !== null);
}"""
)

READY_JS = "(path) => { const s = (" + STATE_JS + ")(); return !!s && s.path === path && s.kernel === 'idle'; }"

CLEARED_JS = (
    "() => { const s = ("
    + STATE_JS
    + r""")();
  return !!s && s.cells.every(c => c.type !== 'code' || (c.count === null && c.outputs.length === 0)); }"""
)

SETTLED_JS = r"""() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return false;
  const imgs = [...nb.querySelectorAll('.jp-OutputArea img')];
  const loading = [...nb.querySelectorAll('.jp-OutputArea-output')].some(n => /Loading widget/.test(n.innerText));
  return !loading && imgs.every(i => i.complete);
}"""


class SliderDidNotMove(AssertionError):
    pass


class PlotDidNotChange(AssertionError):
    pass


@dataclass
class Cell:
    index: int
    type: str
    source: str
    count: int | None = None
    pending: bool = False
    outputs: list = field(default_factory=list)
    images: int = 0
    loaded_images: int = 0
    image_srcs: list = field(default_factory=list)
    widgets: int = 0
    sliders: int = 0
    widget_text: list = field(default_factory=list)

    def head(self) -> str:
        first = self.source.strip().splitlines()[0] if self.source.strip() else ""
        return f"cell {self.index} ({first[:60]!r})"


def state(page) -> tuple[str | None, list[Cell]]:
    """The kernel's status ("dead" or "restarted" if it died since Run All) and the cells."""
    s = page.evaluate(STATE_JS)
    kernel = "restarted" if s["restarts"] and s["kernel"] != "dead" else s["kernel"]
    return kernel, [Cell(**c) for c in s["cells"]]


def menu(page, top: str, command: str) -> None:
    """Click a menu bar entry, then one of its items (by the JupyterLab command it runs)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    item = page.locator(f'.lm-Menu-item[data-command="{command}"]')
    item.wait_for(state="visible")
    item.click()


def open_notebook(page, url: str, path: str, timeout_ms: float) -> None:
    """Load JupyterLab at a notebook and wait for its kernel to be up and idle."""
    page.goto(url, timeout=timeout_ms)
    page.wait_for_function(READY_JS, arg=path, timeout=timeout_ms, polling=500)
    # the notebook gets the whole width (the screenshots show more of it)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")


def wait_idle(page, timeout_ms: float) -> None:
    """Wait until the kernel is idle and no cell is queued or running."""
    page.wait_for_function(
        "() => { const s = (" + STATE_JS + ")(); return !!s && s.kernel === 'idle' && !s.cells.some(c => c.pending); }",
        timeout=timeout_ms,
        polling=500,
    )


def run_all(page, timeout_ms: float) -> None:
    """Clear every output (so whatever shows afterwards comes from this run), then
    Run > Run All Cells, and wait until the kernel has finished."""
    menu(page, "Edit", "editmenu:clear-all")  # Clear Outputs of All Cells
    page.wait_for_function(CLEARED_JS, timeout=30_000, polling=200)
    page.evaluate(WATCH_JS)
    menu(page, "Run", "runmenu:run-all")  # Run All Cells
    page.wait_for_function(DONE_JS, timeout=timeout_ms, polling=500)
    # images decoded, widget views rendered
    page.wait_for_function(SETTLED_JS, timeout=60_000, polling=500)


def problems(cells: list[Cell], plot_cells: set[int]) -> list[str]:
    """What a student would see go wrong: errors and warnings (red output), cells that never
    ran, plot cells without a picture, pictures that do not load, widgets that do not render."""
    found = []
    raised = any(o["type"] == "error" for c in cells if c.type == "code" for o in c.outputs)
    for c in cells:
        if c.type != "code" or not c.source.strip():
            continue
        for o in c.outputs:
            if o["type"] == "error":
                found.append(f"{c.head()} raised {o['text']}")
            elif o["type"] == "stream" and o["name"] == "stderr":
                found.append(f"{c.head()} wrote to stderr: {o['text'].strip()[:500]}")
        if c.count is None and not raised:  # after an error, Run All stops: the error says it
            found.append(f"{c.head()} did not run")
        if c.index in plot_cells and c.loaded_images == 0:
            found.append(f"{c.head()} should show a plot but shows no image")
        if c.images != c.loaded_images:
            found.append(f"{c.head()}: {c.images - c.loaded_images} of {c.images} images did not load")
        widget_outputs = sum("application/vnd.jupyter.widget-view+json" in o["mimes"] for o in c.outputs)
        if widget_outputs and not c.widgets:
            found.append(f"{c.head()} has {widget_outputs} widget outputs but no widget rendered")
        for text in c.widget_text:
            found.append(f"{c.head()} shows {text.strip()[:200]!r}")
    return found


def move_slider_and_wait_for_new_plot(page, cell_index: int, timeout_ms: float) -> tuple[str, str]:
    """Drag the first ipywidgets slider in a cell's output with the mouse, as a student would,
    and wait for a new image in that output. Returns the slider's readout before and after;
    raises SliderDidNotMove or PlotDidNotChange (with the readouts) otherwise."""
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(cell_index)
    slider = cell.locator(".jp-OutputArea .widget-slider").first
    slider.scroll_into_view_if_needed()
    readout = slider.locator(".widget-readout")
    label = slider.locator(".widget-label").first.inner_text().strip() or "slider"
    before_value = readout.inner_text().strip()
    before_srcs = page.evaluate("(i) => (" + STATE_JS + ")().cells[i].image_srcs", cell_index)
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").first.bounding_box()
    hx, hy = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    # Drag towards the middle of the track (the ends are where a learning rate diverges or a
    # run gets long), or, from about the middle, a quarter of the track towards the low end.
    middle = track["x"] + track["width"] / 2
    target = middle if abs(hx - middle) > 0.15 * track["width"] else middle - 0.25 * track["width"]
    page.mouse.move(hx, hy)
    page.mouse.down()
    page.mouse.move(target, hy, steps=8)
    page.mouse.up()
    try:
        page.wait_for_function(
            "([el, v]) => el.innerText.trim() !== v", arg=[readout.element_handle(), before_value], timeout=30_000
        )
    except PlaywrightTimeout:
        raise SliderDidNotMove(f"dragging the slider {label!r} left its readout at {before_value}") from None
    after_value = readout.inner_text().strip()
    try:
        page.wait_for_function(
            "([i, old]) => { const s = ("
            + STATE_JS
            + r""")(); const c = s.cells[i];
               return s.kernel === 'idle' && c.loaded_images > 0 && c.loaded_images === c.images
                      && c.image_srcs.some(src => !old.includes(src)); }""",
            arg=[cell_index, before_srcs],
            timeout=timeout_ms,
            polling=500,
        )
    except PlaywrightTimeout:
        raise PlotDidNotChange(
            f"the slider {label!r} moved from {before_value} to {after_value}, but no new "
            f"plot appeared within {timeout_ms / 1000:.0f} s"
        ) from None
    wait_idle(page, timeout_ms)  # a drag can queue several redraws: let the last one finish
    page.wait_for_function(SETTLED_JS, timeout=60_000, polling=500)
    return before_value, after_value


# -- the theme ----------------------------------------------------------------------------------


def set_theme(page, theme: str, timeout_ms: float = 30_000) -> None:
    """Switch JupyterLab to `theme` ("JupyterLab Dark", "JupyterLab Light"), as the Settings >
    Theme menu does, and wait until the page has it."""
    page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    light = "true" if "Light" in theme else "false"
    page.wait_for_function(
        f"() => document.body.dataset.jpThemeLight === '{light}' && document.body.dataset.jpThemeName === {theme!r}",
        timeout=timeout_ms,
        polling=200,
    )


# The worst contrast (WCAG 2 ratio, 1 to 21) between a text and what lies behind it, over the
# elements matching a selector in the visible notebook's outputs: the text colour as computed,
# the background as the see-through layers of the element and its ancestors composed down to
# the first opaque one (a compare row is see-through green or red over the theme's background).
CONTRAST_JS = r"""(selector) => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => { const a = top[3] + bottom[3] * (1 - top[3]); if (!a) return [0, 0, 0, 0];
    return [0, 1, 2].map(i => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a).concat([a]); };
  const behind = el => { const layers = [];
    for (let n = el; n; n = n.parentElement) { const c = parse(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c); if (c[3] >= 1) break; }
    return layers.reduceRight((acc, c) => over(c, acc), [255, 255, 255, 1]); };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const els = [...nb.querySelectorAll(selector)].filter(e => e.textContent.trim());
  let worst = null;
  for (const e of els) {
    const bg = behind(e), fg = over(parse(getComputedStyle(e).color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (!worst || ratio < worst.ratio) worst = {ratio, text: e.textContent.trim().slice(0, 40),
                                               color: getComputedStyle(e).color,
                                               background: `rgb(${bg.slice(0, 3).map(Math.round)})`};
  }
  return {count: els.length, worst};
}"""


def worst_contrast(page, selector: str) -> dict:
    """{count, worst: {ratio, text, color, background}} over the outputs matching `selector`."""
    return page.evaluate(CONTRAST_JS, selector)
