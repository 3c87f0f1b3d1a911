"""The leak scan: no hand or prediction answer shows in the student edition (issue 27)."""

import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher import leaks  # noqa: E402
from teacher.__main__ import main  # noqa: E402
from teacher.edition import CLEAR_TAG, scan, write_edition  # noqa: E402

NB04 = "notebooks/04_full_library.ipynb"


@pytest.fixture(scope="module")
def course():
    return scan(ROOT)


@pytest.fixture(scope="module")
def edition(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("leaks") / "student"
    write_edition(course, out, "student")
    return out


def test_the_course_answers_are_read_from_its_prediction_regions(course):
    answers = {
        (a.exercise, a.name): a.values
        for cells in course.notebooks.values()
        for rs in cells.values()
        for r in rs
        for a in leaks.answers_of(r)
    }
    assert answers[("4.21", "predicted_dX")] == (4.0, -3.0, -4.0, 1.0)
    assert answers[("4.24", "predicted_db1")] == pytest.approx((2.5, 5 / 6, 5.375))
    assert not any(exercise == "1.1" for exercise, _ in answers)  # a code exercise has no answer values


def test_numbers_match_as_the_course_prints_them():
    assert leaks.matches("0.83333", 5 / 6) and leaks.matches("0.8333", 5 / 6) and leaks.matches("0.83333", 0.83333)
    assert not leaks.matches("0.8", 5 / 6)  # too few digits to give it away
    assert leaks.matches("4", 4.0) and not leaks.matches("4", 4.2) and not leaks.matches("0", 0.02)
    assert leaks.matches("-1.5", -1.5) and not leaks.matches("1.5", -1.5)


def test_the_student_edition_shows_no_answer_but_the_known_ones(course, edition):
    found = leaks.scan(course, edition)
    assert [str(leak) for leak in leaks.refused(found)] == []
    # every known leak is still there: a fixed one leaves the list, which only shrinks
    assert {(leak.exercise, leak.place) for leak in found} == set(leaks.KNOWN)
    assert len(leaks.KNOWN) <= 2  # it only shrinks: two test doubles that are 3.12's and 5.1's answer


def test_the_scan_catches_planted_leaks(course, edition, tmp_path):
    planted = tmp_path / "student"
    shutil.copytree(edition, planted)
    nb = nbformat.read(planted / NB04, as_version=4)
    cell = nb.cells[13]
    assert cell.cell_type == "code" and cell.outputs == []  # cleared in the edition: it shows 4.21's answer
    cell.outputs = [nbformat.v4.new_output("stream", text="dX  [4, -3, -4, 1]  [4, -3, -4, 1]  < 1e-9  yes\n")]
    nb.cells[12].source += "\n\nHint: `7.5 / 3`."
    nbformat.write(nb, planted / NB04)
    test = planted / "tests" / "test_linear.py"
    test.write_text(test.read_text() + '\n\ndef test_db1():\n    """db1 is (2.5, 0.83333, 5.375)."""\n')
    found = {(leak.exercise, leak.place): leak.shown for leak in leaks.refused(leaks.scan(course, planted))}
    assert found[("4.21", f"{NB04} cell 13 output")] == "predicted_dX = [4.0, -3.0, -4.0, 1.0] shown as 4, -3, -4"
    assert found[("4.24", f"{NB04} cell 12 (inline code)")].endswith("shown as `7.5 / 3`")
    assert found[("4.24", "tests/test_linear.py")].endswith("shown as 2.5, 0.83333, 5.375")
    # a source that computes an answer from hand-written arithmetic is read as its numbers
    assert leaks.find(leaks._divided("dX = (7, -2, -5)/64"), [leaks.Answer("6.58", "dx", (7 / 64, -2 / 64, -5 / 64))])
    assert leaks.find(
        leaks.evaluated("x = [[3 / 3 + 0.02, -0.875 / 3 - 0.04, 7.875 / 3 + 0.01]]"),
        [leaks.Answer("2.5", "dW2", (1.02, -0.33166666666666667, 2.635))],
    )


def test_the_scan_catches_a_solution_line_shown_elsewhere(course, edition, tmp_path):
    """A code exercise's answer is its lines: one in another cell or file of the student edition is a leak,
    unless it is short, stated by the exercise's own task, or one of the lines the course gives (GIVEN)."""
    lines = leaks.solution_lines(course)
    assert lines["buffers[child] = buffers[child] + child_grad"] == {"6.2"}  # comment and indentation set aside
    assert "p.data -= lr * p.grad" not in lines  # 2.3's task states it: its stub shows it to every student
    assert not set(leaks.GIVEN) & set(lines) and all(len(line) >= leaks.LINE for line in lines)
    planted = tmp_path / "student"
    shutil.copytree(edition, planted)
    test = planted / "tests" / "test_linear.py"
    test.write_text(
        test.read_text() + "\n\ndef double(buffers, child, child_grad):\n"
        "    buffers[child] = buffers[child]  +  child_grad   # the sum\n"
    )
    nb = nbformat.read(planted / NB04, as_version=4)
    nb.cells[12].source += "\n\n```python\ngenerator = torch.Generator().manual_seed(seed)\nnet.backward()\n```\n"
    nbformat.write(nb, planted / NB04)
    found = {(leak.exercise, leak.place): leak.shown for leak in leaks.refused(leaks.scan(course, planted))}
    assert found == {
        ("6.2", "tests/test_linear.py"): "the line 'buffers[child] = buffers[child] + child_grad' of its solution"
    }
    # in a notebook cell and a markdown code block too
    nb.cells[12].source += "\n```\n    buffers[child] = buffers[child] + child_grad\n```\n"
    nb.cells[30].source += "\nbuffers[child] = buffers[child] + child_grad\n"
    nbformat.write(nb, planted / NB04)
    found = {(leak.exercise, leak.place) for leak in leaks.refused(leaks.scan(course, planted))}
    assert {("6.2", f"{NB04} cell 12"), ("6.2", f"{NB04} cell 30")} < found


def test_a_self_check_output_kept_in_the_student_edition_is_a_leak(course, edition, tmp_path):
    """A cell that calls check.compare(..., exercise=...) shows the answer in its computed column: a kept
    output of it is a leak even where the answer is a count or a 0 or 1 that no scan of numbers can tell."""
    planted = tmp_path / "student"
    shutil.copytree(edition, planted)
    nb = nbformat.read(planted / NB04, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and 'exercise="4.21"' in c.source)
    nb.cells[index].outputs = [nbformat.v4.new_output("stream", text="dX  [1, 0]  [1, 0]  yes\n")]
    nbformat.write(nb, planted / NB04)
    found = {(leak.exercise, leak.place): leak.shown for leak in leaks.refused(leaks.scan(course, planted))}
    assert found[("4.21", f"{NB04} cell {index} output")] == "the output of its self-check"


def test_cells_tagged_to_clear_lose_their_outputs_in_the_student_edition_only(edition):
    course_nb = nbformat.read(ROOT / NB04, as_version=4)
    student_nb = nbformat.read(edition / NB04, as_version=4)
    tagged = [i for i, c in enumerate(course_nb.cells) if CLEAR_TAG in c.metadata.get("tags", [])]
    assert 13 in tagged and 78 in tagged
    assert all(course_nb.cells[i].outputs for i in tagged)  # the teacher's notebook keeps them
    assert not any(student_nb.cells[i].outputs for i in tagged)


def test_no_try_this_answer_shows_in_the_student_edition_of_any_notebook(edition):
    """A Try-this answer (`<details><summary>Answer`) is teacher-only; the student keeps the question and
    its hint (issue 28)."""
    answered = 0
    for path in sorted((ROOT / "notebooks").glob("0[1-6]_*.ipynb")):
        course = "".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        student = nbformat.read(edition / "notebooks" / path.name, as_version=4)
        shown = "".join(c.source for c in student.cells if c.cell_type == "markdown")
        answered += course.count("<summary>Answer")
        assert "<summary>Answer" not in shown, f"{path.name}: a Try-this answer shows in the student edition"
        assert shown.count("<summary>Hint") == course.count("<summary>Hint"), f"{path.name}: a hint went missing"
    assert answered >= 20  # the teacher's notebooks keep them


def test_make_student_refuses_to_finish_on_a_leak(tmp_path, capsys):
    from test_teacher import copy_fixture

    root = copy_fixture(tmp_path / "course")
    path = root / "notebooks" / "01_demo.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if "BEGIN SOLUTION 1.2" in text:
            cell["source"] = text.replace("predicted_3 = 1.5", "predicted_3 = 1.5\npredicted_x = 3.1416")
    path.write_text(json.dumps(nb, indent=1) + "\n")
    (root / "README.md").write_text((root / "README.md").read_text() + "\nPi is about 3.1416.\n")
    assert main(["--root", str(root), "student", "--no-map", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "error: exercise 1.2's answer is in README.md: predicted_x = [3.1416] shown as 3.1416" in err
    assert "shows 1 answer(s)" in err
