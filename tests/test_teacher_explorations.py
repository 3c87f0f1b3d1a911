"""Notebook 05's explorations of width and initial scale are graded predictions (issue 28).

The lab handouts ask the student to vary the width and the initial scale and explain what happens.
Here each is a prediction written as literal numbers before the run: 5.52 (how many tanh units
circles and xor need) and 5.53 (the loss and accuracy before training at four initial scales). The
tests run the cells of each in this process, from the notebook itself: the course's own answer
passes, a wrong literal fails without the table that would give the answer away, and the student
edition's stub says the exercise is not done; the student edition shows neither the answer nor the
run's outputs nor the teacher's notes. The claims are checked here with room for other CPUs, not in
the notebook, whose cells the student reads (a test of the teacher's: it ships only in the teacher's
edition).
"""

import ast
import copy
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

from scratchlib.course.runner import ExerciseNotDone

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from teacher.edition import edition_file, scan  # noqa: E402

NB05 = "notebooks/05_training.ipynb"
# the markers in pieces: the student edition's scan reads this file
BEGIN_REGION, END_REGION, TEACHER = "BEGIN" + " SOLUTION", "END" + " SOLUTION", "TEACHER" + " ONLY"
# exercise -> the names its answer sets, and what the run it is compared with needs beyond the imports
EXPLORATIONS = {
    "5.52": (["predicted_width_circles", "predicted_width_xor"], []),
    "5.53": (
        ["predicted_start_near_equal_logits", "predicted_start_tenfold_at_10", "predicted_accuracy_moves_with_scale"],
        ['mnist.load_mnist("train")'],
    ),
}


def course_cells():
    return nbformat.read(ROOT / NB05, as_version=4).cells


def index_of(cells, text):
    (index,) = [i for i, c in enumerate(cells) if c.cell_type == "code" and text in c.source]
    return index


def span(cells, exercise):
    """The indices of the exercise's answer cell, through to its self-check cell."""
    return index_of(cells, f"{BEGIN_REGION} {exercise}:"), index_of(cells, f'exercise="{exercise}"')


@pytest.fixture(scope="module")
def student05():
    raw = edition_file(scan(ROOT), NB05, "student").decode("utf-8")
    return nbformat.reads(raw, as_version=4).cells


@pytest.fixture(scope="module", params=sorted(EXPLORATIONS))
def ran(request):
    """Each exercise's cells run with the course's answer: (exercise, namespace before its check, check source)."""
    exercise = request.param
    _, needs = EXPLORATIONS[exercise]
    cells = course_cells()
    first, last = span(cells, exercise)
    setup = [index_of(cells, "notebook.setup()")] + [index_of(cells, text) for text in needs]
    namespace: dict = {}
    for index in [*setup, *range(first, last)]:
        if cells[index].cell_type == "code":
            exec(compile(cells[index].source, f"{NB05} cell {index}", "exec"), namespace)
    plt.close("all")
    return exercise, namespace, cells[last].source


def answers(exercise):
    """The course's answer to an exercise: name -> literal value, read from its region."""
    cells = course_cells()
    tree = ast.parse(cells[span(cells, exercise)[0]].source)
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)}


def check(namespace, source, **answer):
    scope = copy.copy(namespace)
    scope.update(answer)
    exec(compile(source, "self-check", "exec"), scope)


def test_each_answer_is_literal_numbers_for_the_names_the_text_asks_for():
    for exercise, (names, _) in EXPLORATIONS.items():
        given = answers(exercise)
        assert list(given) == names, exercise
        assert all(set(v if isinstance(v, list) else [v]) <= {0, 1} for v in given.values()), exercise


def test_the_courses_answer_passes_its_self_check(ran):
    exercise, namespace, source = ran
    check(namespace, source, **answers(exercise))


def test_the_runs_decide_with_room_for_other_cpus(ran):
    """What each run measured on two kernel paths, with a margin around the threshold it is compared with."""
    exercise, namespace, _ = ran
    if exercise == "5.52":  # measured: circles 56-68% (1 unit), 78-83% (2), 97.5% and up (3, 8); xor 75%, then 100%
        accuracy = namespace["width_accuracy"]
        assert max(accuracy["circles", 1]) < 0.8 and max(accuracy["circles", 2]) < 0.9
        assert min(min(accuracy["circles", w]) for w in (3, 8)) > 0.96
        assert max(accuracy["xor", 1]) < 0.8 and min(min(accuracy["xor", w]) for w in (2, 3, 8)) > 0.98
    else:  # measured: 2.303, 2.302, 2.338 and 52.2 against 2.303 for equal logits; the accuracy 13.5% everywhere
        start, equal = namespace["start_by_scale"], namespace["equal_logits_loss"]
        assert all(abs(start[s][0] - equal) < 0.05 for s in (0.01, 0.1, 1.0))
        assert start[10.0][0] > 15 * start[1.0][0]
        accuracies = [a for _, a in start.values()]
        assert max(accuracies) - min(accuracies) < 0.001


def test_a_wrong_literal_fails_naming_the_row_not_the_answer(ran):
    exercise, namespace, source = ran
    given = answers(exercise)
    first = next(iter(given))
    wrong = dict(given)
    wrong[first] = [1 - v for v in given[first]] if isinstance(given[first], list) else 1 - given[first]
    with pytest.raises(AssertionError) as failed:
        check(namespace, source, **wrong)
    message = str(failed.value)
    assert message.startswith(f"exercise {exercise}: mismatch in ")
    assert "the right values are shown once every entry matches" in message
    assert str(given[first]) not in message  # the table with the computed column is not shown


def test_the_student_editions_stub_says_not_done(ran, student05):
    exercise, namespace, source = ran
    (stub,) = [c.source for c in student05 if c.cell_type == "code" and f"# exercise {exercise}:" in c.source]
    scope = copy.copy(namespace)
    exec(compile(stub, "stub", "exec"), scope)
    with pytest.raises(ExerciseNotDone, match=f"exercise {exercise} is not done yet"):
        exec(compile(source, "self-check", "exec"), scope)


@pytest.mark.parametrize("exercise", sorted(EXPLORATIONS))
def test_the_student_edition_shows_no_answer_run_or_notes(exercise, student05):
    cells = course_cells()
    first, last = span(cells, exercise)
    assert len(student05) == len(cells)
    assert END_REGION not in student05[first].source
    for index in range(first + 1, last + 1):  # the run and its self-check: the tables give the answer
        assert cells[index].outputs, f"cell {index} has outputs in the course"
        assert not student05[index].outputs, f"cell {index} shows its outputs in the student edition"
    notes = cells[last + 1].source
    assert f"BEGIN {TEACHER}" in notes
    shown = " ".join(student05[last + 1].source.split())
    assert TEACHER not in shown and "explain each one you got wrong" in shown
    question = student05[first - 1].source
    assert f"> **Exercise {exercise}**" in question and "<summary>Hint</summary>" in question
    for value in answers(exercise).values():
        if isinstance(value, list):
            assert str(value) not in question and str(value) not in shown
