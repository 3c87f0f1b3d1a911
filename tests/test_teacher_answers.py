"""A hand value or prediction is numbers the student wrote: the self-check and the grader refuse
the notebook's own result (issue 27)."""

import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from scratchlib.course import answers
from scratchlib.course.exercises import run_check

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher.edition import EXERCISE_MAP, scan, write_edition  # noqa: E402
from teacher.grade import grade, load_map  # noqa: E402

COPIED = 'predicted_db2 = params3["b2"].grad.tolist()'


@pytest.mark.parametrize(
    "answer",
    [
        "x = 0.25",
        "x = [[0.25, 0.0, -0.5], [-0.125, 0.0, 0.25]]",
        "x = -(7.5 / 3)",
        "x = [1 / 8, 2 ** -3, 7 // 2, 3 * 0.5 - 1]",
        "x = math.log(3) / 2 + math.exp(-1) - math.sqrt(2) * math.pi",
        "x, y = 1.0, [2, 3]",
        "x = ...",
    ],
)
def test_numbers_written_by_hand_are_accepted(answer):
    assert answers.refusal(answer, ["x", "y"], "9.9") is None


@pytest.mark.parametrize(
    "answer, shown",
    [
        (COPIED.replace("predicted_db2", "x"), "params3['b2'].grad.tolist()"),
        ("x = b2_grad", "b2_grad"),
        ("x = net.layers[1].bias_grad", "net.layers[1].bias_grad"),
        ("x = grads[0]", "grads[0]"),
        ("x = [0.5, forward(X)[0]]", "forward(X)[0]"),
        ("x = float(3)", "float(3)"),
        ("x = math.log(y)", "y"),
        ("x, y = 1.0, other", "other"),
        ("x = 1.0\nx += z", "z"),
        ("x = 'half'", "'half'"),
    ],
)
def test_anything_else_is_refused_naming_what_was_written(answer, shown):
    message = answers.refusal(answer, ["x", "y"], "9.9")
    assert message is not None and message.startswith("exercise 9.9: ")
    assert f"write the numbers you worked out; `{shown}` is the notebook's own result" in message


def test_only_the_exercise_names_are_read():
    assert answers.refusal("z = forward(X)\nx = 0.5", ["x"]) is None


def test_every_prediction_of_the_course_is_read_and_accepted():
    """The course's own answers are literals; each notebook exercise is found by its compare call."""
    exercises = json.loads((ROOT / EXERCISE_MAP).read_text())["exercises"]
    read = 0
    for exercise, entry in exercises.items():
        if entry["cells"]:
            notebook = ROOT / entry["cells"][0]["notebook"]
            assert answers.notebook_refusal(notebook, exercise) is None, exercise
            source = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
            read += f'exercise="{exercise}"' in source
    assert read >= 20


def _student_notebook_02(root: Path, answer: str) -> None:
    """The course's notebook 02 as the student edition has it, with 2.4 answered by `answer`."""
    (root / "tests").mkdir(parents=True)
    shutil.copy(ROOT / EXERCISE_MAP, root / EXERCISE_MAP)
    (root / "notebooks").mkdir()
    path = next((ROOT / "notebooks").glob("02_*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "### BEGIN SOLUTION 2.4:" in cell.source:
            lines = cell.source.splitlines()
            begin = next(i for i, line in enumerate(lines) if "BEGIN SOLUTION 2.4" in line)
            end = next(i for i, line in enumerate(lines) if i > begin and "END SOLUTION" in line)
            cell.source = "\n".join([*lines[:begin], answer, *lines[end + 1 :]])
    nbformat.write(nb, root / "notebooks" / path.name)


def test_make_check_refuses_the_notebooks_own_result_as_an_answer(tmp_path):
    _student_notebook_02(tmp_path, COPIED)
    said: list[str] = []
    assert run_check("2.4", tmp_path, out=said.append) is False
    report = "\n".join(said)
    assert "write the numbers you worked out; `params3['b2'].grad.tolist()` is the notebook's own result" in report
    assert "0 of 1 passed" in report


# ---------------------------------------------------------------- the grader, on the fixture course

PREDICTION = (
    "def compare(answer, truth, exercise):\n"
    "    assert answer == truth, exercise\n"
    'compare([predicted_8, predicted_3], [halve(8), halve(3)], exercise="1.2")\n'
)


@pytest.fixture(scope="module")
def course_with_a_checked_prediction(tmp_path_factory):
    """The fixture course whose prediction 1.2 is checked by a compare(..., exercise="1.2") call."""
    from test_teacher import copy_fixture

    root = copy_fixture(tmp_path_factory.mktemp("course"))
    path = root / "notebooks" / "01_demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "BEGIN SOLUTION 1.2" in c.source)
    cell.source += "\n" + PREDICTION
    nbformat.write(nb, path)
    course = scan(root)
    data = load_map(course, root / EXERCISE_MAP, timeout=60)
    student = tmp_path_factory.mktemp("student") / "student"
    write_edition(course, student, "student")
    return course, data, student


def _answered(student: Path, target: Path, answer: str) -> Path:
    shutil.copytree(student, target)
    path = target / "notebooks" / "01_demo.ipynb"
    text = path.read_text()
    stub = "predicted_8, predicted_3 = ..., ...  # exercise 1.2: predict halve(8) and halve(3)"
    assert stub in text
    path.write_text(text.replace(stub, answer))
    return target


def test_the_grader_scores_a_copied_prediction_0_with_the_reason(course_with_a_checked_prediction, tmp_path):
    course, data, student = course_with_a_checked_prediction
    copied = _answered(student, tmp_path / "copied", "predicted_8, predicted_3 = halve(8), halve(3)")
    row = next(r for r in grade(course, data, copied, timeout=60) if r.exercise == "1.2")
    assert (row.passed, row.total) == (0, 1)
    assert "write the numbers you worked out; `halve(8)` is the notebook's own result" in row.reason
    written = _answered(student, tmp_path / "written", "predicted_8, predicted_3 = 8 / 2, 3 / 2")
    row = next(r for r in grade(course, data, written, timeout=60) if r.exercise == "1.2")
    assert (row.passed, row.total, row.reason) == (1, 1, "")
