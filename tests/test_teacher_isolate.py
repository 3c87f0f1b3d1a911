"""How the grader reads a student's copy and writes the graded copies (tools/teacher/isolate.py).

Fast and in-process: a tiny course in a tmp folder (one library file with two exercises, a
notebook with a derivation and a code exercise), its student edition, and students' copies made
from it. tests/test_teacher.py grades whole copies end to end; these pin the reading and the
writing value by value, so that mutation testing of isolate.py runs in minutes.
"""

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import isolate  # noqa: E402
from teacher.edition import scan, write_edition  # noqa: E402

SOLUTION, DONE = "### BEGIN SOLUTION", "### END SOLUTION"
TWO = f'''"""Two exercises."""

import math


def double(x):
    {SOLUTION} 9.1: double
    return 2 * x
    {DONE}


def root(x):
    {SOLUTION} 9.2: root
    y = math.sqrt(x)
    return y
    {DONE}
'''
STUB_1 = 'raise ExerciseNotDone("exercise 9.1: double")'
STUB_2 = 'raise ExerciseNotDone("exercise 9.2: root")'
STUB_4 = 'raise ExerciseNotDone("exercise 9.4: halve")'
NB = "notebooks/09_toy.ipynb"
DERIVE = "Derive.\n\n<!-- BEGIN SOLUTION 9.3: derive -->\n$dX = 2G$\n<!-- END SOLUTION -->\n"
HALVE = f"a = 1\n{SOLUTION} 9.4: halve\nh = a / 2\n{DONE}\nprint(h)"


@pytest.fixture
def toy(tmp_path):
    """The course, scanned, and its student edition."""
    root = tmp_path / "course"
    (root / "scratchlib" / "course").mkdir(parents=True)
    (root / "scratchlib" / "two.py").write_text(TWO, encoding="utf-8")
    (root / "scratchlib" / "other.py").write_text("X = 1\n", encoding="utf-8")
    (root / "scratchlib" / "course" / "runner.py").write_text("class ExerciseNotDone(Exception):\n    pass\n")
    (root / "notebooks").mkdir()
    cells = [nbformat.v4.new_markdown_cell(DERIVE), nbformat.v4.new_code_cell(HALVE)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), root / NB)
    course = scan(root)
    edition = tmp_path / "edition"
    write_edition(course, edition)
    return course, edition


def student_copy(edition: Path, to: Path, two: dict[str, str], halve: str | None, derivation: str) -> Path:
    """A student's copy: the edition with these replacements in two.py and the notebook's cells."""
    os.makedirs(to / "scratchlib", exist_ok=True)
    text = (edition / "scratchlib" / "two.py").read_text(encoding="utf-8")
    for old, new in two.items():
        text = text.replace(old, new)
    (to / "scratchlib" / "two.py").write_text(text, encoding="utf-8")
    nb = nbformat.read(edition / NB, as_version=4)
    if halve is not None:
        nb.cells[1].source = nb.cells[1].source.replace(STUB_4, halve)
    nb.cells[0].source = derivation
    (to / "notebooks").mkdir()
    nbformat.write(nb, to / NB)
    return to


def links(out: Path) -> dict[str, bool]:
    """Every path under a graded copy, and whether it is a link into the edition."""
    return {p.relative_to(out).as_posix(): p.is_symlink() for p in sorted(out.rglob("*"))}


def test_a_copy_is_read_exercise_by_exercise_and_its_derivation_found_by_cell_id(toy, tmp_path):
    course, edition = toy
    me = student_copy(
        edition, tmp_path / "me", {STUB_1: "return x + x", STUB_2: "return x ** 0.5 +"}, "h = a * 0.5", "Mine: $2G$."
    )
    copy = isolate.read(course, me)
    two, cell = ("scratchlib/two.py", None), (NB, 1)
    assert copy.attempts == {
        "9.1": isolate.Attempt("own"),
        "9.2": isolate.Attempt("broken", "your code does not compile: invalid syntax (line 1 of your code)"),
        "9.4": isolate.Attempt("own"),
    }
    assert copy.stretches == {
        "9.1": isolate.Stretch(two, 7, 8, ["    return x + x\n"], ("9.1",)),
        "9.2": isolate.Stretch(two, 11, 12, ["    return x ** 0.5 +\n"], ("9.2",)),
        "9.4": isolate.Stretch(cell, 2, 3, ["h = a * 0.5\n"], ("9.4",)),
    }
    assert copy.imports == {}
    assert copy.edition[two] == (edition / "scratchlib" / "two.py").read_text(encoding="utf-8")
    assert copy.edition[cell] == nbformat.read(edition / NB, as_version=4).cells[1].source
    assert list(copy.edition) == [two, cell]
    assert isolate.derivation_text(course, me, "9.3") == "Mine: $2G$."
    assert isolate.derivation_text(course, me, "9.4") == ""  # not a derivation

    # the derivation's cell found by its id wherever it moved; a cell without it gives ""
    nb = nbformat.read(me / NB, as_version=4)
    nb.cells.reverse()
    nbformat.write(nb, me / NB)
    assert isolate.derivation_text(course, me, "9.3") == "Mine: $2G$."
    assert isolate.read(course, me).attempts["9.4"] == isolate.Attempt("own")  # the code cell by id too
    nb.cells[1].id = "other"
    nbformat.write(nb, me / NB)
    assert isolate.derivation_text(course, me, "9.3") == ""


def test_a_missing_or_unreadable_file_or_cell_is_missing(toy, tmp_path):
    course, edition = toy
    missing = {"9.1": "missing", "9.2": "missing", "9.4": "missing"}
    empty = tmp_path / "empty"
    empty.mkdir()
    copy = isolate.read(course, empty)
    assert {e: a.state for e, a in copy.attempts.items()} == missing
    assert isolate.derivation_text(course, empty, "9.3") == ""

    bad = student_copy(edition, tmp_path / "bad", {}, None, "")
    (bad / "scratchlib" / "two.py").write_bytes(b"\xff\xfe not utf-8")
    (bad / NB).write_text("{not json", encoding="utf-8")
    assert {e: a.state for e, a in isolate.read(course, bad).attempts.items()} == missing
    assert isolate.derivation_text(course, bad, "9.3") == ""
    (bad / "scratchlib" / "two.py").unlink()
    (bad / "scratchlib" / "two.py").mkdir()  # a folder in the file's place
    assert isolate.read(course, bad).attempts["9.1"].state == "missing"

    # no cell with the course cell's id: the cell at its index if it is code, else missing
    nb = nbformat.read(edition / NB, as_version=4)
    for c in nb.cells:
        c.id = "x" + c.id
    nbformat.write(nb, bad / NB)
    assert isolate.read(course, bad).attempts["9.4"].state == "stub"
    nb.cells.reverse()
    nbformat.write(nb, bad / NB)
    assert isolate.read(course, bad).attempts["9.4"].state == "missing"
    nb.cells = nb.cells[:1]
    nbformat.write(nb, bad / NB)
    assert isolate.read(course, bad).attempts["9.4"].state == "missing"
    assert isolate._student_cell(None, 0, "x") is None


def test_a_graded_copy_holds_the_chosen_exercises_only_and_links_the_rest(toy, tmp_path):
    course, edition = toy
    me = student_copy(
        edition, tmp_path / "me", {STUB_1: "return x + x", STUB_2: "return x ** 0.5", "import math\n": ""}, "h = 0", ""
    )
    (me / "scratchlib" / "two.py").write_text(
        "import numpy as np\n" + (me / "scratchlib" / "two.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    copy = isolate.read(course, me)
    out = tmp_path / "graded"
    (out / "stale").mkdir(parents=True)  # an earlier copy there is replaced
    assert isolate.write_graded(copy, edition, out, {"9.1", "9.4", "9.9"}) == ["scratchlib/two.py"]
    assert links(out) == {
        "notebooks": True,
        "scratchlib": False,
        "scratchlib/course": True,
        "scratchlib/other.py": True,
        "scratchlib/two.py": False,
    }
    assert os.readlink(out / "scratchlib" / "other.py") == str(edition / "scratchlib" / "other.py")
    text = (edition / "scratchlib" / "two.py").read_text(encoding="utf-8")
    graded = (out / "scratchlib" / "two.py").read_text(encoding="utf-8")
    # the added import is kept, the removed one stays the edition's, 9.2 stays a stub
    assert graded == "import numpy as np\n" + text.replace(STUB_1, "return x + x")

    assert isolate.write_graded(copy, edition, out, {"9.1", "9.4"}, notebooks=True) == [NB, "scratchlib/two.py"]
    assert links(out)["notebooks"] is False and links(out)[NB] is False
    nb = json.loads((out / NB).read_text(encoding="utf-8"))
    ours = json.loads((edition / NB).read_text(encoding="utf-8"))
    assert nb["cells"][0] == ours["cells"][0]
    assert nb["cells"][1]["source"] == copy.edition[(NB, 1)].replace(STUB_4, "h = 0")

    assert isolate.write_graded(copy, edition, out, set()) == []
    assert links(out) == {"notebooks": True, "scratchlib": True}


def test_a_students_test_runs_against_the_versions_of_the_layer_it_is_given(toy, tmp_path):
    course, edition = toy
    me = student_copy(edition, tmp_path / "me", {STUB_1: "return x + x"}, None, "")
    (me / "scratchlib" / "two.py").write_text(
        "import numpy as np\n" + (me / "scratchlib" / "two.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    copy = isolate.read(course, me)
    text = (edition / "scratchlib" / "two.py").read_text(encoding="utf-8")
    out = tmp_path / "variant"
    (out / "stale").mkdir(parents=True)
    code = {"9.2": ["y = 3", "", "return y"]}
    assert isolate.write_variant(course, copy, edition, out, "9.1", code) == ["scratchlib/two.py"]
    assert links(out) == {
        "notebooks": True,
        "scratchlib": False,
        "scratchlib/course": True,
        "scratchlib/other.py": True,
        "scratchlib/two.py": False,
    }
    mine = text.replace(STUB_1, "return x + x").replace(STUB_2, "y = 3\n\n    return y")
    assert (out / "scratchlib" / "two.py").read_text(encoding="utf-8") == "import numpy as np\n" + mine

    # a test the student has not got (nor its file): the layer's versions in the edition's text
    copy.stretches.clear()
    copy.edition.clear()
    assert isolate.write_variant(course, copy, edition, out, "9.1", {"9.1": ["return 0"]}) == ["scratchlib/two.py"]
    assert (out / "scratchlib" / "two.py").read_text(encoding="utf-8") == text.replace(STUB_1, "return 0")
    assert isolate.write_variant(course, copy, edition, out, "9.1", {"9.4": ["h = 0"]}) == []
    assert links(out) == {"notebooks": True, "scratchlib": True}
