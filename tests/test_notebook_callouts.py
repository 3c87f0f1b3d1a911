"""Every exercise a notebook introduces has its callout, of the course's one shape, with a hint.

The callout tells the student what to edit and how to check it, and `make check` prints the
hint from it (scratchlib.course.exercises.hint). Every notebook is checked.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# in two pieces: the student edition's leak check reads this file
REGION = re.compile(r"BEGIN " r"SOLUTION (\d+\.\d+):")


def notebook_path(number: int) -> Path:
    (path,) = ROOT.glob(f"notebooks/{number:02d}_*.ipynb")
    return path


def cell_sources(number: int) -> list[str]:
    cells = json.loads(notebook_path(number).read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells]


def exercise_regions(number: int) -> dict[str, Path]:
    """Exercise id -> the file that holds its solution region (library module or notebook)."""
    found = {}
    # the library, and the student's own tests (tests/test_my_layers.py: exercises of notebook 04)
    paths = [*sorted(ROOT.glob("scratchlib/**/*.py")), ROOT / "tests" / "test_my_layers.py"]
    texts = [(path, path.read_text(encoding="utf-8")) for path in paths]
    texts += [(notebook_path(number), source) for source in cell_sources(number)]  # not the outputs
    for path, text in texts:
        for exercise in REGION.findall(text):
            if exercise.split(".")[0] == str(number):
                found[exercise] = path
    return found


def callout(exercise: str) -> re.Pattern:
    check = (
        rf"check: `make check EX={re.escape(exercise)}` or `scratchlib\.exercises\.check\(\"{re.escape(exercise)}\"\)`"
    )
    # a library exercise names its module and function; a notebook one says which cell
    where = (
        r"(edit `(?P<file>[^`]+)`, `[\w.]+`|edit the [^·\n]*cell[^·\n]*|edit the training step [^·\n]*"
        r"|write your derivation in this cell, below)"
    )
    hint = r"\n\n<details><summary>Hint</summary>\n\n\S.*?\n\n</details>"
    return re.compile(rf"^> \*\*Exercise {re.escape(exercise)}\*\* · {where} · {check}{hint}", re.M | re.S)


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5, 6])
def test_every_exercise_has_a_callout_with_a_hint_before_it(number):
    cells = json.loads(notebook_path(number).read_text(encoding="utf-8"))["cells"]
    sources = cell_sources(number)
    regions = exercise_regions(number)
    assert len(regions) >= 5, f"found only {sorted(regions)} in notebook {number:02d} and scratchlib"
    for exercise, path in regions.items():
        hits = [
            (i, m)
            for i, (cell, text) in enumerate(zip(cells, sources))
            if cell["cell_type"] == "markdown"
            for m in [callout(exercise).search(text)]
            if m
        ]
        assert len(hits) == 1, f"exercise {exercise}: expected one callout with a hint, found {len(hits)}"
        index, match = hits[0]
        if match["file"]:  # a library exercise: the callout names the module that holds it
            assert (ROOT / match["file"]).resolve() == path.resolve(), (
                f"exercise {exercise}: the callout says {match['file']}, the region is in {path.relative_to(ROOT)}"
            )
        elif path.suffix == ".ipynb":  # a notebook exercise: the callout comes first, or is its cell
            region_cell = next(i for i, text in enumerate(sources) if f"BEGIN {'SOLUTION'} {exercise}:" in text)
            assert index <= region_cell, f"exercise {exercise}: the callout comes after the exercise"
