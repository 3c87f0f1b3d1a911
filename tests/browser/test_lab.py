"""The course as a student sees it: every notebook run through JupyterLab in a real Chromium.

nbval proves the kernel side; this proves the page. For each notebook: open it in JupyterLab,
clear its outputs, Run > Run All Cells, wait for the kernel to finish, then assert that no cell
shows an error (or any red stderr text), that every cell that plots (the committed notebook has
an image there) shows an image that loads, and that widgets render. In notebook 05 the widget
explorer must render its sliders, and dragging one must redraw its plot. A screenshot of each
notebook goes to build/screenshots/. Settings (the notebook folder, ...): tests/browser/labconfig.py.
"""

from __future__ import annotations

import json

import labpage
import pytest
from labconfig import NOTEBOOK_DIR, RUN_TIMEOUT_S, SCREENSHOT_DIR, VIEWPORT

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
EXPLORER = next((n for n in NOTEBOOKS if n.startswith("05")), None)
TIMEOUT_MS = RUN_TIMEOUT_S * 1000

# The explorer's page, kept open from its notebook's run for the slider test (one run, not two).
_kept: dict[str, object] = {}


def plot_cells(name: str) -> set[int]:
    """Indexes of the cells whose committed outputs hold an image: they must show one."""
    nb = json.loads((NOTEBOOK_DIR / name).read_text())
    return {
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
        and any(k.startswith("image/") for o in c.get("outputs", []) for k in o.get("data", {}))
    }


def run_in_lab(page, lab, name: str) -> list[labpage.Cell]:
    """Open a notebook in JupyterLab, run all its cells from the menu, return what it shows."""
    failure = None
    try:
        labpage.open_notebook(page, lab.lab_url(name), name, timeout_ms=180_000)
    except labpage.PlaywrightTimeout:
        failure = f"{name} did not open with an idle kernel within 180 s; JupyterLab's log:\n" + lab.log_tail()
    if failure is None:
        try:
            labpage.run_all(page, timeout_ms=TIMEOUT_MS)
        except labpage.PlaywrightTimeout:
            kernel, cells = labpage.state(page)
            code = [c for c in cells if c.type == "code" and c.source.strip()]
            busy = [c.head() for c in code if c.pending]
            unrun = [c.head() for c in code if c.count is None and not c.pending]
            failure = (
                f"{name}: Run All Cells did not finish within {RUN_TIMEOUT_S:.0f} s (kernel "
                f"{kernel}; queued or running: {busy or 'none'}; not run: {unrun or 'none'}; "
                "SCRATCHLIB_BROWSER_TIMEOUT sets the limit)"
            )
    if failure is None:
        # the widgets' views, rendering, send the kernel messages: it may be busy a moment (once seen in CI
        # for notebook 05's explorer, judged a death), so a kernel is judged once it is idle or 30 s have passed
        try:
            labpage.wait_idle(page, timeout_ms=30_000)
        except labpage.PlaywrightTimeout:
            pass
        kernel, cells = labpage.state(page)
        if kernel != "idle":
            unrun = [c.head() for c in cells if c.type == "code" and c.source.strip() and c.count is None]
            failure = (
                f"{name}: the kernel died or stayed busy after running the cells (now {kernel}; "
                f"not run: {unrun or 'none'}); "
                f"JupyterLab's log:\n{lab.log_tail(1500)}"
            )
    if failure:
        pytest.fail(failure, pytrace=False)
    return labpage.state(page)[1]


def fail_on(found: list[str], what: str) -> None:
    if found:
        pytest.fail(f"{what}:\n  " + "\n  ".join(found), pytrace=False)


def screenshot(page, name: str, scroll_to: tuple[str, ...] = ()) -> None:
    """Save the page as SCREENSHOT_DIR/name, scrolled to the first element matching one of
    `scroll_to` (tried in order). Never raises: a broken page must not hide the real failure."""
    try:
        for selector in scroll_to:
            target = page.locator(selector).first
            if target.count():
                target.scroll_into_view_if_needed()
                break
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT_DIR / name)
    except Exception as e:  # noqa: BLE001 (playwright's errors, a closed page, a full disk)
        print(f"no screenshot {name}: {e}")


@pytest.mark.parametrize(
    "name", NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason=f"no notebooks in {NOTEBOOK_DIR}"))]
)
def test_notebook_runs_clean_in_jupyterlab(name, lab, browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    keep = False
    try:
        try:
            cells = run_in_lab(page, lab, name)
        finally:
            # the first red output if any (a picture of what went wrong), else the first plot
            shown = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea"
            screenshot(
                page,
                name.replace(".ipynb", ".png"),
                scroll_to=(f'{shown} [data-mime-type="application/vnd.jupyter.stderr"]', f"{shown} img"),
            )
        fail_on(labpage.problems(cells, plot_cells(name)), f"{name} in JupyterLab")
        keep = name == EXPLORER
        if keep:
            _kept[name] = (context, page)
    finally:
        if not keep:
            context.close()
            lab.shutdown_kernels(name)  # not the others: the explorer's stays for its test


def test_widget_explorer_slider_redraws_the_plot(request):
    if EXPLORER is None:
        pytest.skip(
            f"notebook 05 does not exist yet in {NOTEBOOK_DIR}: "
            "the widget explorer check (a slider redraws the plot) did not run"
        )
    lab, browser = request.getfixturevalue("lab"), request.getfixturevalue("browser")
    context, page = _kept.pop(EXPLORER, (None, None))
    fresh = page is None
    if fresh:  # its run test was deselected or failed: run it here
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
    try:
        if fresh:
            run_in_lab(page, lab, EXPLORER)
        cells = labpage.state(page)[1]
        with_sliders = [c for c in cells if c.type == "code" and c.sliders]
        assert with_sliders, f"{EXPLORER}: no ipywidgets slider rendered in any cell's output"
        explorer = next((c for c in with_sliders if c.images), with_sliders[0])
        assert explorer.loaded_images, f"{EXPLORER}: the explorer in {explorer.head()} shows no plot"
        failure = None
        try:
            labpage.move_slider_and_wait_for_new_plot(page, explorer.index, min(TIMEOUT_MS, 300_000))
        except (labpage.SliderDidNotMove, labpage.PlotDidNotChange) as e:
            failure = f"{EXPLORER}, the explorer in {explorer.head()}: {e}"
        finally:
            screenshot(page, EXPLORER.replace(".ipynb", "-explorer.png"))
        if failure:
            pytest.fail(failure, pytrace=False)
        fail_on(labpage.problems(labpage.state(page)[1], plot_cells(EXPLORER)), f"{EXPLORER} after moving a slider")
    finally:
        context.close()
        lab.shutdown_kernels(EXPLORER)


# Last in this file on purpose: it switches the lab's theme (and back, at the end).
DARK = next((n for n in NOTEBOOKS if n.startswith("03")), None)
COMPARE_CELLS = ".jp-OutputArea-output tr[style] td"
SOURCE_TOKENS = ".jp-OutputArea-output .highlight pre, .jp-OutputArea-output .highlight pre span"


def test_compare_tables_and_source_read_in_jupyterlab_dark(lab, browser):
    """Notebook 03 (source listings and compare tables) run in JupyterLab Dark: every table cell
    and every source token stands out from what lies behind it (WCAG contrast at least 3, the
    level for large text; JupyterLab's own editor colours reach about 4 on its dark
    background), and screenshots of both land in the screenshot folder, named "...-dark-...".
    """
    if DARK is None:
        pytest.skip(f"notebook 03 does not exist in {NOTEBOOK_DIR}")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        labpage.open_notebook(page, lab.lab_url(DARK), DARK, timeout_ms=180_000)
        labpage.set_theme(page, "JupyterLab Dark")
        labpage.run_all(page, timeout_ms=TIMEOUT_MS)
        stem = DARK.replace(".ipynb", "")
        screenshot(page, f"{stem}-dark-source.png", scroll_to=(".jp-OutputArea-output .highlight",))
        screenshot(page, f"{stem}-dark-compare.png", scroll_to=(".jp-OutputArea-output tr[style]",))
        fail_on(labpage.problems(labpage.state(page)[1], plot_cells(DARK)), f"{DARK} in JupyterLab Dark")
        for what, selector in [("compare table cells", COMPARE_CELLS), ("show_source tokens", SOURCE_TOKENS)]:
            found = labpage.worst_contrast(page, selector)
            print(f"{what}: {found['count']} checked, worst contrast {found['worst']}")
            assert found["count"] > 0, f"{DARK}: no {what} shown"
            assert found["worst"]["ratio"] >= 3, f"{DARK} in JupyterLab Dark: {what} hard to read: {found['worst']}"
    finally:
        try:
            labpage.set_theme(page, "JupyterLab Light")
        except Exception as e:  # noqa: BLE001 (a page already broken: the failure above says why)
            print(f"could not switch back to the light theme: {e}")
        context.close()
        lab.shutdown_kernels(DARK)
