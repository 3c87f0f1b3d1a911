"""The teacher tools: markers, the student edition, and the grader, round trip.

The mechanics run on tests/teacher_fixture (a tiny torch-free course, seconds); the real
course gets the checks that matter for handing it out: valid markers, a deterministic
edition that imports, every exercise caught by a test, notebooks that stop at their stub.
"""

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "teacher_fixture"
sys.path.insert(0, str(ROOT / "tools"))

from scratchlib.course import runner as course_runner  # noqa: E402
from scratchlib.course.runner import ExerciseNotDone  # noqa: E402
from teacher import runner as teacher_runner  # noqa: E402
from teacher.edition import EXERCISE_MAP, PACKAGE, scan, write_edition  # noqa: E402
from teacher.grade import exercise_map, grade, load_map, problems, table  # noqa: E402
from teacher.markers import MarkerError, check_python_source, find_regions, rewrite  # noqa: E402
from teacher.runner import execute_notebook  # noqa: E402

SOURCE = '''def forward(self):
    """Doc."""
    x = self.x
    ### BEGIN SOLUTION 4.1: Linear.forward: y = x W^T + b
    y = x @ self.W.T
    y = y + self.b
    ### END SOLUTION
    return y


def backward(self, g):
    if g is None:
        raise ValueError("no grad")
    for k in range(2):
        ### BEGIN SOLUTION 4.2: Linear.backward: "dx" = g W
        self.dx = g @ self.W
        ### END SOLUTION
'''


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- markers


def test_regions_are_found_with_id_task_and_place():
    regions = find_regions(SOURCE, "layers.py")
    assert [(r.id, r.task, r.line, r.indent) for r in regions] == [
        ("4.1", "Linear.forward: y = x W^T + b", 4, "    "),
        ("4.2", 'Linear.backward: "dx" = g W', 15, "        "),
    ]
    assert regions[0].body == ("    y = x @ self.W.T\n", "    y = y + self.b\n")


def test_student_text_has_stubs_at_the_region_indentation_and_every_other_byte_kept():
    regions = find_regions(SOURCE, "layers.py")
    student = rewrite(SOURCE, regions, "student")
    assert '    raise ExerciseNotDone("exercise 4.1: Linear.forward: y = x W^T + b")\n    return y\n' in student
    assert '        raise ExerciseNotDone("exercise 4.2: Linear.backward: \\"dx\\" = g W")\n' in student
    lines = SOURCE.splitlines(keepends=True)
    outside = [line for i, line in enumerate(lines) if not any(r.begin <= i <= r.end for r in regions)]
    assert [line for line in student.splitlines(keepends=True) if "ExerciseNotDone" not in line] == outside
    # the one line that names the course's exception, first (this text has no docstring or import)
    assert student.startswith(f"{course_runner.STUB_IMPORT}\n")
    check_python_source(SOURCE, regions, "layers.py")
    namespace = {}
    exec(compile(student, "student", "exec"), namespace)
    with pytest.raises(ExerciseNotDone, match=r'^exercise 4\.2: Linear\.backward: "dx" = g W$') as raised:
        namespace["backward"](object(), 1)
    assert not isinstance(raised.value, (RuntimeError, NotImplementedError, ValueError, TypeError))


def test_windows_line_endings_and_a_missing_final_newline_survive():
    text = "a = 1\r\n### BEGIN SOLUTION 1.1: set b\r\nb = 2\r\n### END SOLUTION"
    regions = find_regions(text, "cell")
    assert rewrite(text, regions, "student") == (
        f'{course_runner.STUB_IMPORT}\r\na = 1\r\nraise ExerciseNotDone("exercise 1.1: set b")'
    )
    assert rewrite(text, regions, "solved") == "a = 1\r\nb = 2"


def test_solved_drops_the_markers_and_probe_keeps_the_line_numbers():
    regions = find_regions(SOURCE, "layers.py")
    solved = rewrite(SOURCE, regions, "solved")
    assert "SOLUTION" not in solved and "    y = y + self.b\n" in solved
    probe = rewrite(SOURCE, regions, "probe")
    assert len(probe.splitlines()) == len(SOURCE.splitlines())
    assert "__import__('_teacher_probe').enter('4.1', 'exercise 4.1: Linear.forward: y = x W^T + b')" in probe


@pytest.mark.parametrize(
    "text, message",
    [
        ("def f():\n    ### BEGIN SOLUTION 1.1: a\n    x = 1\n", r"f\.py:2: BEGIN SOLUTION 1\.1 is never closed"),
        ("def f():\n    x = 1\n    ### END SOLUTION\n", r"f\.py:3: END SOLUTION without a BEGIN"),
        (
            "def f():\n    ### BEGIN SOLUTION 1.1: a\n    ### BEGIN SOLUTION 1.2: b\n    x = 1\n"
            "    ### END SOLUTION\n    ### END SOLUTION\n",
            r"f\.py:3: BEGIN SOLUTION inside the region opened at line 2",
        ),
        ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n", r"f\.py:2: malformed marker"),
        ("def f():\n    ### BEGIN SOLUTION 1.1\n    x = 1\n    ### END SOLUTION\n", r"f\.py:2: malformed marker"),
        ("def f():\n    ### BEGIN SOLUTION one: task\n    x = 1\n    ### END SOLUTION\n", r"f\.py:2: malformed"),
        ("def f():\n    # BEGIN SOLUTION 1.1: a\n    x = 1\n", r"f\.py:2: malformed marker"),
        (
            "def f():\n    ### BEGIN SOLUTION 1.1: a\n    x = 1\n  ### END SOLUTION\n",
            r"f\.py:4: END SOLUTION is indented 2",
        ),
        ("def f():\n    ### BEGIN SOLUTION 1.1: a\n\n    ### END SOLUTION\n", r"f\.py:2: exercise 1\.1 has no code"),
        (
            "def f():\n    if x:\n        ### BEGIN SOLUTION 1.1: a\n"
            "        y = 1\n    z = 2\n        ### END SOLUTION\n",
            r"f\.py:5: line is indented less than the markers of exercise 1\.1",
        ),
    ],
)
def test_malformed_markers_are_clear_errors_naming_file_and_line(text, message):
    with pytest.raises(MarkerError, match=message):
        find_regions(text, "f.py")


@pytest.mark.parametrize(
    "text",
    [
        "### BEGIN SOLUTION 1.1: a module-level region\nx = 1\n### END SOLUTION\n",
        "class A:\n    ### BEGIN SOLUTION 1.1: a class body\n    x = 1\n    ### END SOLUTION\n",
    ],
)
def test_a_region_outside_a_function_body_is_refused(text):
    with pytest.raises(MarkerError, match=r"f\.py:\d: exercise 1\.1 is not inside a function body"):
        check_python_source(text, find_regions(text, "f.py"), "f.py")


def test_a_duplicate_id_across_the_course_names_both_places(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    extra = course / PACKAGE / "more.py"
    extra.write_text("def g():\n    ### BEGIN SOLUTION 3.2: again\n    return 1\n    ### END SOLUTION\n")
    with pytest.raises(
        MarkerError, match=r"scratchlib/ops\.py:18: exercise id 3\.2 is used twice \(also at scratchlib/more\.py:2\)"
    ):
        scan(course)


# ---------------------------------------------------------------- the fixture course, round trip


def copy_fixture(target: Path) -> Path:
    """The fixture course, with the course's self-check and its runner (whose ExerciseNotDone its stubs
    raise), as the course ships them."""
    shutil.copytree(FIXTURE, target, dirs_exist_ok=True)
    (target / PACKAGE / "course").mkdir(exist_ok=True)
    for module in ("answers.py", "exercises.py", "runner.py"):
        shutil.copy(ROOT / PACKAGE / "course" / module, target / PACKAGE / "course" / module)
    shutil.copy(ROOT / "tests" / "expect.py", target / "tests" / "expect.py")  # the tests assert with it
    return target


@pytest.fixture(scope="module")
def fixture_course(tmp_path_factory):
    """The fixture course copied out of the repository, scanned, with its exercise map."""
    root = copy_fixture(tmp_path_factory.mktemp("course"))
    data = load_map(scan(root), root / EXERCISE_MAP, timeout=60)  # as make student writes it
    return scan(root), data


@pytest.fixture(scope="module")
def fresh(fixture_course, tmp_path_factory):
    course, _ = fixture_course
    out = tmp_path_factory.mktemp("student") / "student"
    write_edition(course, out, "student")
    return out


def test_the_student_edition_is_the_course_with_stubs_and_no_teacher_material(fixture_course, fresh):
    course, _ = fixture_course
    files = tree(fresh)
    assert sorted(files) == [
        "Makefile",
        "README.md",
        "notebooks/01_demo.ipynb",
        "pyproject.toml",
        "scratchlib/__init__.py",
        "scratchlib/course/answers.py",
        "scratchlib/course/exercises.py",
        "scratchlib/course/runner.py",
        "scratchlib/ops.py",
        "tests/exercises.json",
        "tests/expect.py",
        "tests/test_ops.py",
    ]
    ops = files["scratchlib/ops.py"].decode()
    assert 'raise ExerciseNotDone("exercise 3.1: double: return twice x")' in ops
    assert "SOLUTION" not in ops and "2 * x" not in ops
    assert files["tests/test_ops.py"] == (course.root / "tests/test_ops.py").read_bytes()
    assert b"TEACHER" not in files["Makefile"] and b"student:" not in files["Makefile"]
    assert b"teachers only" not in files["README.md"] and b"no torch" in files["README.md"]


def test_student_notebook_clears_only_the_exercise_cells(fixture_course, fresh):
    course, _ = fixture_course
    before = nbformat.read(course.root / "notebooks/01_demo.ipynb", as_version=4)
    after = nbformat.read(fresh / "notebooks/01_demo.ipynb", as_version=4)
    assert len(before.cells) == len(after.cells)
    assert "BEGIN SOLUTION" in before.cells[6].outputs[0].text  # it printed the library's source
    for index, (old, new) in enumerate(zip(before.cells, after.cells)):
        if index == 2:
            assert new.source == (
                f'{course_runner.STUB_IMPORT}\nraise ExerciseNotDone("exercise 1.1: set y to double of 21")\n'
                'print(f"y = {y}")'
            )
            assert new.outputs == [] and new.execution_count is None
        elif index == 6:  # an output showing solution source is cleared; the cell itself is kept
            assert new.source == old.source and new.outputs == [] and new.execution_count is None
        elif index == 8:  # a prediction: its names set to ..., on one line naming the exercise
            assert new.source.startswith(
                "predicted_8, predicted_3 = ..., ...  # exercise 1.2: predict halve(8) "
                "and halve(3)\nif predicted_8 is ..."
            )
        elif index == 9:  # a derivation: the worked solution replaced by a prompt; the hint stays
            assert "(x / 2) / 2" not in new.source and "SOLUTION" not in new.source
            assert "**Exercise 1.3** (your derivation): show that halve(halve(x)) = x / 4" in new.source
            assert "<details><summary>Hint</summary>" in new.source
        else:
            assert new == old, f"cell {index} changed"


def test_generating_the_edition_is_deterministic(fixture_course, fresh, tmp_path):
    course, _ = fixture_course
    write_edition(scan(course.root), tmp_path / "again", "student")
    assert tree(tmp_path / "again") == tree(fresh)


def test_each_exercise_is_mapped_to_the_tests_that_catch_it(fixture_course):
    _, data = fixture_course
    exercises = data["exercises"]
    assert sorted(exercises) == ["1.1", "1.2", "1.3", "3.1", "3.2"]
    assert exercises["1.2"]["tests"] == ["notebooks/01_demo.ipynb::cell 8"]
    assert exercises["1.3"]["kind"] == "derivation" and exercises["1.3"]["tests"] == []
    # its own tests: those failing when only 3.1 is stubbed; test_relu_backward makes its gradient with double
    assert exercises["3.1"]["tests"] == [
        "tests/test_ops.py::test_double",
        "tests/test_ops.py::test_double_any_number[-3]",
        "tests/test_ops.py::test_double_any_number[0.5]",
        "tests/test_ops.py::test_relu_backward",
    ]
    # the length check raises before the exercise's code: it checks no exercise
    # most specific first: test_relu_backward also reaches 3.1
    assert exercises["3.2"]["tests"] == [
        "tests/test_ops.py::test_relu_backward_passes_the_gradient_of_positive_inputs",
        "tests/test_ops.py::test_relu_backward",
    ]
    # its section is cells 2, 3, 5, 6; 5 and 6 run without y, so they do not check 1.1; cell 8 reads y but
    # checks 1.2 (it lies in 1.2's section and does not run 1.1's code)
    assert exercises["1.1"]["tests"] == [f"notebooks/01_demo.ipynb::cell {i}" for i in (2, 3)]
    assert all(x["caught_by"] for e, x in exercises.items() if e != "1.3")
    assert problems(data) == []


def test_a_test_that_never_fails_on_a_stub_leaves_its_exercise_uncaught(tmp_path):
    root = copy_fixture(tmp_path / "course")
    (root / "tests/test_ops.py").write_text(
        "from scratchlib.ops import relu_backward\n\n\ndef test_swallows():\n"
        "    try:\n        relu_backward([1.0], [2.0])\n    except Exception:\n        pass\n"
    )
    data = exercise_map(scan(root), timeout=60)
    # it runs 3.2's code, but does not fail when 3.2 is stubbed: not a test of 3.2's behaviour
    assert data["exercises"]["3.2"]["reached"] == 1 and data["exercises"]["3.2"]["tests"] == []
    assert data["exercises"]["3.2"]["caught_by"] is None
    found = problems(data)
    assert any("exercise 3.1" in p and "add a unit test that runs it" in p for p in found)
    assert any("exercise 3.2" in p and "1 test(s) run its code, but none fails" in p for p in found)


def test_a_core_exercise_never_waits_for_an_optional_one(tmp_path):
    root = copy_fixture(tmp_path / "course")
    ops = root / "scratchlib/ops.py"
    ops.write_text(ops.read_text().replace("SOLUTION 3.1:", "SOLUTION 3.50:"))  # double becomes optional
    data = exercise_map(scan(root), timeout=60)
    exercises = data["exercises"]
    assert exercises["3.50"]["optional"] and not exercises["3.2"]["optional"]
    # test_relu_backward makes its gradient with double: a student who skips 3.50 could never pass it
    assert exercises["3.2"]["tests"] == ["tests/test_ops.py::test_relu_backward_passes_the_gradient_of_positive_inputs"]
    assert "tests/test_ops.py::test_relu_backward" in exercises["3.50"]["tests"]
    assert problems(data) == []


def test_an_exercise_no_test_checks_alone_makes_the_course_unfit_to_hand_out(tmp_path):
    root = copy_fixture(tmp_path / "course")
    tests = root / "tests/test_ops.py"
    text = tests.read_text()
    tests.write_text(text[: text.index("@given")])  # 3.2 keeps only test_relu_backward, which runs 3.1 too
    data = exercise_map(scan(root), timeout=60)
    assert data["exercises"]["3.2"]["tests"] == ["tests/test_ops.py::test_relu_backward"]
    found = problems(data)
    assert len(found) == 1
    assert found[0].startswith("exercise 3.2 (scratchlib/ops.py:") and "has no test of its own" in found[0]
    assert "also runs another exercise (3.1)" in found[0]


def test_the_fresh_student_edition_scores_zero_everywhere(fixture_course, fresh):
    course, data = fixture_course
    rows = grade(course, data, fresh, timeout=30, report=lambda line: None)
    # a library exercise is graded by its own tests (those that run it alone), a hand value by its
    # number, a notebook's code exercise by its checking cells; a derivation by hand
    assert [(r.exercise, r.passed, r.total, r.kind) for r in rows] == [
        ("1.1", 0, 2, "notebook"),
        ("1.2", 0, 1, "hand"),
        ("1.3", 0, 0, "derivation"),
        ("3.1", 0, 3, "library"),
        ("3.2", 0, 1, "library"),
    ]
    assert "core                      0.00  mean over 4 autograded core exercises" in table(rows)
    assert all("not attempted: the stub is still there" in r.reason for r in rows if r.exercise != "1.3")
    assert rows[2].reason == "graded by hand from the rubric" and rows[2].score is None


@pytest.mark.parametrize("rewritten", [False, True])
def test_the_edition_with_solutions_restored_scores_full_marks(fixture_course, tmp_path, rewritten):
    """The solutions as written score without a run; written differently, every exercise's tests run."""
    course, data = fixture_course
    solved = tmp_path / "solved"
    write_edition(course, solved, "solved")
    assert "SOLUTION" not in (solved / "scratchlib/ops.py").read_text()
    if rewritten:
        ops = solved / "scratchlib/ops.py"
        ops.write_text(
            ops.read_text()
            .replace("result = 2 * x", "result = x * 2")
            .replace("g if value > 0 else 0.0", "g if 0 < value else 0.0")
        )
        path = solved / "notebooks/01_demo.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells[2].source = nb.cells[2].source.replace("y = double(21)", "y = double(21.0)")
        nb.cells[8].source = nb.cells[8].source.replace(
            "predicted_8 = 4.0\npredicted_3 = 1.5", "predicted_8, predicted_3 = 8 / 2, 3 / 2"
        )
        nbformat.write(nb, path)
    rows = grade(course, data, solved, timeout=30, report=lambda line: None)
    assert [(r.exercise, r.passed, r.total, r.score) for r in rows] == [
        ("1.1", 2, 2, 1.0),
        ("1.2", 1, 1, 1.0),
        ("1.3", 0, 0, None),
        ("3.1", 3, 3, 1.0),
        ("3.2", 1, 1, 1.0),
    ]
    assert all(r.reason == "" for r in rows if r.exercise != "1.3")


def _student_with(fresh: Path, target: Path, double: str, relu: str) -> Path:
    shutil.copytree(fresh, target)
    ops = target / PACKAGE / "ops.py"
    text = ops.read_text()
    text = text.replace('raise ExerciseNotDone("exercise 3.1: double: return twice x")', double)
    text = text.replace('raise ExerciseNotDone("exercise 3.2: relu_backward: pass g where value > 0, else 0.0")', relu)
    ops.write_text(text)
    return target


def test_an_endless_loop_costs_only_its_exercise(fixture_course, fresh, tmp_path):
    course, data = fixture_course
    student = _student_with(fresh, tmp_path / "looping", "return x + x", "while True:\n            pass")
    rows = grade(course, data, student, timeout=2, notebooks="none")
    # 3.2's own test is a hypothesis test: the time limit holds for it, and the reason says so
    assert [(r.exercise, r.passed, r.total) for r in rows][2:] == [("1.3", 0, 0), ("3.1", 3, 3), ("3.2", 0, 1)]
    assert rows[4].reason == (
        "tests/test_ops.py::test_relu_backward_passes_the_gradient_of_positive_inputs: timed out after 2 s; "
        "run `make check EX=3.2` to see it"
    )


def test_a_crash_costs_only_the_tests_that_crashed(fixture_course, fresh, tmp_path):
    course, data = fixture_course
    student = _student_with(
        fresh, tmp_path / "crashing", "import os\n    os._exit(3)", "out.append(g if 0 < value else 0.0)"
    )
    rows = grade(course, data, student, timeout=30, notebooks="none")
    assert [(r.exercise, r.passed, r.total) for r in rows][2:] == [("1.3", 0, 0), ("3.1", 0, 3), ("3.2", 1, 1)]
    assert rows[3].reason.startswith("tests/test_ops.py::test_double: did not finish: its process ended before check 1")


def test_a_student_notebook_runs_up_to_its_first_stub_and_stops_naming_it(fresh):
    records = execute_notebook(fresh / "notebooks/01_demo.ipynb", fresh, timeout=60, stop_on_error=True)
    assert [(r["index"], r["ok"]) for r in records] == [(1, True), (2, False)]
    assert records[-1]["error"] == "ExerciseNotDone: exercise 1.1: set y to double of 21"


def test_make_grade_grades_a_folder_of_submissions_into_one_csv(fixture_course, fresh, tmp_path):
    course, data = fixture_course
    submissions = tmp_path / "submissions"
    shutil.copytree(fresh, submissions / "ada")
    _student_with(fresh, submissions / "bob", "return 2 * x", "out.append(0.0)")
    out = subprocess.run(
        [sys.executable, "-m", "teacher", "--timeout", "30", "grade", str(submissions), "--notebooks", "none"],
        cwd=course.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools")},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "== ada" in out.stdout and "== bob" in out.stdout
    lines = (submissions / "grades.csv").read_text().splitlines()
    assert lines[0] == "student,exercise,passed,total,score,reason,where,task,part,graded"
    assert "bob,3.1,3,3,1.0000,,scratchlib/ops.py:6,double: return twice x,core,auto" in lines
    bob_32 = next(line for line in lines if line.startswith("bob,3.2,"))
    # the reason names the check and the entries that differ, never a value
    assert bob_32.startswith(
        "bob,3.2,0,1,0.0000,tests/test_ops.py::test_relu_backward_passes_the_gradient_of_positive_inputs: check "
    )
    assert " of 100: 1 of 1 entries differ (at [0]); run `make check EX=3.2` to see it," in bob_32
    assert (
        "ada,3.1,0,3,0.0000,not attempted: the stub is still there "
        "(exercise 3.1: double: return twice x),scratchlib/ops.py:6,double: return twice x,core,auto"
    ) in lines
    assert "ada,1.3,0,0,,graded by hand from the rubric,notebooks/01_demo.ipynb cell 9:3," in "\n".join(lines)
    wide = (submissions / "grades-wide.csv").read_text().splitlines()
    assert wide == [
        "student,1.1,1.2,1.3,3.1,3.2,core,optional",
        "ada,0.0000,0.0000,by hand,0.0000,0.0000,0.0000,",
        "bob,0.0000,0.0000,by hand,1.0000,0.0000,0.2500,",
    ]
    report = (submissions / "ada" / "grade-report.html").read_text()
    assert "not attempted: the stub is still there" in report
    # the derivations' rubric is the teacher's: a file of its own, next to the CSVs, never in a report
    rubric = (submissions / "grades-by-hand.md").read_text()
    assert "halve(halve(x)) = (x / 2) / 2 = x / 4." in rubric and "### ada" in rubric
    assert "(x / 2) / 2" not in report


def _make_check(copy: Path, exercise: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "check", f"EX={exercise}", f"PYTHON={sys.executable}"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )


@pytest.mark.parametrize(
    "exercise, stub, solution",
    [
        ("3.1", 'raise ExerciseNotDone("exercise 3.1: double: return twice x")', "return 2 * x"),
        (
            "1.2",
            "predicted_8, predicted_3 = ..., ...  # exercise 1.2: predict halve(8) and halve(3)",
            "predicted_8 = 4.0\npredicted_3 = 1.5",
        ),
    ],
)
def test_make_check_in_the_student_edition_fails_on_the_stub_and_passes_with_the_solution(
    fresh, tmp_path, exercise, stub, solution
):
    copy = tmp_path / "student"
    shutil.copytree(fresh, copy)
    out = _make_check(copy, exercise)
    assert out.returncode != 0, out.stdout + out.stderr
    assert "FAIL" in out.stdout and "not attempted: the stub is still there" in out.stdout
    assert f"Hint for exercise {exercise}" in out.stdout
    assert ("Twice x is x + x." if exercise == "3.1" else "predict halve(8) and halve(3)") in out.stdout
    if exercise == "3.1":
        path = copy / "scratchlib/ops.py"
        assert stub in path.read_text()
        path.write_text(path.read_text().replace(stub, solution))
    else:  # the student edits the cell in the lab and saves the notebook
        path = copy / "notebooks/01_demo.ipynb"
        nb = nbformat.read(path, as_version=4)
        assert stub in nb.cells[8].source
        nb.cells[8].source = nb.cells[8].source.replace(stub, solution)
        nbformat.write(nb, path)
    out = _make_check(copy, exercise)
    assert "FAIL" not in out.stdout and "Hint" not in out.stdout and ("PASS" in out.stdout) == (exercise == "3.1")
    # 3.2's test_relu_backward (one of 3.1's tests) and 1.2's checking cell (it reads 1.1's y) also
    # need the other exercise, still stubbed in this copy: they wait for it and do not fail this one.
    # 3.1 passes every test that runs it alone, so it is done (exit 0); 1.2's only cell waits (exit 1)
    other, waits = {
        "3.1": (
            "3.2",
            ("3 of 4 passed", "WAIT  tests/test_ops.py::test_relu_backward\n        needs exercise 3.2 first"),
        ),
        "1.2": ("1.1", ("0 of 1 passed", "WAIT  notebooks/01_demo.ipynb cell 8\n        needs exercise 1.1 first")),
    }[exercise]
    assert (out.returncode == 0) == (exercise == "3.1"), out.stdout + out.stderr
    assert waits[1] in out.stdout
    assert f"{waits[0]}; 1 waits for another exercise (it runs again once that one is done)" in out.stdout
    assert out.stdout.rstrip().endswith(
        "passes every test that runs it alone: done. The tests that wait also run exercise 3.2; "
        "they run again when you check it."
        if exercise == "3.1"
        else f"do exercise {other} first, then check again."
    )
    # once the other exercise is done too, every test of this one runs and passes
    if exercise == "3.1":
        path.write_text(
            re.sub(r'raise ExerciseNotDone\("exercise 3.2:.*', "out.append(g if value > 0 else 0.0)", path.read_text())
        )
    else:
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if '"exercise 1.1:' in c.source)
        cell.source = re.sub(r'raise ExerciseNotDone\("exercise 1.1:.*', "y = double(21)", cell.source)
        nbformat.write(nb, path)
        ops = copy / "scratchlib/ops.py"  # 1.1's cell calls double: exercise 3.1
        ops.write_text(re.sub(r'raise ExerciseNotDone\("exercise 3.1:.*', "return 2 * x", ops.read_text()))
    out = _make_check(copy, exercise)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WAIT" not in out.stdout and "FAIL" not in out.stdout


def test_make_check_reads_the_id_as_text_and_never_runs_what_ex_holds(fresh, tmp_path):
    copy = tmp_path / "student"
    shutil.copytree(fresh, copy)
    out = _make_check(copy, "3.10")  # not 3.1
    assert "Error 2" in out.stderr and "PASS" not in out.stdout and "FAIL" not in out.stdout  # a bad id
    assert "error: check: no exercise 3.10 in this course; notebook 03's nearest are 3.1, 3.2" in out.stderr
    out = _make_check(copy, "99.9;echo hi")
    assert "Error 2" in out.stderr and "hi" not in out.stdout.split()
    assert "error: check: '99.9;echo hi' is not an exercise id" in out.stderr
    out = _make_check(copy, "3.1'; echo hi; '")  # a quote cannot close the quoting either
    assert "Error 2" in out.stderr and "hi" not in out.stdout.split()


def test_check_in_a_notebook_prints_its_report_and_returns_nothing_to_echo(fresh, tmp_path):
    """Jupyter shows a cell's last value under its output: check() returns None, not a stray False."""
    from scratchlib.course import exercises

    copy = tmp_path / "student"
    shutil.copytree(fresh, copy)
    lines = []
    assert exercises.check("3.1", root=copy, out=lines.append) is None
    report = "\n".join(lines)
    assert report.startswith("exercise 3.1: double: return twice x") and "Hint for exercise 3.1:" in report


def test_check_in_a_kernel_forks_a_warm_pytest_that_reads_the_files_as_they_are_now(fresh, tmp_path):
    """In a notebook's kernel, check() runs its pytest in a child of multiprocessing's fork server (torch
    and pytest imported once): each check still reads the student's files as they are on disk."""
    from nbclient import NotebookClient

    copy = tmp_path / "student"
    shutil.copytree(fresh, copy)
    cells = [
        "from scratchlib.course import exercises, runner\nexercises.check('3.1')",
        "exercises.check('3.1')",
        "import multiprocessing.forkserver as f\nprint(runner.in_kernel(), f._forkserver._forkserver_pid)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(copy)}})
    ops = copy / "scratchlib/ops.py"
    text = ops.read_text()
    stub = text[text.index("    raise ExerciseNotDone(") :].split("\n", 1)[0]
    with client.setup_kernel(env={**os.environ, "PYTHONPATH": str(copy)}, stderr=subprocess.DEVNULL):
        client.execute_cell(nb.cells[0], 0)
        ops.write_text(text.replace(stub, "    return 2 * x"))  # the student writes 3.1, then checks again
        client.execute_cell(nb.cells[1], 1)
        client.execute_cell(nb.cells[2], 2)
    shown = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert "0 of 4 passed" in shown[0] and "Hint for exercise 3.1:" in shown[0]
    # its own tests pass now; test_relu_backward also runs 3.2, still a stub, and waits for it
    assert "3 of 4 passed; 1 waits" in shown[1] and "passes every test that runs it alone: done" in shown[1]
    in_kernel, server = shown[2].split()
    assert in_kernel == "True" and int(server) > 0


def test_a_failing_test_that_runs_a_changed_neighbour_points_there_not_at_this_exercise(fresh, tmp_path):
    """test_relu_backward runs 3.1's double and 3.2's relu_backward (the map records it): with a wrong
    double, 3.2's check blames 3.1, and prints no hint of 3.2's as if 3.2 were wrong."""
    student = _student_with(fresh, tmp_path / "student", "return x * 3", "out.append(g if 0 < value else 0.0)")
    data = json.loads((student / EXERCISE_MAP).read_text())
    assert data["reaches"]["tests/test_ops.py::test_relu_backward"] == ["3.1", "3.2"]
    out = _make_check(student, "3.2")
    assert out.returncode != 0 and "Error 1" in out.stderr, out.stdout + out.stderr  # a failed check
    assert (
        "FAIL  tests/test_ops.py::test_relu_backward\n        At index 1 diff: 9.0 != 6.0  "
        "(assert [0.0, 9.0, 0.0, -8.0] == [0.0, 6.0, 0.0, -8.0])\n"
        "        this test also runs 3.1, which you changed: check 3.1 first"
    ) in out.stdout
    assert "Hint for exercise 3.2" not in out.stdout and "1 of 2 passed" in out.stdout
    assert out.stdout.rstrip().endswith(
        "Every failing test also runs exercise 3.1, which you changed: check 3.1 first (make check EX=3.1), "
        "then this one again."
    )
    # 3.1's own tests fail on 3.1 alone: its hint, and a word on the shared test
    out = _make_check(student, "3.1")
    assert "Hint for exercise 3.1:\nTwice x is x + x." in out.stdout
    assert "(Some failing tests also run 3.2, which you changed: check it too.)" in out.stdout


@pytest.mark.parametrize("exercise", ["3.2", "1.2"])
def test_isolation_put_back_one_solution_gives_that_exercise_full_marks_and_the_others_zero(
    fixture_course, fresh, tmp_path, exercise
):
    """3.2's test_relu_backward also calls 3.1's double, and 1.2's checking cell reads 1.1's y: graded
    alone, each still gets full marks with its neighbour stubbed (its solution written differently,
    so that its tests do run)."""
    course, data = fixture_course
    student = tmp_path / "one"
    shutil.copytree(fresh, student)
    if exercise == "3.2":
        ops = student / PACKAGE / "ops.py"
        ops.write_text(
            ops.read_text().replace(
                'raise ExerciseNotDone("exercise 3.2: relu_backward: pass g where value > 0, else 0.0")',
                "out.append(g if 0 < value else 0.0)",
            )
        )
    else:
        path = student / "notebooks/01_demo.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells[8].source = nb.cells[8].source.replace(
            "predicted_8, predicted_3 = ..., ...", "predicted_8, predicted_3 = 4.0, 1.5"
        )
        nbformat.write(nb, path)
    rows = grade(course, data, student, timeout=30, report=lambda line: None)
    assert {r.exercise: r.score for r in rows if r.total} == {
        e: float(e == exercise) for e in ("1.1", "1.2", "3.1", "3.2")
    }
    assert all(
        r.reason.startswith("not attempted: the stub is still there")
        for r in rows
        if r.total and r.exercise != exercise
    )


def test_isolation_costs_a_wrong_exercise_only_its_own_failures(fixture_course, fresh, tmp_path):
    """A wrong double (3.1) and a wrong 1.1 (y never set) fail their own tests, and not those of 3.2 and 1.2,
    which are right: 3.2's own test runs 3.2 alone, and 1.2's answer is read as the number it is."""
    course, data = fixture_course
    student = _student_with(fresh, tmp_path / "wrong", "return x * 3", "out.append(g if 0 < value else 0.0)")
    path = student / "notebooks/01_demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace(
        'raise ExerciseNotDone("exercise 1.1: set y to double of 21")', "z = double(21)"
    )
    nb.cells[8].source = nb.cells[8].source.replace(
        "predicted_8, predicted_3 = ..., ...", "predicted_8, predicted_3 = 4.0, 1.5"
    )
    nbformat.write(nb, path)
    rows = {r.exercise: r for r in grade(course, data, student, timeout=30, report=lambda line: None)}
    assert {e: (r.passed, r.total) for e, r in rows.items() if r.total} == {
        "1.1": (0, 2),
        "1.2": (1, 1),
        "3.1": (0, 3),
        "3.2": (1, 1),
    }
    assert rows["3.1"].reason == (
        "tests/test_ops.py::test_double: check 1 of 1: the value differs; run `make check EX=3.1` to see it"
    )
    assert rows["1.1"].reason == "notebooks/01_demo.ipynb::cell 2: raised NameError; run `make check EX=1.1` to see it"


def test_notebook_cells_run_in_the_sandbox_as_in_a_kernel_and_a_cell_that_hangs_or_exits_costs_its_exercise(
    fixture_course, fresh, tmp_path
):
    """The grader runs a notebook's cells in an IPython shell of the sandbox's own child, not in a kernel
    (issue 29: a kernel cost 350 MB): what a notebook uses of IPython works there (display, magics,
    get_ipython), a cell past its time stops the notebook with a timeout, and a cell that ends the
    process is a cell that did not finish."""
    course, data = fixture_course
    cells = {
        "shell": "from IPython.display import display\n%time y = double(21)\ndisplay(get_ipython() is not None)",
        "hang": "y = double(21)\nwhile True:\n    pass",
        "exit": "import os\nos._exit(0)",
    }
    copies = {}
    for name, code in cells.items():
        copies[name] = student = _student_with(fresh, tmp_path / name, "return x + x", "out.append(0.0)")
        nb = nbformat.read(student / "notebooks/01_demo.ipynb", as_version=4)
        nb.cells[2].source = nb.cells[2].source.replace(
            'raise ExerciseNotDone("exercise 1.1: set y to double of 21")', code
        )
        nbformat.write(nb, student / "notebooks/01_demo.ipynb")
    rows = {
        n: {r.exercise: r for r in grade(course, data, c, timeout=3, report=lambda line: None)}
        for n, c in copies.items()
    }
    assert (rows["shell"]["1.1"].passed, rows["shell"]["1.1"].total) == (2, 2)
    assert rows["shell"]["3.1"].score == 1.0  # the library exercise, graded beside it
    assert rows["hang"]["1.1"].passed == 0
    assert rows["hang"]["1.1"].reason.startswith("notebooks/01_demo.ipynb::cell 2: timed out")
    assert rows["exit"]["1.1"].passed == 0
    assert rows["exit"]["1.1"].reason.startswith("notebooks/01_demo.ipynb::cell 2: did not finish")
    assert rows["exit"]["3.1"].score == 1.0


def test_gradescope_autograder_grades_a_submission_laid_out_as_gradescope_does(fixture_course, fresh, tmp_path):
    """run_autograder as Gradescope runs it (AUTOGRADER_ROOT stands for /autograder): results.json with one
    test per exercise (the core score counted, optional apart, a derivation's point to grade by hand), the
    execution time, and the table on the instructor's stdout. Issue 29, item 1d: a submission that writes
    its own results.json with full marks, tries to kill the grader and leaves a process behind to write it
    again later gets what its work deserves, in the grader's file."""
    course, _ = fixture_course
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
    made = subprocess.run(
        [sys.executable, "-m", "teacher", "--root", str(course.root), "gradescope", "--out", str(tmp_path / "ag.zip")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    root = tmp_path / "autograder"  # stands for /autograder
    with zipfile.ZipFile(tmp_path / "ag.zip") as z:
        names = z.namelist()
        z.extractall(root / "source")
        assert z.getinfo("run_autograder").external_attr >> 16 & 0o111
        setup = z.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "tests/exercises.json", "tests/expect.py", "tools/teacher/grade.py"} <= set(
        names
    )
    # setup.sh: the course's packages (torch's CPU build) in a virtual environment every user can read, not
    # the course itself; the solution's run made once
    assert "tools/torch_index.py" in setup and '-m venv "$VENV"' in setup and "chmod -R a+rX" in setup
    assert "-m teacher requirements" in setup and "-m teacher reference" in setup and "pip install -e" not in setup
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    forged = {"score": 100.0, "tests": [{"name": "everything", "score": 100.0, "max_score": 1.0}]}
    results_path = root / "results" / "results.json"
    forge = (
        "import json, os, signal, subprocess, sys\n"
        "        if not hasattr(sys, 'h15_forged'):\n"
        "            sys.h15_forged = True\n"
        f"            os.makedirs({str(results_path.parent)!r}, exist_ok=True)\n"
        f"            open({str(results_path)!r}, 'w').write({json.dumps(forged)!r})\n"
        f"            later = 'import time; time.sleep(3); open({str(results_path)!r}, \"w\")'\n"
        f"            later += '.write({json.dumps(forged)!r})'\n"
        "            subprocess.Popen([sys.executable, '-c', later], start_new_session=True)\n"
        "            with open(f'/proc/{os.getppid()}/stat') as f:\n"
        "                grandparent = int(f.read().rsplit(')', 1)[1].split()[1])\n"
        "            for pid in (os.getppid(), grandparent):\n"
        "                try:\n"
        "                    os.kill(pid, signal.SIGKILL) if pid > 1 else None\n"
        "                except OSError:\n"
        "                    pass\n"
        "        out.append(0.0)"
    )
    _student_with(fresh, root / "submission" / "my-copy", "return 2 * x", forge)
    done = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        capture_output=True,
        text=True,
        env={**env, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable, "TIMEOUT": "30"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(results_path.read_text())
    by_name = {t["name"].split(":")[0].split(" (")[0]: t for t in results["tests"]}
    assert (
        by_name["exercise 3.1"]["score"] == 1.0 and by_name["exercise 3.1"]["output"] == "all 3 tests of its own passed"
    )
    assert by_name["exercise 3.2"]["score"] == 0.0 and "make check EX=3.2" in by_name["exercise 3.2"]["output"]
    assert (
        by_name["exercise 1.1"]["output"].startswith("not attempted")
        and "make check EX=1.1" in by_name["exercise 1.1"]["output"]
    )
    derivation = by_name["exercise 1.3"]
    assert (
        derivation["max_score"] == 1.0
        and derivation["tags"] == ["graded by hand"]
        and "placeholder" in derivation["output"]
    )
    assert results["score"] == 1.0 and results["extra_data"] == {"core": 1.0, "optional": 0.0, "by_hand": 1}
    assert isinstance(results["execution_time"], int) and results["stdout_visibility"] == "hidden"
    assert "exercise  passed  total  score" in done.stdout and "3.1            3      3   1.00" in done.stdout
    time.sleep(4)  # the process it left behind would have written again by now
    assert json.loads(results_path.read_text()) == results


def test_a_copy_that_does_not_import_is_reported_and_the_others_still_graded(fixture_course, fresh, tmp_path):
    """Only the student's code in the exercises is graded: a broken scratchlib/__init__.py is not theirs to
    break (the edition's is used); a top-level import the student added to a graded file is kept, and a
    file that then does not import costs the exercises in it."""
    course, _ = fixture_course
    submissions = tmp_path / "submissions"
    broken = _student_with(fresh, submissions / "broken", "return 2 * x", "out.append(g if 0 < value else 0.0)")
    (broken / PACKAGE / "__init__.py").write_text("raise ImportError('half-saved file')\n")
    missing = _student_with(fresh, submissions / "cy", "return 2 * x", "out.append(g if 0 < value else 0.0)")
    ops = missing / PACKAGE / "ops.py"
    ops.write_text("import no_such_module\n" + ops.read_text())
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "teacher",
            "--root",
            str(course.root),
            "--timeout",
            "30",
            "grade",
            str(submissions),
            "--notebooks",
            "none",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools")},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = (submissions / "grades-wide.csv").read_text().splitlines()
    assert lines[1:] == [
        "broken,0.0000,0.0000,by hand,1.0000,1.0000,0.5000,",
        "cy,0.0000,0.0000,by hand,0.0000,0.0000,0.0000,",
    ]
    assert "could not be collected" in (submissions / "cy" / "grade-report.html").read_text()


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_make_grade_refuses_a_bad_dir_in_one_line_with_exit_2(tmp_path, kind):
    target = tmp_path / "nowhere"
    if kind == "file":
        target.write_text("not a folder")
    out = subprocess.run(
        [sys.executable, "-m", "teacher", "--root", str(FIXTURE), "grade", str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools")},
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and str(target) in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("target", [".", ".."])
def test_make_grade_refuses_the_course_folder_itself_and_writes_nothing(tmp_path, target):
    # issue 30, item 12: make grade DIR=. graded the course's own solutions and wrote its reports into it
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    before = tree(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "teacher", "grade", target],
        cwd=course,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools")},
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert f"error: DIR {target} " in out.stderr and "course folder" in out.stderr
    assert tree(tmp_path) == before  # no grades.csv, no grade-report.html


def test_a_copy_with_an_empty_package_is_reported_as_missing_files(fixture_course, fresh, tmp_path):
    # issue 30, item 12: an empty scratchlib/ was reported as "stub still there"
    course, data = fixture_course
    copy = tmp_path / "empty"
    shutil.copytree(fresh, copy)
    shutil.rmtree(copy / PACKAGE)
    (copy / PACKAGE).mkdir()
    (copy / "notebooks" / "01_demo.ipynb").unlink()
    rows = grade(course, data, copy, timeout=30, report=lambda line: None)
    reasons = {r.exercise: r.reason for r in rows}
    assert reasons["3.1"] == "file missing: scratchlib/ops.py is not in the copy (exercise 3.1: double: return twice x)"
    assert reasons["3.2"].startswith("file missing: scratchlib/ops.py is not in the copy (exercise 3.2:")
    assert reasons["1.1"].startswith("file missing: notebooks/01_demo.ipynb is not in the copy (exercise 1.1:")
    assert all(r.passed == 0 for r in rows)


FORGE = (
    "import time, pathlib\n"
    "time.sleep(3)  # h15-detached-forger\n"
    "for path in {paths!r}:\n"
    "    pathlib.Path(path).write_text('FORGED: full marks')\n"
    "pathlib.Path({marker!r}).write_text('the detached process outlived the grader')\n"
)


def _hostile_class(fresh: Path, folder: Path, protected: bool) -> dict[str, dict[str, float | None]]:
    """Copies that attack the grader (issue 29), beside an honest one; what each deserves by its work."""
    honest = _student_with(fresh, folder / "honest", "return 2 * x", "out.append(g if 0 < value else 0.0)")
    nb = nbformat.read(honest / "notebooks/01_demo.ipynb", as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace(
        'raise ExerciseNotDone("exercise 1.1: set y to double of 21")', "y = 2 * 21"
    )
    nb.cells[8].source = nb.cells[8].source.replace(
        "predicted_8, predicted_3 = ..., ...", "predicted_8, predicted_3 = 4, 3 / 2"
    )
    nbformat.write(nb, honest / "notebooks/01_demo.ipynb")
    # 1a, 1b: the grader's switch overridden and a pytest hook that rewrites every report to passed, from
    # scratchlib/__init__.py and from inside the exercise itself, around a wrong double
    hook = (
        "import gc\n"
        "import pytest\n"
        "try:\n"
        "    import _teacher_probe\n"
        "    _teacher_probe.mine = lambda exercises: False\n"
        "except ImportError:\n"
        "    pass\n"
        "class Passing:\n"
        "    @pytest.hookimpl(hookwrapper=True)\n"
        "    def pytest_runtest_makereport(self, item, call):\n"
        "        outcome = yield\n"
        "        outcome.get_result().outcome = 'passed'\n"
        "for found in gc.get_objects():\n"
        "    if isinstance(found, pytest.Config) and not found.pluginmanager.has_plugin('passing'):\n"
        "        found.pluginmanager.register(Passing(), 'passing')\n"
    )
    # 1d: a detached process (its own session) that rewrites the reports after the grader is done
    reports = [folder / "forger" / "grade-report.html", folder / "grades.csv", folder / "grades-wide.csv"]
    script = FORGE.format(paths=[str(p) for p in reports], marker=str(folder.parent / "forged"))
    detach = (
        "import builtins\n"
        "        if not hasattr(builtins, 'h15_detached'):\n"
        "            builtins.h15_detached = True\n"
        "            import subprocess, sys\n"
        f"            subprocess.Popen([sys.executable, '-c', {script!r}], start_new_session=True,\n"
        "                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "        out.append(g if value > 0 else 0.0)"
    )
    forger = _student_with(
        fresh, folder / "forger", textwrap.indent(hook, "    ").strip() + "\n    return x + x + 1", detach
    )
    (forger / PACKAGE / "__init__.py").write_text(hook)
    nb = nbformat.read(forger / "notebooks/01_demo.ipynb", as_version=4)
    # 2: the failure reason is the student's own text (it printed the source it could find)
    nb.cells[2].source = nb.cells[2].source.replace(
        'raise ExerciseNotDone("exercise 1.1: set y to double of 21")',
        "import inspect, scratchlib.ops\ny = double(21)\n"
        "raise ValueError('SECRET-MARKER ' + inspect.getsource(scratchlib.ops))",
    )
    # 1c: a wrong prediction whose checking code is patched to accept it
    nb.cells[8].source = nb.cells[8].source.replace(
        "predicted_8, predicted_3 = ..., ...",
        "predicted_8, predicted_3 = 5.0, 1.5\n"
        "import scratchlib.ops\nscratchlib.ops.halve = lambda v: {8: 5.0}.get(v, v / 2)",
    )
    nbformat.write(nb, forger / "notebooks/01_demo.ipynb")
    # 3: a copy that kills its parent (at import, which is not graded code, and in its exercise)
    killer = _student_with(
        fresh,
        folder / "killer",
        "import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n    return x + x + 1",
        "out.append(g if 0 < value else 0.0)",
    )
    (killer / PACKAGE / "__init__.py").write_text("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    # 3: one that kills its grandparent, the supervisor of its copy: possible only where the sandbox runs as
    # the grader's own user with no pid namespace of its own; elsewhere the kill fails and double is right
    _student_with(
        fresh,
        folder / "parricide",
        "import os, signal\n"
        "    with open(f'/proc/{os.getppid()}/stat') as f:\n"
        "        grandparent = int(f.read().rsplit(')', 1)[1].split()[1])\n"
        "    try:\n"
        "        os.kill(grandparent, signal.SIGKILL) if grandparent > 1 else None\n"
        "    except OSError:\n"
        "        pass\n"
        "    return 2 * x",
        "out.append(g if 0 < value else 0.0)",
    )
    # 2: one that looks for the course's solution in every file it can see, and answers right only if found
    _student_with(
        fresh,
        folder / "seeker",
        "import os, sys\n"
        "    here = os.getcwd()\n"
        "    roots = [here, os.path.dirname(os.path.dirname(here)), os.environ.get('HOME', '')]\n"
        "    roots += [p for p in sys.path if p and 'site-packages' not in p and 'python3' not in p]\n"
        "    found = False\n"
        "    for root in roots:\n"
        "        for folder, _, names in os.walk(root, followlinks=True):\n"
        "            for name in names:\n"
        "                try:\n"
        "                    with open(os.path.join(folder, name), errors='ignore') as f:\n"
        "                        found = found or ('result = 2 ' + '* x') in f.read()  # not its own text\n"
        "                except OSError:\n"
        "                    pass\n"
        "    return 2 * x if found else 0",
        "out.append(g if 0 < value else 0.0)",
    )
    right = {"1.1": 1.0, "1.2": 1.0, "1.3": None, "3.1": 1.0, "3.2": 1.0}
    zero = dict.fromkeys(right, 0.0) | {"1.3": None}
    return {
        "honest": right,
        "forger": {**right, "1.1": 0.0, "1.2": 0.0, "3.1": 0.0},  # 3.2 is right: its detached process aside
        "killer": {**zero, "3.2": 1.0},
        "parricide": {**zero, "3.1": 1.0, "3.2": 1.0} if protected else zero,
        "seeker": {**zero, "3.2": 1.0},
    }


def test_copies_that_attack_the_grader_score_what_their_work_deserves_and_leave_the_reports_alone(
    fixture_course, fresh, tmp_path
):
    """Issue 29, attacks 1-3, in one class run beside an honest copy: the student's code sets no score
    (no switch to flip, no report of pytest's that counts), the reason shown is the grader's, no solution
    is in the sandbox's sight, and a copy that kills its parent or its grader costs only itself. Nothing
    of any copy outlives the run, and the reports are written after everything has ended."""
    from teacher.grade import isolation

    course, _ = fixture_course
    submissions = tmp_path / "submissions"
    protected = not isolation().startswith("the grader's own user")
    deserved = _hostile_class(fresh, submissions, protected)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "teacher", "--timeout", "20", "--jobs", "2", "grade", str(submissions)],
        cwd=course.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools"), "TMPDIR": str(scratch)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    reports = {p: p.read_bytes() for p in [*submissions.glob("*/grade-report.html"), *submissions.glob("*.csv")]}
    lines = {row[0]: row for row in csv.reader((submissions / "grades-wide.csv").read_text().splitlines())}
    exercises = lines["student"][1:-2]
    for name, scores in deserved.items():
        got = [None if v == "by hand" else float(v) for v in lines[name][1:-2]]
        assert dict(zip(exercises, got)) == scores, name
    long = (submissions / "grades.csv").read_text()
    assert protected or "the grader's process for this copy ended without a result" in long
    # the reasons are the grader's: no text the student's code raised or printed, no solution line
    for path, data in reports.items():
        text = data.decode()
        assert "SECRET-MARKER" not in text and "result = 2 * x" not in text and "g if value > 0" not in text, path
    assert "notebooks/01_demo.ipynb::cell 2: raised ValueError" in long
    assert "predicted_8 is wrong" in long
    # nothing of any copy is left: no process, no temporary folder, and the reports stay as written
    time.sleep(4)
    assert not (tmp_path / "forged").exists()
    assert {p: p.read_bytes() for p in reports} == reports
    alive = subprocess.run(["pgrep", "-f", "h15-detached-forger"], capture_output=True, text=True).stdout
    assert alive == ""
    assert list(scratch.iterdir()) == []


def test_graded_copies_hold_no_solution(fixture_course, fresh, tmp_path):
    """A graded copy is the student edition with only the student's code for the exercises under test."""
    from teacher import isolate

    course, _ = fixture_course
    student = _student_with(fresh, tmp_path / "student", "return x * 3", "out.append(0.0)")
    copy = isolate.read(course, student)
    assert {e: a.state for e, a in copy.attempts.items()} == {"3.1": "own", "3.2": "own", "1.1": "stub", "1.2": "stub"}
    for exercises in ({"3.1"}, {"3.2"}, {"3.1", "3.2", "1.1"}):
        graded = tmp_path / "graded" / "-".join(sorted(exercises))
        isolate.write_graded(copy, fresh, graded, exercises, notebooks=True)
        texts = [p.read_text(errors="ignore") for p in graded.rglob("*") if p.is_file()]
        assert not any(line in text for text in texts for line in ("2 * x", "g if value > 0", "double(21)"))
        ops = (graded / "scratchlib/ops.py").read_text()
        assert ("x * 3" in ops) == ("3.1" in exercises) and ("out.append(0.0)" in ops) == ("3.2" in exercises)


@pytest.mark.parametrize(
    "region, state",
    [
        ("result = 2 * x\n    return result", "solution"),
        ("result = 2 * x  # twice\n\n    return (result)", "solution"),  # layout, comments, parentheses aside
        ("return 2 * x", "own"),
        # issue 29, item 5: lines moved inside an `if`, the same text but not the same code: it runs
        ("if x:\n        result = 2 * x\n    return result", "own"),
        ("result = 2 * x\n    if x:\n        return result", "own"),
        ("result = 2 * x\n    return result\n  oops", "broken"),
    ],
)
def test_equal_to_the_solution_is_decided_on_the_syntax_tree(fixture_course, fresh, tmp_path, region, state):
    from teacher import isolate

    course, _ = fixture_course
    student = _student_with(fresh, tmp_path / "student", region, "out.append(g if value > 0 else 0.0)")
    copy = isolate.read(course, student)
    assert copy.attempts["3.1"].state == state
    assert copy.attempts["3.2"].state == "solution"


def test_a_region_moved_inside_an_if_is_run_and_fails(fixture_course, fresh, tmp_path):
    """Issue 29, item 5: the solution's lines moved inside an `if` were taken as the solution (full marks
    without running) though they fail when run."""
    course, data = fixture_course
    student = _student_with(
        fresh, tmp_path / "moved", "if x > 100:\n        result = 2 * x\n    return result", "out.append(0.0)"
    )
    rows = {r.exercise: r for r in grade(course, data, student, timeout=30, notebooks="none")}
    assert (rows["3.1"].passed, rows["3.1"].score) == (0, 0.0)
    assert rows["3.1"].reason.startswith("tests/test_ops.py::test_double: raised UnboundLocalError before check 1")


def test_after_an_exercises_first_timeout_its_other_tests_fail_without_running(fixture_course, fresh, tmp_path):
    course, data = fixture_course
    student = _student_with(
        fresh, tmp_path / "hang", "while True:\n        pass", "out.append(g if 0 < value else 0.0)"
    )
    rows = {r.exercise: r for r in grade(course, data, student, timeout=2, notebooks="none")}
    # 3.1's three tests: the first runs into the limit, the two others are not run at all
    assert (rows["3.1"].passed, rows["3.1"].total) == (0, 3)
    assert rows["3.1"].reason.startswith("tests/test_ops.py::test_double: timed out after 2 s")
    assert (rows["3.2"].passed, rows["3.2"].total) == (1, 1)


def test_a_hang_that_stops_the_alarm_is_killed_by_the_supervisor(fixture_course, fresh, tmp_path):
    """The time limit inside the test's process is an alarm the student's code can turn off; the
    supervisor's deadline, outside, is not."""
    course, data = fixture_course
    defeat = (
        "import signal\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    while True:\n"
        "        pass"
    )
    student = _student_with(fresh, tmp_path / "hang", defeat, "out.append(g if 0 < value else 0.0)")
    rows = {r.exercise: r for r in grade(course, data, student, timeout=2, notebooks="none")}
    assert rows["3.1"].reason.startswith("tests/test_ops.py::test_double: timed out after 2 s")
    assert (rows["3.2"].passed, rows["3.2"].total) == (1, 1)


def test_a_copy_past_its_time_is_cut_and_every_exercise_still_reported(fixture_course, fresh, tmp_path):
    course, data = fixture_course
    defeat = "import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass"
    student = _student_with(fresh, tmp_path / "hangs", defeat, "import time\n        time.sleep(3600)")
    rows = {r.exercise: r for r in grade(course, data, student, timeout=60, copy_timeout=12, notebooks="none")}
    assert rows["3.1"].reason.startswith("tests/test_ops.py::test_double: not run: the copy's time ran out")
    assert "not run: the copy's time ran out" in rows["3.2"].reason
    assert rows["1.1"].reason.startswith("not attempted")  # the rest is reported as it is


def test_a_copy_with_a_hang_a_syntax_error_and_a_failed_allocation_costs_only_those(fixture_course, fresh, tmp_path):
    """Issue 29, item 4: such a copy took 1,599 s; each of these costs its own exercise, within its limits."""
    course, data = fixture_course
    student = _student_with(fresh, tmp_path / "bad", "return bytearray(10**13)", "while True:\n            pass")
    path = student / "notebooks/01_demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace(
        'raise ExerciseNotDone("exercise 1.1: set y to double of 21")', "y = double(21"
    )
    nb.cells[8].source = nb.cells[8].source.replace(
        "predicted_8, predicted_3 = ..., ...", "predicted_8, predicted_3 = 4, 1.5"
    )
    nbformat.write(nb, path)
    rows = {r.exercise: r for r in grade(course, data, student, timeout=3)}
    assert rows["3.1"].reason.startswith("tests/test_ops.py::test_double: raised MemoryError before check 1")
    assert rows["3.2"].reason.startswith(
        "tests/test_ops.py::test_relu_backward_passes_the_gradient_of_positive_inputs: timed out after 3 s"
    )
    assert rows["1.1"].reason.startswith("your code does not compile: '(' was never closed")
    assert (rows["1.2"].passed, rows["1.2"].score) == (1, 1.0)


def test_optional_exercises_are_scored_apart_and_derivations_listed_for_the_teacher(tmp_path):
    """Exercises k.50 and up are optional: a core score and an optional score, in the table, the CSVs and
    the report. A derivation is an item to grade by hand, with its rubric in a teacher-only file."""
    root = copy_fixture(tmp_path / "course")
    ops = root / "scratchlib/ops.py"
    ops.write_text(ops.read_text().replace("SOLUTION 3.2:", "SOLUTION 3.50:"))  # relu_backward becomes optional
    course = scan(root)
    data = exercise_map(course, timeout=60)
    assert data["exercises"]["3.50"]["optional"]
    submissions = tmp_path / "submissions"
    student = submissions / "ada"
    write_edition(course, student, "student")
    ops = student / "scratchlib/ops.py"
    ops.write_text(
        ops.read_text().replace('raise ExerciseNotDone("exercise 3.1: double: return twice x")', "return x + x")
    )
    rows = grade(course, data, student, timeout=30, notebooks="none", report=lambda line: None)
    assert {r.exercise: (r.optional, r.score) for r in rows} == {
        "1.1": (False, 0.0),
        "1.2": (False, 0.0),
        "1.3": (False, None),
        "3.1": (False, 1.0),
        "3.50": (True, 0.0),
    }
    shown = table(rows)
    assert "core                      0.33  mean over 3 autograded core exercises" in shown
    assert "optional                  0.00  mean over 1 optional exercises" in shown
    assert "by hand                         1 derivations to grade by hand: 1.3" in shown
    from teacher.grade import rubric, to_csv, to_html, to_wide_csv

    assert to_wide_csv({"ada": rows}).splitlines() == [
        "student,1.1,1.2,1.3,3.1,3.50,core,optional",
        "ada,0.0000,0.0000,by hand,1.0000,0.0000,0.3333,0.0000",
    ]
    assert "ada,3.50,0,1,0.0000," in to_csv({"ada": rows}) and ",optional,auto" in to_csv({"ada": rows})
    assert "<h1>ada: core 33%, optional 0%</h1>" in to_html("ada", rows)
    by_hand = rubric(course, {"ada": rows}, {"ada": student})
    assert "## 1.3: show that halve(halve(x)) = x / 4" in by_hand and "x / 4." in by_hand
    assert "*Write your derivation here.*" in by_hand  # what ada's copy holds: the prompt, untouched


def _probe(course_root: Path, other: Path, scratch: Path) -> str:
    """An exercise (3.1) that looks for what the grader must keep from it; it answers right (twice x) only
    where nothing was in reach, and each thing found adds one."""
    return (
        "import glob, os, socket\n"
        "    found = 0\n"
        f"    for path in [{str(course_root / 'scratchlib/ops.py')!r}, {str(other / 'scratchlib/ops.py')!r}]:\n"
        "        try:\n"
        "            with open(path) as f:\n"
        "                found += 1 if f.read() else 0\n"
        "        except OSError:\n"
        "            pass\n"
        f"    found += len(glob.glob({str(scratch / 'teacher-grade-*/map.json')!r}))\n"
        f"    found += len(glob.glob({str(course_root / 'build/grader/reference-*.json')!r}))\n"
        "    with open('/proc/self/status') as f:\n"
        "        found += int([l for l in f if l.startswith('CapEff:')][0].split()[1], 16) != 0\n"
        "    try:\n"
        "        socket.create_connection(('192.0.2.1', 9), timeout=2).close()\n"
        "        found += 1\n"
        "    except OSError as error:\n"
        "        found += error.errno not in (101, 113)  # ENETUNREACH, EHOSTUNREACH: no network at all\n"
        "    return 2 * x + found"
    )


def _graded_class(course, submissions: Path, scratch: Path, run_as=None, python=sys.executable):
    command = [python, "-m", "teacher", "--timeout", "30", "grade", str(submissions), "--notebooks", "none"]
    out = subprocess.run(
        [*(run_as or []), *command],
        cwd=course,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools"), "TMPDIR": str(scratch)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return {row[0]: row for row in csv.reader((submissions / "grades-wide.csv").read_text().splitlines())}


def test_the_sandbox_sees_no_solution_no_other_copy_no_network_and_has_no_privileges(fixture_course, fresh, tmp_path):
    """Where the system gives the sandbox namespaces of its own: the course (solutions, the reference
    run), the other students' copies and the grader's temporary folder are out of its sight, it has no
    network, and, root or not, no capability to undo any of it."""
    from teacher import supervise

    if not supervise.namespaces(os.geteuid() == 0):
        pytest.skip("no namespaces on this system: the README says what the grader can promise then")
    course, _ = fixture_course
    submissions, scratch = tmp_path / "submissions", tmp_path / "tmp"
    scratch.mkdir()
    honest = _student_with(fresh, submissions / "honest", "return 2 * x", "out.append(g if 0 < value else 0.0)")
    _student_with(fresh, submissions / "prober", _probe(course.root, honest, scratch), "out.append(0.0)")
    lines = _graded_class(course.root, submissions, scratch)
    assert lines["prober"][lines["student"].index("3.1")] == "1.0000"  # nothing was in reach
    assert lines["honest"][lines["student"].index("3.1")] == "1.0000"


def _accessible_python(tmp: Path) -> str | None:
    """A Python every user can run, with this environment's packages (a virtual environment of the
    system's Python 3 of the same version, its site-packages pointing at ours), or None."""
    import sysconfig

    system = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if system is None or os.path.realpath(system).startswith("/root"):
        return None
    version = subprocess.run([system, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    if version.stdout.strip() != str(tuple(sys.version_info[:2])):
        return None
    venv = tmp / "venv"
    if subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], capture_output=True).returncode != 0:
        return None
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "course-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for folder in [tmp, *tmp.parents]:
        if folder == Path("/"):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o011) if os.stat(folder).st_uid == os.geteuid() else None
    return str(venv / "bin" / "python")


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop is the root path")
def test_as_root_the_students_code_runs_as_an_unprivileged_user(fixture_course, fresh, tmp_path):
    """Where Python and its packages are readable by every user (as make gradescope's setup.sh installs
    them), the grader, root, runs the students' code as a user of its own."""
    from teacher.grade import sandbox_user

    python = _accessible_python(Path(tempfile.mkdtemp(prefix="h15-python-")))
    if python is None or sandbox_user(0, python)[0] is None:
        pytest.skip("no Python readable by every user on this system")
    course, _ = fixture_course
    submissions, scratch = tmp_path / "submissions", Path(tempfile.mkdtemp(prefix="h15-tmp-"))
    os.chmod(scratch, 0o711)  # TMPDIR: the graded copies in it must be in the sandbox user's reach
    whoami = (
        "import os, resource\n"
        "    ok = os.getuid() >= 62000 and os.geteuid() >= 62000 and os.getgroups() == []\n"
        "    ok = ok and resource.getrlimit(resource.RLIMIT_NPROC)[0] <= 256\n"
        "    ok = ok and resource.getrlimit(resource.RLIMIT_AS)[0] < 2**40\n"
        "    return 2 * x if ok else 0"
    )
    _student_with(fresh, submissions / "ada", whoami, "out.append(g if 0 < value else 0.0)")
    lines = _graded_class(course.root, submissions, scratch, python=python)
    assert lines["ada"][1:] == ["0.0000", "0.0000", "by hand", "1.0000", "1.0000", "0.5000", ""]


def test_as_a_normal_user_the_grader_works_and_keeps_its_promises(fixture_course, fresh, tmp_path):
    """The grader run by a user who is not root (a teacher's laptop): the same marks, the copy that
    kills its parent costs only itself, the sandbox in a user namespace where the system allows it."""
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        base = Path(tempfile.mkdtemp(prefix="h15-user-"))
        python = _accessible_python(base)
        if setpriv is None or python is None:
            pytest.skip("no setpriv, or no Python readable by every user, to run the grader as a normal user")
        from teacher.grade import _others_can_use, _unreachable

        out_of_reach = _unreachable(python) or _others_can_use(ROOT / "tools" / "teacher" / "__main__.py")
        if out_of_reach:  # e.g. a clone in a folder only root can enter
            pytest.skip(f"the grader's packages or tools are out of a normal user's reach here: {out_of_reach}")
        run_as = [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]
        os.chmod(base, 0o777)
    else:
        run_as, python, base = None, sys.executable, tmp_path
    course = copy_fixture(base / "course")
    submissions, scratch = base / "submissions", base / "tmp"
    scratch.mkdir()
    write_edition(scan(course), base / "fresh", "student")
    fresh = base / "fresh"
    _student_with(fresh, submissions / "ada", "return 2 * x", "out.append(g if 0 < value else 0.0)")
    _student_with(
        fresh,
        submissions / "killer",
        "import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n    return x + x + 1",
        "out.append(g if 0 < value else 0.0)",
    )
    if run_as:
        subprocess.run(["chown", "-R", "65534:65534", str(base)], check=True)
    lines = _graded_class(course, submissions, scratch, run_as, python)
    assert lines["ada"][1:] == ["0.0000", "0.0000", "by hand", "1.0000", "1.0000", "0.5000", ""]
    assert lines["killer"][1:] == ["0.0000", "0.0000", "by hand", "0.0000", "1.0000", "0.2500", ""]


# ---------------------------------------------------------------- the real course


@pytest.fixture(scope="module")
def course():
    return scan(ROOT)


@pytest.fixture(scope="module")
def student_edition(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("course-student") / "student"
    write_edition(course, out, "student")
    return out


def test_the_course_edition_is_deterministic_and_has_no_solutions(course, student_edition, tmp_path):
    write_edition(scan(ROOT), tmp_path / "again", "student")
    files = tree(student_edition)
    assert tree(tmp_path / "again") == files
    for name in ("pyproject.toml", "Makefile", "README.md", f"{PACKAGE}/__init__.py"):
        assert name in files
    assert not [f for f in files if f.startswith(("tools/teacher/", "tests/teacher_fixture/", "tests/test_teacher"))]
    leaks = [f for f, data in files.items() if b"BEGIN SOLUTION" in data or b"TEACHER ONLY" in data]
    assert leaks == []
    # the student's README says how to work, and nothing of the teacher's tools or the hub
    readme = files["README.md"].decode()
    assert "## Working through the exercises" in readme and "make check EX=" in readme
    for teacher_word in ("make student", "make grade", "gradescope", "JupyterHub", "## Maintaining"):
        assert teacher_word not in readme, teacher_word
    for region in course.regions:
        path = region.where.split(" cell ")[0]
        assert region.stub().strip().encode() in files[path] or path.endswith(".ipynb")


def _statements(code: str) -> set[str]:
    """The simple statements of some code, as ast.unparse writes them (layout and comments aside)."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return set()
    compound = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.While, ast.With, ast.Try)
    return {
        ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.stmt) and not isinstance(node, compound)
    }


def _substantial(statement: str) -> bool:
    """A statement that says something of a solution: it computes (an operator, a subscript, a call with
    more than one plain name), not `return out`, `pass`, `optimizer.zero_grad()` or `net.step(lr)`."""
    node = ast.parse(statement).body[0]
    if isinstance(node, (ast.Return, ast.Pass, ast.Break, ast.Continue)) and len(statement) < 20:
        return False
    return any(
        isinstance(part, (ast.BinOp, ast.Subscript, ast.Compare))
        or (
            isinstance(part, ast.Call)
            and (len(part.args) + len(part.keywords) > 1 or any(not isinstance(a, ast.Name) for a in part.args))
        )
        for part in ast.walk(node)
    )


def test_the_student_edition_shows_no_solution_as_given_code(course, student_edition):
    """Issue 29, item 2: exercise 4.18's solution (log-softmax once, then the mean NLL) was given code in
    scratchlib/autograd/functional.py. No statement of any solution region may be given code anywhere in
    the edition (a .py file or a notebook's code cell), unless the exercise's own task states it."""
    given: dict[str, str] = {}
    for path in course.files:
        if path.startswith(f"{PACKAGE}/") and path.endswith(".py"):
            sources = [(student_edition / path).read_text()]
        elif path.startswith("notebooks/") and path.endswith(".ipynb"):
            cells = nbformat.read(student_edition / path, as_version=4).cells
            sources = [
                "\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                for c in cells
                if c.cell_type == "code"
            ]
        else:
            continue
        for source in sources:
            for statement in _statements(source):
                given.setdefault(statement, path)
    shown = []
    for region in course.regions:
        if course.kind(region.id) == "derivation":
            continue
        task = "".join(region.task.split())
        statements = _statements("".join(region.body))
        if course.kind(region.id) == "test":  # a student's own test: its answers are the values it expects
            statements = [statement for statement in statements if statement.startswith("expect(")]
        for statement in statements:
            if statement in given and _substantial(statement) and "".join(statement.split()) not in task:
                shown.append(f"{region.id}: {statement!r} is given code in {given[statement]}")
    assert shown == []


def test_the_course_student_package_imports(course, student_edition):
    modules = sorted(
        {
            p.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            for p in course.files
            if p.startswith(f"{PACKAGE}/") and p.endswith(".py")
        }
    )
    code = f"import importlib\nfor name in {modules!r}:\n    importlib.import_module(name)\nprint('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=student_edition,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(student_edition), "MPLBACKEND": "Agg"},
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_the_committed_exercise_map_is_current_and_catches_every_exercise(course):
    """tests/exercises.json ships with the student edition (make check reads it): it must match the course."""
    data = json.loads((ROOT / EXERCISE_MAP).read_text())
    assert data["fingerprint"] == course.fingerprint(), (
        f"{EXERCISE_MAP} is stale: the course's sources, tests or notebooks changed; "
        "run `make student` (it rebuilds the map, minutes) and commit the file"
    )
    assert problems(data) == []
    assert sorted(data["exercises"]) == sorted(course.ids)


def test_course_student_notebooks_stop_at_a_stub_naming_the_exercise(course, student_edition):
    for path in sorted(course.notebooks):
        records = execute_notebook(student_edition / path, student_edition, timeout=300, stop_on_error=True)
        assert records and not records[-1]["ok"], f"{path} ran to the end"
        assert "exercise " in records[-1]["error"], (path, records[-1])  # a stub, or compare given ...


def test_with_every_exercise_stubbed_no_test_of_the_map_fails_but_on_a_stub(course, student_edition, monkeypatch):
    """The course's unit tests, all of them once, in the edition as handed out: whatever test a stub
    reaches (another exercise's test, a test expecting a RuntimeError, a widget's callback, a replay),
    the self-check reads it as the stub (WAIT, or not attempted for the exercise's own), never FAIL."""
    from scratchlib.course import exercises

    exercise_tests = {e: x["tests"] for e, x in exercises.load_map(student_edition).items() if not x.get("cells")}
    tests = sorted({t for ts in exercise_tests.values() for t in ts})
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the edition's scratchlib, none other
    records = {r["nodeid"]: r for r in course_runner.run_tests(tests, student_edition, timeout=120)}
    failing = [
        f"{e} {t}: {records[t]['reason']}"
        for e, ts in exercise_tests.items()
        for t in ts
        if records[t]["outcome"] != "passed"
        and not exercises.other_stub(records[t]["reason"], e).startswith(("needs exercise ", course_runner.STUB))
    ]
    assert failing == []
    assert sum(r["reason"].startswith(course_runner.STUB) for r in records.values()) > len(tests) / 2


def test_each_library_exercise_done_alone_passes_its_own_tests_and_fails_none(course, tmp_path):
    """A student who has done only exercise k: its check shows no FAIL (whatever other test its code
    reaches waits for that exercise) and passes the tests that run k alone. The probe edition plays
    that student for each exercise in turn ("!k": k's solution, every other region its stub)."""
    from scratchlib.course import exercises

    data = json.loads((ROOT / EXERCISE_MAP).read_text())
    library = {e: x["tests"] for e, x in data["exercises"].items() if x["kind"] == "library"}
    write_edition(course, tmp_path / "probe", "probe")
    results = teacher_runner.run_tests(
        course, tmp_path / "probe", [], runs=[(t, f"!{e}") for e, ts in library.items() for t in ts]
    )
    failing, unchecked = [], []
    for e, ts in library.items():
        outcomes = {t: results[(t, f"!{e}")] for t in ts}
        failing += [
            f"{e} {t}: {r['reason']}"
            for t, r in outcomes.items()
            if r["outcome"] != "passed" and not exercises.other_stub(r["reason"], e).startswith("needs exercise ")
        ]
        own = [t for t in ts if data["reaches"].get(t) == [e]]
        if not own or not all(outcomes[t]["outcome"] == "passed" for t in own):
            unchecked.append(e)
    assert failing == []
    assert unchecked == []


def test_with_every_exercise_stubbed_no_checking_cell_fails_but_on_a_stub(course, student_edition):
    """Each notebook once, up to its last checking cell: a cell that reads what a stubbed cell left
    unfinished waits for that exercise too."""
    from scratchlib.course import exercises

    cells: dict[str, set] = {}
    for x in exercises.load_map(student_edition).values():
        for cell in x.get("cells", []):
            cells.setdefault(cell["notebook"], set()).add(cell["index"])
    failing = []
    for path, wanted in sorted(cells.items()):
        records = {
            r["index"]: r
            for r in execute_notebook(student_edition / path, student_edition, timeout=300, until=max(wanted))
        }
        for index in sorted(wanted):
            why = course_runner.cell_reason(records.get(index))
            if why and not why.startswith(course_runner.STUB):
                failing.append(f"{path} cell {index}: {why}")
    assert failing == []


def test_each_wrong_version_of_a_library_exercise_scores_0(course, tmp_path):
    """Issue 29, item 6: wrong formulas kept marks (4.19 without 1/B scored 0.76). The teacher's tools keep
    plausible wrong versions of the layer exercises of 04 and the engine's of 06 (teacher.wrong); graded
    by their own tests, each scores 0."""
    from teacher import wrong
    from teacher.grade import grade_all

    assert "1/B forgotten" in [what for what, _ in wrong.WRONG["4.19"]]
    assert set(wrong.WRONG) >= {f"4.{n}" for n in range(1, 21)} | {f"6.{n}" for n in range(3, 22)}
    data = json.loads((ROOT / EXERCISE_MAP).read_text())
    made = wrong.copies(course, tmp_path)
    graded = grade_all(
        course, data, [folder for folder, _ in made], timeout=30, jobs=2, notebooks="none", repeat=1, report=print
    )
    kept = []
    for folder, holds in made:
        rows = {r.exercise: r for r in graded[folder.name]}
        for exercise, what in sorted(holds.items()):
            row = rows[exercise]
            assert not row.reason.startswith(("not attempted", "your code does not compile")), (exercise, row.reason)
            if row.score:
                kept.append(f"{exercise} ({what}) scores {row.score}: {row.passed} of {row.total} own tests pass")
    assert kept == []
