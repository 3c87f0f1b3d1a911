"""Retake docs/self_check.png: the self-check of an exercise done alone, as a student sees it in JupyterLab.

    PYTHONPATH=tools .venv/bin/python -m teacher.screenshot_self_check [OUT.png]

In a copy of the student edition (build/student: run `make student` first), exercise 4.4
(ReLU.forward) gets its solution line and nothing else; a cell that runs
``scratchlib.exercises.check("4.4")`` is put under 4.4's callout in notebook 04, JupyterLab runs
that cell in headless Chromium (tests/browser's helpers), and the page is saved with the callout
at the top. Needs Chromium, as `make test-browser` does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "04_full_library.ipynb"
SOLUTION = "self.output = torch.relu(self.x.output)"  # exercise 4.4, its one line


def student_copy(folder: Path) -> tuple[Path, int]:
    """A copy of the student edition with 4.4 done and a checking cell under its callout; the cell's index."""
    course = folder / "student"
    shutil.copytree(ROOT / "build" / "student", course)
    layers = course / "scratchlib/layers/activations.py"
    text, done = re.subn(r'raise ExerciseNotDone\("exercise 4\.4:[^\n]*', SOLUTION, layers.read_text())
    if done != 1:
        raise SystemExit(f"no stub of exercise 4.4 in {layers}: run make student first")
    layers.write_text(text)
    path = course / "notebooks" / NOTEBOOK
    nb = json.loads(path.read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if "**Exercise 4.4**" in "".join(c["source"]))
    check = ["import scratchlib\n", 'scratchlib.exercises.check("4.4")']
    cell: dict[str, object] = {
        "cell_type": "code",
        "execution_count": None,
        "id": "check44",
        "metadata": {},
        "outputs": [],
        "source": check,
    }
    nb["cells"].insert(at + 1, cell)
    path.write_text(json.dumps(nb, indent=1))
    return course, at + 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else ROOT / "docs" / "self_check.png").resolve()
    sys.path[:0] = [str(ROOT / "tests" / "browser"), str(ROOT / "tests")]
    import labpage  # type: ignore[import-not-found]
    from labconfig import find_chromium  # type: ignore[import-not-found]
    from labserver import LabServer  # type: ignore[import-not-found]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="self-check-shot-") as folder:
        course, cell = student_copy(Path(folder))
        os.environ["PYTHONPATH"] = str(course)  # the kernel imports the copy's scratchlib
        with LabServer(course / "notebooks", Path(folder) / "lab") as lab, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_chromium())
            page = browser.new_page(viewport={"width": 1280, "height": 1060})
            labpage.open_notebook(page, lab.lab_url(NOTEBOOK), NOTEBOOK, 180_000)
            notebook = "window.jupyterapp.shell.currentWidget.content"
            page.evaluate(f"(i) => {{ {notebook}.activeCellIndex = i; }}", cell)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
            time.sleep(2)  # the run starts
            labpage.wait_idle(page, 180_000)
            page.evaluate(f"(i) => {notebook}.widgets[i].node.scrollIntoView({{block: 'start'}})", cell - 1)
            time.sleep(1)  # the scroll settles
            page.screenshot(path=out)
            browser.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
