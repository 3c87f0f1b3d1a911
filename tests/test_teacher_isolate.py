"""How the grader reads a student's copy and writes the graded copies (tools/teacher/isolate.py).

Fast and in-process: a tiny course in a tmp folder (one library file with two exercises, a
notebook with a derivation and a code exercise), its student edition, and students' copies made
from it. tests/test_teacher.py grades whole copies end to end; these pin the reading and the
writing value by value, so that mutation testing of isolate.py runs in minutes.
"""

import ast
import json
import os
import signal
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import isolate  # noqa: E402
from teacher.edition import scan, write_edition  # noqa: E402
from teacher.markers import find_regions  # noqa: E402

SOLUTION, DONE = "### BEGIN SOLUTION", "### END SOLUTION"
TWO = f'''"""Two exercises (π: the files are UTF-8)."""

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
DERIVE = "Derive π.\n\n<!-- BEGIN SOLUTION 9.3: derive -->\n$dX = 2G$\n<!-- END SOLUTION -->\n"
HALVE = f"a = 1\n{SOLUTION} 9.4: halve\nh = a / 2\n{DONE}\nprint(h)"
MORE = "notebooks/10_more.ipynb"
TRIPLE = f"{SOLUTION} 9.7: triple\nt = 3\nu = t\n{DONE}\nprint(u)"
STUB_7 = 'raise ExerciseNotDone("exercise 9.7: triple")'


@pytest.fixture
def toy(tmp_path):
    """The course, scanned, and its student edition."""
    root = tmp_path / "course"
    (root / "scratchlib" / "course").mkdir(parents=True)
    (root / "scratchlib" / "two.py").write_text(TWO, encoding="utf-8")
    (root / "scratchlib" / "zz.py").write_text("X = 1\n", encoding="utf-8")
    (root / "scratchlib" / "aa.py").write_text(f"def one():\n    {SOLUTION} 9.0: one\n    return 1\n    {DONE}\n")
    (root / "scratchlib" / "course" / "runner.py").write_text("class ExerciseNotDone(Exception):\n    pass\n")
    (root / "notebooks").mkdir()
    cells = [nbformat.v4.new_markdown_cell(DERIVE), nbformat.v4.new_code_cell(HALVE)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), root / NB)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(TRIPLE)]), root / MORE)
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
    more = nbformat.read(edition / MORE, as_version=4)
    more.cells[0].source = more.cells[0].source.replace(STUB_7, "t = 3\nu = t * 1")
    nbformat.write(more, to / MORE)
    return to


def links(out: Path) -> dict[str, bool]:
    """Every path under a graded copy, and whether it is a link into the edition."""
    return {p.relative_to(out).as_posix(): p.is_symlink() for p in sorted(out.rglob("*"))}


# a graded copy that writes two.py only: its folder is real, everything else links into the edition
ONLY_TWO_WRITTEN = {
    "notebooks": True,
    "scratchlib": False,
    "scratchlib/aa.py": True,
    "scratchlib/course": True,
    "scratchlib/zz.py": True,
    "scratchlib/two.py": False,
}


def add_import(path: Path) -> None:
    """The student adds `import numpy as np` at the top of a file."""
    path.write_text("import numpy as np\n" + path.read_text(encoding="utf-8"), encoding="utf-8")


def test_a_copy_is_read_exercise_by_exercise_and_its_derivation_found_by_cell_id(toy, tmp_path, ascii_locale):
    course, edition = toy
    me = student_copy(
        edition, tmp_path / "me", {STUB_1: "return x + x", STUB_2: "return x ** 0.5 +"}, "h = a * 0.5", "Mine: $2G$."
    )
    copy = isolate.read(course, me)
    two, cell = ("scratchlib/two.py", None), (NB, 1)
    assert copy.attempts == {
        "9.0": isolate.Attempt("missing"),
        "9.1": isolate.Attempt("own"),
        "9.2": isolate.Attempt("broken", "your code does not compile: invalid syntax (line 1 of your code)"),
        "9.4": isolate.Attempt("own"),
        "9.7": isolate.Attempt("own"),
    }
    assert copy.stretches == {
        "9.1": isolate.Stretch(two, 7, 8, ["    return x + x\n"], ("9.1",)),
        "9.2": isolate.Stretch(two, 11, 12, ["    return x ** 0.5 +\n"], ("9.2",)),
        "9.4": isolate.Stretch(cell, 2, 3, ["h = a * 0.5\n"], ("9.4",)),
        "9.7": isolate.Stretch((MORE, 0), 1, 2, ["t = 3\n", "u = t * 1\n"], ("9.7",)),
    }
    assert copy.imports == {}
    assert copy.edition[two] == (edition / "scratchlib" / "two.py").read_text(encoding="utf-8")
    assert copy.edition[cell] == nbformat.read(edition / NB, as_version=4).cells[1].source
    assert list(copy.edition) == [("scratchlib/aa.py", None), two, cell, (MORE, 0)]
    assert isolate.derivation_text(course, me, "9.3") == "Mine: $2G$."
    assert isolate.derivation_text(course, me, "9.4") == ""  # not a derivation

    # graded copies (here in a folder not made yet) without added imports
    out = tmp_path / "graded" / "9.1"
    assert isolate.write_graded(copy, edition, out, {"9.1"}) == ["scratchlib/two.py"]
    text = copy.edition[two]
    assert (out / "scratchlib" / "two.py").read_text(encoding="utf-8") == text.replace(STUB_1, "return x + x")
    assert isolate.write_graded(copy, edition, out, {"9.4", "9.7"}, notebooks=True) == [NB, MORE]
    nb, more = (json.loads((out / p).read_text(encoding="utf-8")) for p in (NB, MORE))
    assert nb["cells"][0] == json.loads((edition / NB).read_text(encoding="utf-8"))["cells"][0]
    assert nb["cells"][1]["source"] == copy.edition[cell].replace(STUB_4, "h = a * 0.5")
    assert more["cells"][0]["source"] == copy.edition[(MORE, 0)].replace(STUB_7, "t = 3\nu = t * 1")
    out = tmp_path / "variant"
    assert isolate.write_variant(course, copy, edition, out, "9.1", {}) == ["scratchlib/two.py"]
    assert (out / "scratchlib" / "two.py").read_text(encoding="utf-8") == text.replace(STUB_1, "return x + x")

    # the derivation's cell found by its id wherever it moved; a cell without it gives ""
    nb = nbformat.read(me / NB, as_version=4)
    nb.cells.reverse()
    nbformat.write(nb, me / NB)
    assert isolate.derivation_text(course, me, "9.3") == "Mine: $2G$."
    assert isolate.read(course, me).attempts["9.4"] == isolate.Attempt("own")  # the code cell by id too
    nb.cells[1].id = "other"
    nbformat.write(nb, me / NB)
    assert isolate.derivation_text(course, me, "9.3") == ""


def test_a_missing_or_unreadable_file_or_cell_is_missing(toy, tmp_path, ascii_locale):
    course, edition = toy
    missing = {"9.0": "missing", "9.1": "missing", "9.2": "missing", "9.4": "missing", "9.7": "missing"}
    empty = tmp_path / "empty"
    empty.mkdir()
    copy = isolate.read(course, empty)
    assert {e: a.state for e, a in copy.attempts.items()} == missing
    assert isolate.derivation_text(course, empty, "9.3") == ""

    bad = student_copy(edition, tmp_path / "bad", {}, None, "")
    (bad / "scratchlib" / "two.py").write_bytes(b"\xff\xfe not utf-8")
    (bad / NB).write_text("{not json", encoding="utf-8")
    (bad / MORE).unlink()
    assert {e: a.state for e, a in isolate.read(course, bad).attempts.items()} == missing
    assert isolate.derivation_text(course, bad, "9.3") == ""
    (bad / "scratchlib" / "two.py").unlink()
    (bad / "scratchlib" / "two.py").mkdir()  # a folder in the file's place
    assert isolate.read(course, bad).attempts["9.1"].state == "missing"
    # named pipes in a file's and a notebook's place: reading either would wait forever (a stalled class)
    (bad / "scratchlib" / "two.py").rmdir()
    os.mkfifo(bad / "scratchlib" / "two.py")
    (bad / NB).unlink()
    os.mkfifo(bad / NB)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the grader waited on a named pipe"))
    signal.alarm(10)
    try:
        attempts = isolate.read(course, bad).attempts
    finally:
        signal.alarm(0)
    assert attempts["9.1"].state == attempts["9.4"].state == "missing"
    (bad / "scratchlib" / "two.py").unlink()
    (bad / NB).unlink()

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


def test_a_graded_copy_holds_the_chosen_exercises_only_and_links_the_rest(toy, tmp_path, ascii_locale):
    course, edition = toy
    me = student_copy(
        edition, tmp_path / "me", {STUB_1: "return x + x", STUB_2: "return x ** 0.5", "import math\n": ""}, "h = 0", ""
    )
    add_import(me / "scratchlib" / "two.py")
    nb = nbformat.read(me / NB, as_version=4)
    nb.cells[1].source = "import os\n" + nb.cells[1].source
    nbformat.write(nb, me / NB)
    copy = isolate.read(course, me)
    out = tmp_path / "graded"
    (out / "stale").mkdir(parents=True)  # an earlier copy there is replaced
    assert isolate.write_graded(copy, edition, out, {"9.1", "9.4", "9.9"}) == ["scratchlib/two.py"]
    assert links(out) == ONLY_TWO_WRITTEN
    assert os.readlink(out / "scratchlib" / "zz.py") == str(edition / "scratchlib" / "zz.py")
    text = (edition / "scratchlib" / "two.py").read_text(encoding="utf-8")
    graded = (out / "scratchlib" / "two.py").read_text(encoding="utf-8")
    # the added import is kept, the removed one stays the edition's, 9.2 stays a stub
    assert graded == "import numpy as np\n" + text.replace(STUB_1, "return x + x")

    assert isolate.write_graded(copy, edition, out, {"9.1", "9.4"}, notebooks=True) == [NB, "scratchlib/two.py"]
    assert links(out)["notebooks"] is False and links(out)[NB] is False
    nb = json.loads((out / NB).read_text(encoding="utf-8"))
    ours = json.loads((edition / NB).read_text(encoding="utf-8"))
    assert nb["cells"][0] == ours["cells"][0]
    assert nb["cells"][1]["source"] == "import os\n" + copy.edition[(NB, 1)].replace(STUB_4, "h = 0")

    assert isolate.write_graded(copy, edition, out, set()) == []
    assert links(out) == {"notebooks": True, "scratchlib": True}


def test_a_students_test_runs_against_the_versions_of_the_layer_it_is_given(toy, tmp_path, ascii_locale):
    course, edition = toy
    me = student_copy(edition, tmp_path / "me", {STUB_1: "return x + x"}, None, "")
    add_import(me / "scratchlib" / "two.py")
    copy = isolate.read(course, me)
    text = (edition / "scratchlib" / "two.py").read_text(encoding="utf-8")
    out = tmp_path / "variant"
    (out / "stale").mkdir(parents=True)
    code = {"9.2": ["y = 3", "", "return y"]}
    assert isolate.write_variant(course, copy, edition, out, "9.1", code) == ["scratchlib/two.py"]
    assert links(out) == ONLY_TWO_WRITTEN
    mine = text.replace(STUB_1, "return x + x").replace(STUB_2, "y = 3\n\n    return y")
    assert (out / "scratchlib" / "two.py").read_text(encoding="utf-8") == "import numpy as np\n" + mine

    # a test the student has not got (nor its file): the layer's versions in the edition's text
    copy.stretches.clear()
    copy.edition.clear()
    assert isolate.write_variant(course, copy, edition, out, "9.1", {"9.1": ["return 0"]}) == ["scratchlib/two.py"]
    assert (out / "scratchlib" / "two.py").read_text(encoding="utf-8") == text.replace(STUB_1, "return 0")
    assert isolate.write_variant(course, copy, edition, out, "9.1", {"9.4": ["h = 0"]}) == []
    assert links(out) == {"notebooks": True, "scratchlib": True}


# ---------------------------------------------------------------- one cell or file, line by line

IMPORT = "from scratchlib.course.runner import ExerciseNotDone  # what an exercise's stub raises\n"
CELL = f"{SOLUTION} 9.6: pair\nx = 1\ny = x\n{DONE}\nprint(x)\n"  # its edition: IMPORT, the stub, print(x)
STUB_6 = 'raise ExerciseNotDone("exercise 9.6: pair")\n'


def read_cell(course_text: str, mine: str | None, key=(NB, 2)) -> isolate.Copy:
    copy = isolate.Copy()
    isolate.read_text(key, course_text, find_regions(course_text, f"{NB} cell 2"), mine, copy)
    return copy


def test_a_cells_exercise_is_the_students_lines_between_the_anchors_around_its_stub():
    key = (NB, 2)
    assert read_cell(CELL, None).edition[key] == IMPORT + STUB_6 + "print(x)\n"

    def read(mine: str) -> tuple[isolate.Attempt, isolate.Stretch, dict]:
        copy = read_cell(CELL, mine)
        assert list(copy.attempts) == list(copy.stretches) == ["9.6"]
        return copy.attempts["9.6"], copy.stretches["9.6"], copy.imports

    # the stubs' import deleted (no anchor before the stub) and a line after it changed, not its code
    lines = ["x = 1\n", "y = x\n", "print( x )\n"]
    assert read("".join(lines)) == (isolate.Attempt("solution"), isolate.Stretch(key, 0, 3, lines, ("9.6",)), {})
    assert read("x = 2\nprint(x)\n") == (isolate.Attempt("own"), isolate.Stretch(key, 0, 2, ["x = 2\n"], ("9.6",)), {})
    assert read(IMPORT + "x = 2\nprint(x)\n")[1] == isolate.Stretch(key, 1, 2, ["x = 2\n"], ("9.6",))
    # an import in place of the stub is the student's code for it, not an added import
    assert read("import os\nprint(x)\n")[2] == {}
    # imports added just before and just after the untouched stub are kept
    assert read(IMPORT + "import os\n" + STUB_6 + "import sys\nprint(x)\n") == (
        isolate.Attempt("stub"),
        isolate.Stretch(key, 1, 2, [STUB_6], ("9.6",)),
        {key: [isolate.Stretch(key, 1, 1, ["import os\n"]), isolate.Stretch(key, 2, 2, ["import sys\n"])]},
    )
    # a notebook's %magic compiles as IPython runs it; in a .py file it does not
    assert read(IMPORT + "%time x = 2\nprint(x)\n")[0] == isolate.Attempt("own")
    py = read_cell(CELL, IMPORT + "%time x = 2\nprint(x)\n", key=("scratchlib/cell.py", None))
    assert py.attempts["9.6"] == isolate.Attempt(
        "broken", "your code does not compile: invalid syntax (line 1 of your code)"
    )

    # a solution with %magic in it: the student's copy of it is the solution
    timed = f"{SOLUTION} 9.9: time it\n%time t = 1\n{DONE}\n"
    edition = read_cell(timed, None).edition[key]
    assert edition == IMPORT + 'raise ExerciseNotDone("exercise 9.9: time it")\n'
    assert read_cell(timed, IMPORT + "%time t = 1\n").attempts["9.9"] == isolate.Attempt("solution")
    assert read_cell(timed, IMPORT + "%time t = 2\n").attempts["9.9"] == isolate.Attempt("own")

    # a stub on the cell's last line, left, with lines added after it: the stub alone
    last = f"a = 1\n{SOLUTION} 9.8: last\ny = a\n{DONE}"
    edition = read_cell(last, None).edition[key]
    copy = read_cell(last, edition + "\nprint(y)\n")
    stub = 'raise ExerciseNotDone("exercise 9.8: last")\n'
    assert copy.attempts == {"9.8": isolate.Attempt("stub")}
    assert copy.stretches == {"9.8": isolate.Stretch(key, 2, 3, [stub], ("9.8",))}


def test_an_import_added_between_lines_is_kept_and_a_compile_error_counted_past_it():
    key = ("scratchlib/two.py", None)
    regions = find_regions(TWO, key[0])
    edition = read_cell(TWO, None, key).edition[key]
    mine = edition.replace("import math\n", "import math\nimport numpy as np\n").replace(STUB_2, "return (x")
    copy = isolate.Copy()
    isolate.read_text(key, TWO, regions, mine, copy)
    assert copy.imports == {key: [isolate.Stretch(key, 3, 3, ["import numpy as np\n"])]}
    assert copy.attempts["9.2"] == isolate.Attempt(
        "broken", "your code does not compile: '(' was never closed (line 1 of your code)"
    )


def test_a_long_file_is_lined_up_line_by_line_even_where_most_lines_are_blank():
    """difflib's autojunk would ignore lines that make up over 1% of a long text (blank ones here)."""
    key = ("scratchlib/two.py", None)
    long = TWO.replace("import math\n", "import math\n" + "\n" * 300)
    edition = read_cell(long, None, key).edition[key]
    # the blank lines after 9.1's stub lie between two changed lines: anchors only without autojunk
    mine = edition.replace(STUB_1, "return x + x").replace("def root(x):", "def root(x):  # mine")
    copy = isolate.Copy()
    isolate.read_text(key, long, find_regions(long, key[0]), mine, copy)
    at = edition.splitlines().index(f"    {STUB_1}")
    assert copy.stretches["9.1"] == isolate.Stretch(key, at, at + 1, ["    return x + x\n"], ("9.1",))
    assert copy.attempts == {"9.1": isolate.Attempt("own"), "9.2": isolate.Attempt("stub")}


def test_the_syntax_tree_of_a_region_is_its_body_in_a_loop_in_a_function_and_errors_are_cut_short():
    assert isolate.tree(["x = 1"], False) == ast.dump(ast.parse("def _region():\n    while True:\n        x = 1\n"))
    # a parenthesised import over lines is not kept: its indented lines are read as code
    assert not isolate._is_imports(["from os import (\n", "    path,\n", ")\n"])
    assert not isolate._is_imports(["from os import (\n", " path,\n", ")\n"])
    name = "n" * 130
    why = isolate._compile_error(f"def f({name}):\n    global {name}\n", False, 0, 2)
    assert why == f"name '{name}' is parameter and global"[:120] + " (line 2 of your code)"


def test_a_folder_already_there_is_linked_into(toy, tmp_path):
    _, edition = toy
    out = tmp_path / "out"
    (out / "scratchlib").mkdir(parents=True)
    isolate._link_tree(edition, out, {"scratchlib/two.py"})
    assert links(out) == {
        "notebooks": True,
        "scratchlib": False,
        "scratchlib/aa.py": True,
        "scratchlib/course": True,
        "scratchlib/zz.py": True,
    }


def test_the_exercises_of_a_cell_are_listed_in_its_order():
    cell = f"{SOLUTION} 9.6: a\na = 1\nb = a\n{DONE}\nprint(a)\n{SOLUTION} 9.7: c\nc = 1\nd = c\n{DONE}\n"
    edition = read_cell(cell, None).edition[(NB, 2)]
    assert edition.splitlines()[1:] == [
        'raise ExerciseNotDone("exercise 9.6: a")',
        "print(a)",
        STUB_7.replace("triple", "c"),
    ]
    # 9.6 left as handed out, the line after it and 9.7 changed
    copy = read_cell(cell, edition.replace("print(a)", "print(a, 1)").replace(STUB_7.replace("triple", "c"), "c = 2"))
    assert copy.attempts == {"9.6": isolate.Attempt("stub"), "9.7": isolate.Attempt("own")}
    assert list(copy.attempts) == list(copy.stretches) == ["9.6", "9.7"]


def test_a_source_the_compiler_cannot_even_read_is_broken_with_the_reason():
    """A null byte (no line number), or a lone surrogate, which a notebook's JSON can hold."""
    assert isolate._compile_error("x = 1\0", False, 0, 1) == "source code string cannot contain null bytes (line 0)"
    assert isolate._compile_error("x = '\ud800'\n", True, 0, 1) == (
        "'utf-8' codec can't encode character '\\ud800' in position 5: surrogates not allowed"
    )


# ---------------------------------------------------------------- reading one file, and the helpers


def test_the_grader_reads_each_exercise_of_a_file_as_missing_stub_solution_own_or_broken():
    """Each exercise's lines are found by lining the student's file up with the edition, whatever else
    the student changed: an import added on top is kept, and a compile error is counted in the
    student's own lines."""
    key = ("scratchlib/two.py", None)
    regions = find_regions(TWO, "scratchlib/two.py")

    missing = isolate.Copy()
    isolate.read_text(key, TWO, regions, None, missing)
    edition = missing.edition[key]
    assert {e: a.state for e, a in missing.attempts.items()} == {"9.1": "missing", "9.2": "missing"}
    assert missing.stretches == {} and missing.imports == {}
    assert edition.splitlines()[6:11] == ["def double(x):", f"    {STUB_1}", "", "", "def root(x):"]

    # a stub left with other spacing is the stub; other code for the same result is the student's own
    spaced = isolate.Copy()
    isolate.read_text(
        key, TWO, regions, edition.replace(STUB_1, STUB_1 + "  \n").replace(STUB_2, "return x**0.5"), spaced
    )
    assert {e: a.state for e, a in spaced.attempts.items()} == {"9.1": "stub", "9.2": "own"}

    mine = "import numpy as np\n" + edition.replace(STUB_1, "return 2*x  # mine").replace(
        STUB_2, "y = x ** 0.5\n    return y +"
    )
    copy = isolate.Copy()
    isolate.read_text(key, TWO, regions, mine, copy)
    assert copy.attempts == {
        "9.1": isolate.Attempt("solution"),
        "9.2": isolate.Attempt("broken", "your code does not compile: invalid syntax (line 2 of your code)"),
    }
    assert copy.stretches == {
        "9.1": isolate.Stretch(key, 7, 8, ["    return 2*x  # mine\n"], ("9.1",)),
        "9.2": isolate.Stretch(key, 11, 12, ["    y = x ** 0.5\n", "    return y +\n"], ("9.2",)),
    }
    assert copy.imports == {key: [isolate.Stretch(key, 0, 0, ["import numpy as np\n"])]}
    graded = isolate.splice(edition, [copy.stretches["9.1"], *copy.imports[key]]).splitlines()
    assert graded[:2] == ["import numpy as np", TWO.splitlines()[0]]
    assert graded[7:13] == ["def double(x):", "    return 2*x  # mine", "", "", "def root(x):", f"    {STUB_2}"]


def test_the_grader_names_a_compile_error_where_the_student_looks_and_compares_code_as_the_notebook_runs_it():
    """A compile error inside the student's lines [start, stop) is counted in them, elsewhere in the
    file; a notebook's %magic is read as IPython runs it; lines are compared as code, not text."""
    assert isolate._compile_error("x = 1\ny = (\n", False, 1, 2) == "'(' was never closed (line 1 of your code)"
    assert isolate._compile_error("y = (\nx = 1\n", False, 1, 2) == "'(' was never closed (line 1)"
    assert isolate._compile_error("x = 1\0", False, 0, 1).startswith("source code string cannot contain null bytes")
    assert isolate._compile_error("%time x = 1", True, 0, 1) == ""
    assert isolate._compile_error("%time x = 1", False, 0, 1) == "invalid syntax (line 1 of your code)"
    assert isolate.python_text("%time x = 1", True) == "get_ipython().run_line_magic('time', 'x = 1')\n"

    assert isolate.tree(["y = 1", "return y"], False) == isolate.tree(["y = 1\n", "return y\n"], False) is not None
    assert isolate.tree(["%time x = 1"], True) is not None and isolate.tree(["%time x = 1"], False) is None

    # added lines kept in a graded copy: top-level imports only
    assert isolate._is_imports(["from math import pi\n", "import os"])
    for lines in (["    import os\n"], ["import os\n", "x = 1\n"], [], ["import (\n"], ["\n"]):
        assert not isolate._is_imports(lines), lines

    # overlapping stretches (not made by one reading): the first is kept, and the ones after still spliced
    s = [isolate.Stretch(("f", None), *where) for where in ((0, 2, ["X"]), (1, 2, ["Y"]), (3, 4, ["Z"]))]
    assert isolate.splice("a\nb\nc\nd\n", s) == "X\nc\nZ\n"
