"""Teacher-only blocks in the course's sources and notebooks, and the derivations of notebook 04.

``BEGIN TEACHER ONLY`` ... ``END TEACHER ONLY`` lines are left out of the student (and solved)
edition wherever they stand: a Makefile, a README, a .py source with solution regions (a
docstring's backward formula, which a derivation exercise asks the student for) and a notebook's
markdown cell. The second half reads the real course: in notebook 04's student edition nothing
shows a layer's backward formula before the student has derived it.
"""

import ast
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import isolate  # noqa: E402
from teacher.edition import edition_file, scan, teacher_blocks, write_edition  # noqa: E402
from teacher.markers import MarkerError, find_regions  # noqa: E402

# the markers, as the course writes them
BEGIN, END = "BEGIN TEACHER ONLY", "END TEACHER ONLY"
SOLUTION, DONE = "### BEGIN SOLUTION", "### END SOLUTION"

LAYER = f'''"""A toy layer."""


class Double:
    r"""Output $2X$.

    Backward: derived in exercise 9.2.
    {BEGIN}
    $dX = 2 G$.
    {END}
    """

    def backward(self, g):
        {SOLUTION} 9.1: Double.backward
        return 2 * g
        {DONE}
'''


def course(tmp_path: Path, layer: str = LAYER, cells: list | None = None) -> Path:
    """A tiny course (no git: the edition lists its files by walking the folder)."""
    (tmp_path / "scratchlib").mkdir()
    (tmp_path / "scratchlib" / "layer.py").write_text(layer, encoding="utf-8")
    if cells is not None:
        (tmp_path / "notebooks").mkdir()
        nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "notebooks" / "09_toy.ipynb")
    return tmp_path


def markdown(text: str):
    return nbformat.v4.new_markdown_cell(text)


# ---------------------------------------------------------------- a .py source


def test_a_docstring_block_is_left_out_of_the_student_and_solved_editions_and_kept_in_the_probe(tmp_path):
    c = scan(course(tmp_path))
    student = edition_file(c, "scratchlib/layer.py", "student").decode()
    assert "dX = 2 G" not in student and "TEACHER ONLY" not in student
    assert "Backward: derived in exercise 9.2." in student  # the line outside the block stays
    assert 'raise ExerciseNotDone("exercise 9.1: Double.backward")' in student
    ast.parse(student)
    solved = edition_file(c, "scratchlib/layer.py", "solved").decode()
    assert "dX = 2 G" not in solved and "return 2 * g" in solved and "SOLUTION" not in solved
    probe = edition_file(c, "scratchlib/layer.py", "probe").decode()
    assert "dX = 2 G" in probe  # the grader's edition keeps every line


def test_a_block_that_holds_a_solution_region_is_refused(tmp_path):
    layer = LAYER.replace(f"        {SOLUTION}", f"        # {BEGIN}\n        {SOLUTION}").replace(
        f"        {DONE}\n", f"        {DONE}\n        # {END}\n"
    )
    with pytest.raises(MarkerError, match=r"scratchlib/layer.py:\d+: a solution marker inside the teacher-only"):
        scan(course(tmp_path, layer))


def test_a_block_inside_a_solution_region_is_refused(tmp_path):
    layer = LAYER.replace("        return 2 * g\n", f"        # {BEGIN}\n        return 2 * g\n        # {END}\n")
    with pytest.raises(MarkerError, match=r"layer.py:\d+: BEGIN TEACHER ONLY inside the solution region of line"):
        scan(course(tmp_path, layer))


def test_a_block_whose_removal_breaks_the_module_is_refused_by_the_scan(tmp_path):
    layer = LAYER.replace("    def backward(self, g):\n", f"    # {BEGIN}\n    def backward(self, g):\n    # {END}\n")
    with pytest.raises(MarkerError, match="without the teacher-only blocks, does not compile"):
        scan(course(tmp_path, layer))


@pytest.mark.parametrize(
    "text, message",
    [
        (f"a\n{BEGIN}\nb\n", r"where:2: BEGIN TEACHER ONLY is never closed"),
        (f"a\n{END}\n", r"where:2: END TEACHER ONLY without a BEGIN TEACHER ONLY"),
        (f"{BEGIN}\n{BEGIN}\n{END}\n", r"where:2: BEGIN TEACHER ONLY inside another \(line 1\)"),
    ],
)
def test_a_malformed_block_names_its_place_and_line(text, message):
    with pytest.raises(MarkerError, match=message):
        teacher_blocks(text, "where")


def test_the_grader_still_finds_the_students_code_in_a_file_without_the_block(tmp_path):
    """The student's file lacks the block's lines: the grader lines it up with the course all the same."""
    c = scan(course(tmp_path))
    regions = c.sources["scratchlib/layer.py"]
    student = edition_file(c, "scratchlib/layer.py", "student").decode()
    stub = 'raise ExerciseNotDone("exercise 9.1: Double.backward")'
    cases = {
        "stub": student,
        "solution": student.replace(stub, "return 2 * g"),
        "own": student.replace(stub, "return g + g"),
    }
    key = ("scratchlib/layer.py", None)
    for state, text in cases.items():
        copy = isolate.Copy()
        isolate.read_text(key, LAYER, regions, text, copy)
        assert copy.attempts["9.1"].state == state
        stretches = [copy.stretches["9.1"]] if "9.1" in copy.stretches else []
        compile(isolate.splice(copy.edition[key], stretches), "layer.py", "exec")


# ---------------------------------------------------------------- a notebook


def test_a_markdown_block_is_left_out_of_the_student_edition_and_the_rest_of_the_cell_stays(tmp_path):
    cells = [
        markdown(
            f"## Doubling\n\nOutput $2X$.\n\n<!-- {BEGIN} -->\nTeacher's note: $dX = 2G$.\n<!-- {END} -->\n\nNext."
        ),
        nbformat.v4.new_code_cell("print(1)"),
        markdown(
            f"Derive $dX$.\n\n<!-- BEGIN SOLUTION 9.2: dX of Double -->\n$dX = 2G$\n<!-- END SOLUTION -->\n\n"
            f"<!-- {BEGIN} -->\nGrading: the factor 2.\n<!-- {END} -->\nCheck it with exercise 9.1."
        ),
    ]
    root = course(tmp_path, cells=cells)
    c = scan(root)
    student = nbformat.reads(edition_file(c, "notebooks/09_toy.ipynb", "student").decode(), as_version=4)
    assert student.cells[0].source == "## Doubling\n\nOutput $2X$.\n\n\nNext."
    assert student.cells[1].source == "print(1)"
    text = student.cells[2].source
    assert "2G" not in text and "Grading" not in text and "TEACHER ONLY" not in text
    assert "**Exercise 9.2** (your derivation): dX of Double" in text and text.endswith("Check it with exercise 9.1.")
    probe = nbformat.reads(edition_file(c, "notebooks/09_toy.ipynb", "probe").decode(), as_version=4)
    assert "Teacher's note" in probe.cells[0].source
    assert nbformat.read(root / "notebooks" / "09_toy.ipynb", as_version=4).cells[0].source == cells[0].source


def test_a_notebook_without_regions_loses_its_blocks_too(tmp_path):
    root = course(tmp_path, cells=[markdown(f"Shown.\n<!-- {BEGIN} -->\nHidden.\n<!-- {END} -->\n")])
    student = edition_file(scan(root), "notebooks/09_toy.ipynb", "student").decode()
    assert "Shown." in student and "Hidden." not in student


@pytest.mark.parametrize(
    "cell, message",
    [
        (markdown(f"Shown.\n<!-- {BEGIN} -->\nHidden."), r"09_toy.ipynb cell 0:2: BEGIN TEACHER ONLY is never closed"),
        (
            nbformat.v4.new_code_cell(f"# {BEGIN}\nx = 1\n# {END}"),
            r"09_toy.ipynb cell 0: a teacher-only block in a code cell",
        ),
        (
            markdown(f"<!-- {BEGIN} -->\n<!-- BEGIN SOLUTION 9.2: a -->\nb\n<!-- END SOLUTION -->\n<!-- {END} -->"),
            r"cell 0:2: a solution marker inside the teacher-only block of line 1",
        ),
    ],
)
def test_a_notebook_block_in_the_wrong_place_is_refused_by_the_scan(tmp_path, cell, message):
    with pytest.raises(MarkerError, match=message):
        scan(course(tmp_path, cells=[cell]))


# ---------------------------------------------------------------- notebook 04: derive, then code

NB04 = "notebooks/04_full_library.ipynb"
LAYERS = "scratchlib/layers/"
# what gives each derivation's result away, as a notebook, a docstring, a hint or a stub would write it
GIVEAWAYS = {
    "4.25": [  # Linear
        r"G\^\{?\\top\}?\s*X",
        r"G\^T\s*X",
        r"dX\s*=\s*G\s*W",
        r"\(G\s*W\)_",
        r"column sums of G",
        r"\\sum_j G_\{ij\} W_\{jk\}",
        r"\\sum_i G_\{ij\} X_\{ik\}",
    ],
    "4.26": [r"\[\s*[XZH](_\{ij\})?\s*>\s*0\s*\]", r"where the input was positive"],  # ReLU
    "4.27": [r"2\s*\\lambda", r"2 lambda", r"2 \* strength", r"1 - 2\s*\\eta"],  # Regularization
    "4.28": [r"\\frac\{2\s*g?\}\{N\}", r"\\frac2N", r"2\s*g\s*/\s*N", r"2 g \("],  # MSELoss
    "4.29": [  # Scale and Sum
        r"c\s*\\,\s*G",
        r"=\s*c\s*G",
        r"da\s*=\s*db",
        r"copies its gradient",
        r"same gradient",
        r"hands its own",
    ],
}
# the layers whose backward each derivation asks for, and the files that hold them
DERIVED = {
    "4.25": ("linear.py", ["Linear"]),
    "4.26": ("activations.py", ["ReLU"]),
    "4.27": ("losses.py", ["Regularization"]),
    "4.28": ("losses.py", ["MSELoss"]),
    "4.29": ("arithmetic.py", ["Scale", "Sum"]),
}
# the code exercises that implement each derivation
IMPLEMENTED = {"4.25": ["4.3"], "4.26": ["4.5"], "4.27": ["4.15"], "4.28": ["4.17"], "4.29": ["4.11", "4.13"]}


def giveaways(exercise: str, text: str) -> list[str]:
    return [m.group() for pattern in GIVEAWAYS[exercise] for m in [re.search(pattern, text)] if m]


@pytest.fixture(scope="module")
def real_course():
    return scan(ROOT)


@pytest.fixture(scope="module")
def student(real_course, tmp_path_factory):
    out = tmp_path_factory.mktemp("edition") / "student"
    write_edition(real_course, out, "student")
    return out


@pytest.fixture(scope="module")
def student_04(student):
    """Notebook 04 of the student edition as one text, and where each place in it starts."""
    nb = nbformat.read(student / NB04, as_version=4)
    return "\n".join(cell.source + "\n" + json.dumps(cell.get("outputs", [])) for cell in nb.cells)


def position(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text.index(needle)


def test_the_worked_derivations_are_the_rubric_in_the_teachers_notebook(real_course):
    for exercise in GIVEAWAYS:
        assert real_course.kind(exercise) == "derivation"
        body = "".join(real_course.region(exercise).body)
        assert giveaways(exercise, body), f"exercise {exercise}'s worked derivation states no result"


def test_nothing_before_a_derivation_gives_its_result_away(student_04):
    for exercise in GIVEAWAYS:
        before = student_04[: position(student_04, f"**Exercise {exercise}** (your derivation)")]
        assert giveaways(exercise, before) == [], f"before exercise {exercise}"


def test_each_derivation_comes_before_the_code_that_implements_it_and_before_its_file_is_opened(student_04):
    for exercise, (module, _) in DERIVED.items():
        derived = position(student_04, f"**Exercise {exercise}** (your derivation)")
        for code in IMPLEMENTED[exercise]:
            assert derived < position(student_04, f"> **Exercise {code}** · edit"), (exercise, code)
        opened = student_04.index(f"edit `{LAYERS}{module}`")  # the first exercise in that file
        assert derived < opened, f"{module} is opened before exercise {exercise}"


def test_the_derivations_keep_their_question_and_scaffold_in_the_student_edition(student):
    nb = nbformat.read(student / NB04, as_version=4)
    for exercise in GIVEAWAYS:
        (cell,) = [c for c in nb.cells if f"**Exercise {exercise}** (your derivation)" in c.source]
        assert f"> **Exercise {exercise}** · write your derivation in this cell, below" in cell.source
        assert "<summary>Hint</summary>" in cell.source and "\nWrite" in cell.source
        assert "SOLUTION" not in cell.source and "Grading" not in cell.source


def test_the_layer_files_give_no_derived_result_in_docstrings_or_stubs(student):
    """A file is opened after its derivations (the test above); its docstrings and the messages of its
    stubs (what a waiting test prints) still leave the result to the derivation and the rule beside
    backward (the stepper's text) is what the student checks the derivation against."""
    for exercise, (module, classes) in DERIVED.items():
        tree = ast.parse((student / LAYERS / module).read_text(encoding="utf-8"))
        texts = [ast.get_docstring(tree) or ""]
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in classes:
                texts.append(ast.get_docstring(node) or "")
                texts += [
                    arg.value
                    for call in ast.walk(node)
                    if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "ExerciseNotDone"
                    for arg in call.args
                    if isinstance(arg, ast.Constant)
                ]
        for text in texts:
            assert giveaways(exercise, text) == [], (module, text)


def test_base_py_opened_first_gives_no_derived_result(student):
    text = (student / LAYERS / "base.py").read_text(encoding="utf-8")
    for exercise in GIVEAWAYS:
        assert giveaways(exercise, text) == [], exercise


# a gradient written as a formula (dX = G W, dW = 2 * 0.1 * ..., dP = (2 g / N) D, da = db), not as numbers
FORMULA = re.compile(r"\bd[XWPa]\s*=\s*(?:[A-Za-z(]|\d+ \*)")
# the course's tests of each derived layer: a student opens them when a check fails
LAYER_TESTS = {
    "4.25": "test_linear.py",
    "4.26": "test_relu.py",
    "4.27": "test_regularization.py",
    "4.28": "test_mseloss.py",
    "4.29": "test_scale.py test_sum.py",
}


def test_the_layers_tests_give_no_derived_result_in_the_student_edition(real_course, student):
    """The tests' worked numbers stay; the formula they were worked with is teacher-only (the derivation
    asks for it). The teacher's copy keeps it: otherwise this test would check nothing."""
    for exercise, files in LAYER_TESTS.items():
        for name in files.split():
            theirs = (student / "tests" / name).read_text(encoding="utf-8")
            ours = (real_course.root / "tests" / name).read_text(encoding="utf-8")
            assert giveaways(exercise, theirs) + FORMULA.findall(theirs) == [], name
            assert FORMULA.findall(ours), f"{name}: the teacher's copy states no formula"


# ---------------------------------------------------------------- how the grader reads a student's file

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
    assert graded[:2] == ["import numpy as np", '"""Two exercises."""']
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
